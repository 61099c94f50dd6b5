package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/storage/sqlite"
)

// TestFileModes: the database and its -wal and -shm files are 0600 when
// the directory exists already, and an existing world-readable database is
// restricted when it is opened.
func TestFileModes(t *testing.T) {
	dir := t.TempDir() // exists already, mode 0700 or 0755
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "dingoidc.db")
	check := func(when string) {
		t.Helper()
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			if m := st.Mode().Perm(); m&0o077 != 0 {
				t.Errorf("%s: %s has mode %#o", when, filepath.Base(p), m)
			}
		}
	}
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := st.AppendAudit(t.Context(), &storage.AuditEvent{Time: now, Actor: "test", Action: "a", Target: "t"}); err != nil {
		t.Fatal(err)
	}
	check("new database") // -wal and -shm exist while it is open
	st.Close()

	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o644); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	st, err = sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.AppendAudit(t.Context(), &storage.AuditEvent{Time: now, Actor: "test", Action: "b", Target: "t"}); err != nil {
		t.Fatal(err)
	}
	check("reopened world-readable database")
}
