package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/storage/storagetest"
)

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		return openTest(t)
	})
}

// openTest opens a store on a fresh file that is closed when t ends.
func openTest(t testing.TB) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestMigrationStatus(t *testing.T) {
	s := openTest(t)
	status, err := s.MigrationStatus(t.Context())
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	if len(status) == 0 {
		t.Fatal("no migrations")
	}
	for _, m := range status {
		if !m.Applied || m.AppliedAt.IsZero() || m.AppliedAt.Location() != time.UTC {
			t.Errorf("migration %d (%s) after Open: applied %v at %v", m.Version, m.Source, m.Applied, m.AppliedAt)
		}
	}
	if first := status[0]; first.Version != 1 || first.Source != "00001_init.sql" {
		t.Errorf("first migration = %d %q, want 1 00001_init.sql", first.Version, first.Source)
	}
	if err := s.MigrateUp(t.Context()); err != nil {
		t.Errorf("MigrateUp with nothing pending: %v", err)
	}
}

// Data survives closing and opening the file again (migrations already
// applied).
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	if err := s.CreateClient(t.Context(), &storage.Client{ID: "grafana", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s, err = Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open again: %v", err)
	}
	defer s.Close()
	if _, err := s.GetClient(t.Context(), "grafana"); err != nil {
		t.Errorf("GetClient after reopening: %v", err)
	}
}

func TestOpenInvalidPath(t *testing.T) {
	for _, path := range []string{"", ":memory:", "db.sqlite?mode=ro"} {
		if s, err := Open(t.Context(), path); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}
