package pgtest

import "testing"

func TestDSNRewriting(t *testing.T) {
	tests := []struct {
		name, dsn, wantDB, wantParam string
	}{
		{
			name:      "url",
			dsn:       "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
			wantDB:    "postgres://postgres@127.0.0.1:5432/x?sslmode=disable",
			wantParam: "postgres://postgres@127.0.0.1:5432/postgres?search_path=s&sslmode=disable",
		},
		{
			name:      "url without database",
			dsn:       "postgresql://u:p@db",
			wantDB:    "postgresql://u:p@db/x",
			wantParam: "postgresql://u:p@db?search_path=s",
		},
		{
			name:      "key=value",
			dsn:       "host=127.0.0.1 user=postgres dbname=postgres",
			wantDB:    "host=127.0.0.1 user=postgres dbname=postgres dbname=x",
			wantParam: "host=127.0.0.1 user=postgres dbname=postgres search_path=s",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := withDatabase(tt.dsn, "x"); got != tt.wantDB {
				t.Errorf("withDatabase = %q, want %q", got, tt.wantDB)
			}
			if got := withParam(tt.dsn, "search_path", "s"); got != tt.wantParam {
				t.Errorf("withParam = %q, want %q", got, tt.wantParam)
			}
		})
	}
}

// NewDatabase and NewSchema give a usable, empty database and schema.
func TestNewDatabaseAndSchema(t *testing.T) {
	db := NewDatabase(t)
	schema := NewSchema(t, db)
	conn := connect(t.Context(), t, schema)
	defer conn.Close(t.Context())
	var path string
	var tables int
	err := conn.QueryRow(t.Context(),
		`SELECT current_schema(), (SELECT count(*) FROM pg_tables WHERE schemaname = current_schema())`,
	).Scan(&path, &tables)
	if err != nil {
		t.Fatal(err)
	}
	if path[:2] != "s_" || tables != 0 {
		t.Errorf("current_schema() = %q with %d tables, want a fresh s_… schema", path, tables)
	}
}
