package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWarnReadableSecrets: serve warns about a group- or world-readable
// SQLite file or master key file, and says nothing when they are 0600.
func TestWarnReadableSecrets(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "dingoidc.db")
	key := filepath.Join(dir, "master-key")
	for _, p := range []string{db, key} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := &FileConfig{Storage: StorageConfig{Driver: "sqlite", Path: db}, SecretKeyFile: key}
	warnings := func() string {
		var buf bytes.Buffer
		warnReadableSecrets(cfg, slog.New(slog.NewTextHandler(&buf, nil)))
		return buf.String()
	}
	if out := warnings(); out != "" {
		t.Errorf("warnings for 0600 files:\n%s", out)
	}
	for _, p := range []string{db, key} {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := warnings()
	for _, want := range []string{"path=" + db + " mode=0644", "path=" + key + " mode=0644", "master key file is readable"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}
