package postgres_test

import (
	"database/sql"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/dingoidc/dingoidc/migrations"
	"github.com/dingoidc/dingoidc/storage/postgres/pgtest"
)

func gooseProvider(t *testing.T, dsn string) (*goose.Provider, *sql.DB) {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { db.Close() })
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.Postgres())
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
	dsn := pgtest.NewDatabase(t)
	p, db := gooseProvider(t, dsn)
	if _, err := p.UpTo(ctx, 1); err != nil {
		t.Fatalf("UpTo(1): %v", err)
	}
	login := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	if _, err := db.ExecContext(ctx, `INSERT INTO clients (id, redirect_uris, upstreams, created_at, updated_at)
		VALUES ('grafana', '{https://g/cb}', '{zzd}', now(), now())`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO users (id, upstream, external_id, created_at, updated_at, last_login_at)
		VALUES ('zzd_1', 'zzd', '1', now(), now(), $1)`, login); err != nil {
		t.Fatal(err)
	}

	s := openStore(t, dsn)
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

	if _, err := p.DownTo(ctx, 1); err != nil {
		t.Fatalf("DownTo(1): %v", err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("Up after down: %v", err)
	}
}
