package main

import (
	"testing"

	"github.com/dingoidc/dingoidc/storage/postgres/pgtest"
)

// TestMigrateStatusAppliesNothing: on a new database `migrate status`
// lists every migration as pending, twice (the first applied none), then
// `migrate up` applies them all and status says so; on both backends.
func TestMigrateStatusAppliesNothing(t *testing.T) {
	backends := map[string]func(t *testing.T) fakeEnv{
		"sqlite": storeEnv,
		"postgres": func(t *testing.T) fakeEnv {
			return fakeEnv{"DINGOIDC_STORAGE_DRIVER": "postgres", "DINGOIDC_STORAGE_DSN": pgtest.NewDatabase(t)}
		},
	}
	for name, newEnv := range backends {
		t.Run(name, func(t *testing.T) {
			env := newEnv(t)
			for range 2 {
				states := decodeJSON[[]migrationView](t, mustRun(t, env, "migrate", "status", "--json").stdout)
				if len(states) == 0 {
					t.Fatal("no migrations listed")
				}
				for _, s := range states {
					if s.Applied || s.AppliedAt != "" {
						t.Fatalf("migrate status applied (or reports applied) %+v", s)
					}
				}
			}
			mustRun(t, env, "migrate", "up")
			states := decodeJSON[[]migrationView](t, mustRun(t, env, "migrate", "status", "--json").stdout)
			for _, s := range states {
				if !s.Applied || s.AppliedAt == "" {
					t.Errorf("after migrate up: %+v", s)
				}
			}
		})
	}
}
