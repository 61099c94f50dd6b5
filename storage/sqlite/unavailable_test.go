package sqlite

import (
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

// faultUser is a write that every login makes.
func faultUser() *storage.User {
	now := time.Now()
	return &storage.User{ID: "zzd_1", Upstream: "zzd", ExternalID: "1", Claims: []byte(`{}`), CreatedAt: now, UpdatedAt: now, LastLoginAt: now}
}

// TestLockedDatabaseIsUnavailable: another connection holds the write
// lock past busy_timeout; the write fails with storage.ErrUnavailable
// (idp answers 503), not with a driver error idp would call a bug.
func TestLockedDatabaseIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	other, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}

	db, err := sql.Open("sqlite", dsnWith(path, 200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	st, err := newStore(t.Context(), db, false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.UpsertUser(t.Context(), faultUser()); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("write under a held lock: %v, want ErrUnavailable", err)
	}
	if _, err := conn.ExecContext(t.Context(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.UpsertUser(t.Context(), faultUser()); err != nil {
		t.Fatalf("write once the lock is released: %v", err)
	}
}

// TestReadOnlyDatabaseIsUnavailable: a database that cannot be written
// (SQLITE_READONLY) is unavailable too, while reads go on.
func TestReadOnlyDatabaseIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpsertUser(t.Context(), faultUser()); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Root ignores file modes, so the file is opened read-only instead.
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	st, err := newStore(t.Context(), db, false)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.GetUser(t.Context(), "zzd_1"); err != nil {
		t.Fatalf("read from a read-only file: %v", err)
	}
	if _, err := st.UpsertUser(t.Context(), faultUser()); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("write to a read-only file: %v, want ErrUnavailable", err)
	}
}
