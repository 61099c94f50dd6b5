package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/storage/postgres"
	"github.com/dingoidc/dingoidc/storage/postgres/pgtest"
	"github.com/dingoidc/dingoidc/storage/storagetest"
)

// openStore opens a store on dsn, closed when t ends.
func openStore(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the suite in one fresh database, giving every subtest
// a fresh schema of its own (creating a database per subtest costs up to
// seconds on a busy server; a schema costs milliseconds and isolates as well).
func TestConformance(t *testing.T) {
	db := pgtest.NewDatabase(t)
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return openStore(t, pgtest.NewSchema(t, db))
	})
}

// Replicas starting together on a fresh database: every Open succeeds and
// each migration is applied exactly once.
func TestConcurrentMigrate(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	const replicas = 4
	stores := make([]*postgres.Store, replicas)
	errs := make([]error, replicas)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() {
			<-start
			stores[i], errs[i] = postgres.Open(t.Context(), dsn)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("replica %d: Open: %v", i, err)
			continue
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	if t.Failed() {
		t.FailNow()
	}

	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, _ := conn.Query(t.Context(),
		`SELECT version_id, count(*) FROM goose_db_version GROUP BY version_id ORDER BY version_id`)
	applied := map[int64]int64{}
	var version, count int64
	_, err = pgx.ForEachRow(rows, []any{&version, &count}, func() error {
		applied[version] = count
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	status, err := stores[0].MigrationStatus(t.Context())
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	if len(status) == 0 {
		t.Fatal("MigrationStatus lists no migration")
	}
	for _, m := range status {
		if !m.Applied || m.AppliedAt.IsZero() || m.Source == "" {
			t.Errorf("migration %+v not applied", m)
		}
		if n := applied[m.Version]; n != 1 {
			t.Errorf("migration %d (%s) recorded %d times, want 1", m.Version, m.Source, n)
		}
	}
	if n := applied[0]; n != 1 {
		t.Errorf("goose's version 0 recorded %d times, want 1", n)
	}

	// Migrating an up-to-date database is a no-op.
	if err := stores[1].MigrateUp(t.Context()); err != nil {
		t.Errorf("MigrateUp (up to date): %v", err)
	}
}

// An unreachable database is storage.ErrUnavailable, quickly.
func TestUnavailable(t *testing.T) {
	refused := func(t *testing.T) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close() // nothing listens there any more
		return addr
	}
	silent := func(t *testing.T) string {
		// Accepts connections and never answers.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		var conns []net.Conn
		var mu sync.Mutex
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
		t.Cleanup(func() {
			l.Close()
			mu.Lock()
			defer mu.Unlock()
			for _, c := range conns {
				c.Close()
			}
		})
		return l.Addr().String()
	}
	tests := []struct {
		name string
		addr func(t *testing.T) string
	}{
		{"connection refused", refused},
		{"no answer", silent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dsn := fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable&connect_timeout=1", tt.addr(t))
			start := time.Now()
			s, err := postgres.Open(t.Context(), dsn)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, storage.ErrUnavailable) {
				t.Errorf("Open: err = %v, want %v", err, storage.ErrUnavailable)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Open took %v to fail", d)
			}
		})
	}
}

// A call that times out is storage.ErrUnavailable; the store is fine after.
func TestUnavailableTimeout(t *testing.T) {
	s := openStore(t, pgtest.NewDatabase(t))
	ctx, cancel := context.WithTimeout(t.Context(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	_, err := s.GetUser(ctx, "zzd_1001")
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("GetUser past the deadline: err = %v, want %v", err, storage.ErrUnavailable)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// When the server drops the store's connections (restart, failover), the
// call that meets a dead connection is storage.ErrUnavailable (or already
// succeeds on a fresh one) and the store recovers by itself.
func TestConnectionsKilled(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	s := openStore(t, dsn)
	ctx := t.Context()
	if _, err := s.UpsertUser(ctx, user("1")); err != nil {
		t.Fatal(err)
	}
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUser(ctx, "zzd_1"); err != nil && !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("GetUser on a killed connection: err = %v, want nil or %v", err, storage.ErrUnavailable)
	}
	if _, err := s.GetUser(ctx, "zzd_1"); err != nil {
		t.Errorf("GetUser after reconnecting: %v", err)
	}
}

// The store's sessions are READ COMMITTED even where the database defaults
// to SERIALIZABLE.
func TestReadCommitted(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	var db string
	if err := conn.QueryRow(t.Context(), `SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), `ALTER DATABASE `+db+` SET default_transaction_isolation = 'serializable'`); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())

	s := openStore(t, dsn)
	if level := postgres.TransactionIsolation(s, t); level != "read committed" {
		t.Errorf("transaction isolation = %q, want read committed", level)
	}
}
