package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dingoidc/dingoidc/idp/keys"
)

// TestExampleConfig: deploy/config.example.yaml, as docker-compose.yml
// runs it (secrets mounted under /run/secrets, DSN and master key from the
// environment), passes `config check`.
func TestExampleConfig(t *testing.T) {
	src, err := os.ReadFile("../../deploy/config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, secret := range map[string]string{
		"zzd-secret": "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0",
		"dt-secret":  "dingtalk-app-secret-from-the-open-platform",
		"grafana":    "grafana-client-secret-0123456789",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(string(src), "/run/secrets/", dir+"/")), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"DINGOIDC_STORAGE_DSN": "postgres://postgres:dingoidc@postgres:5432/dingoidc?sslmode=disable",
		"DINGOIDC_SECRET_KEY":  keys.GenerateMasterKey(),
	}
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"config", "check", "--config", cfg}, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("the example config does not check: %v\n%s%s", err, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "config OK") {
		t.Errorf("config check said: %s", out.String())
	}
	if strings.Contains(out.String(), "A1b2C3d4E5f6") || strings.Contains(out.String(), "grafana-client-secret") {
		t.Error("config check printed a secret")
	}
}
