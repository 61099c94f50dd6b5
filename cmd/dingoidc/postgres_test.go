package main

import (
	"strings"
	"testing"

	"github.com/dingoidc/dingoidc/storage/postgres/pgtest"
)

// TestPostgres runs commands against Postgres, the DSN from a file named by
// the environment (skipped without a server, see pgtest).
func TestPostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	env := fakeEnv{
		"DINGOIDC_STORAGE_DRIVER":   "postgres",
		"DINGOIDC_STORAGE_DSN_FILE": writeFile(t, "dsn", dsn+"\n"),
	}
	r := mustRun(t, env, "migrate", "status") // reports, applies nothing (migrate_status_test.go)
	if !strings.Contains(r.stdout, "pending") {
		t.Errorf("migrate status:\n%s", r.stdout)
	}
	createdSecret(t, mustRun(t, env, "client", "create", "--id", "app", "--redirect-uri", "https://app.example/cb"))
	if r := mustRun(t, env, "client", "list"); !strings.Contains(r.stdout, "app") {
		t.Errorf("client list:\n%s", r.stdout)
	}
}
