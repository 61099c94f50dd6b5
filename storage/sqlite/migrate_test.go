package sqlite

import (
	"database/sql"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/dingoidc/dingoidc/migrations"
)

// sqliteProvider returns a goose provider on the file at path.
func sqliteProvider(t *testing.T, path string) (*goose.Provider, *sql.DB) {
	t.Helper()
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p, err := goose.NewProvider(goose.DialectSQLite3, db, migrations.SQLite(), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	return p, db
}

// A database holding data from before 00002_admin migrates: clients get
// version 1 and no policies, users' LastCheckedAt is their last login; and
// the migration goes down and up again.
func TestMigrateAdmin(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "db.sqlite")
	p, db := sqliteProvider(t, path)
	if _, err := p.UpTo(ctx, 1); err != nil {
		t.Fatalf("UpTo(1): %v", err)
	}
	login := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	for _, q := range []string{
		`INSERT INTO clients (id, redirect_uris, upstreams, created_at, updated_at)
			VALUES ('grafana', '["https://g/cb"]', '["zzd"]', 1, 1)`,
		`INSERT INTO users (id, upstream, external_id, created_at, updated_at, last_login_at)
			VALUES ('zzd_1', 'zzd', '1', 1, 1, ?)`,
	} {
		var args []any
		if strings.Contains(q, "?") {
			args = []any{login.UnixNano()}
		}
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open (migrating): %v", err)
	}
	c, err := s.GetClient(ctx, "grafana")
	if err != nil {
		t.Fatalf("GetClient: %v", err)
	}
	if c.Version != 1 || c.AllowedGroups != nil || c.AllowedTenants != nil || c.LegacyAPI ||
		!slices.Equal(c.Upstreams, []string{"zzd"}) {
		t.Errorf("migrated client = %+v", c)
	}
	u, err := s.GetUser(ctx, "zzd_1")
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if !u.LastCheckedAt.Equal(login) {
		t.Errorf("migrated user: LastCheckedAt %v, want the last login %v", u.LastCheckedAt, login)
	}
	s.Close()

	p, _ = sqliteProvider(t, path)
	if _, err := p.DownTo(ctx, 1); err != nil {
		t.Fatalf("DownTo(1): %v", err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("Up after down: %v", err)
	}
}
