// Package pgtest gives tests a fresh, empty PostgreSQL database, or a fresh
// schema in one (much cheaper where a test needs many isolated stores).
//
// It connects to the server named by DINGOIDC_TEST_POSTGRES (a DSN with
// rights to create databases), by default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable. When the
// server cannot be reached the test is skipped, unless CI=true, where it
// fails: CI must never pass by skipping the Postgres tests.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultDSN is the server used when DINGOIDC_TEST_POSTGRES is not set.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// EnvDSN names the environment variable holding the server's DSN.
const EnvDSN = "DINGOIDC_TEST_POSTGRES"

// NewDatabase creates a database with a random name (dingoidc_pg_<hex>) and
// returns its DSN; t.Cleanup drops it, disconnecting whoever still uses it.
// The database is empty: postgres.Open migrates it.
func NewDatabase(t testing.TB) (dsn string) {
	t.Helper()
	admin := AdminDSN()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := connect(ctx, t, admin)
	defer conn.Close(ctx)

	name := "dingoidc_pg_" + randomHex(8)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(admin, name)
}

// NewSchema creates a schema with a random name (s_<hex>) in the database dsn
// names and returns dsn with search_path set to it, so that every unqualified
// table (goose's version table included) lives there; t.Cleanup drops it.
// Stores opened on two such DSNs share nothing but the server (and goose's
// advisory lock, which only serializes their migrations).
func NewSchema(t testing.TB, dsn string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn := connect(ctx, t, dsn)
	defer conn.Close(ctx)

	name := "s_" + randomHex(8)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("pgtest: create schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+name+" CASCADE"); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", name, err)
		}
	})
	return withParam(dsn, "search_path", name)
}

// AdminDSN returns the DSN of the server the tests use.
func AdminDSN() string {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return dsn
	}
	return DefaultDSN
}

// connect opens an administrative connection, skipping the test (failing it
// under CI=true) when the server is unreachable.
func connect(ctx context.Context, t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("pgtest: %s: %v", EnvDSN, err)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		msg := "pgtest: PostgreSQL unreachable (set " + EnvDSN + " to a server where the tests may create databases): " + err.Error()
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return conn
}

// withDatabase returns dsn with its database replaced by name.
func withDatabase(dsn, name string) string {
	if u, ok := parseURL(dsn); ok {
		u.Path = "/" + name
		u.RawPath = ""
		return u.String()
	}
	return dsn + " dbname=" + name // key=value form: a later keyword wins
}

// withParam returns dsn with one more setting (names and values here need no
// quoting).
func withParam(dsn, key, value string) string {
	if u, ok := parseURL(dsn); ok {
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + key + "=" + value
}

func parseURL(dsn string) (*url.URL, bool) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return nil, false
	}
	u, err := url.Parse(dsn)
	return u, err == nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
