package main

import (
	"strings"
	"testing"
)

func TestMigrate(t *testing.T) {
	env := storeEnv(t)
	r := mustRun(t, env, "migrate", "up")
	if !strings.Contains(r.stdout, "database schema is at version") {
		t.Errorf("migrate up: %q", r.stdout)
	}
	r = mustRun(t, env, "migrate", "status")
	if !strings.Contains(r.stdout, "VERSION") || !strings.Contains(r.stdout, "00001_init.sql") || !strings.Contains(r.stdout, "applied") {
		t.Errorf("migrate status:\n%s", r.stdout)
	}
	states := decodeJSON[[]migrationView](t, mustRun(t, env, "migrate", "status", "--json").stdout)
	if len(states) == 0 {
		t.Fatal("no migrations")
	}
	for _, s := range states {
		if !s.Applied || s.AppliedAt == "" || s.Source == "" {
			t.Errorf("migration %+v", s)
		}
	}
}
