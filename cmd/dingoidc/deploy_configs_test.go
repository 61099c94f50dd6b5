package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dingoidc/dingoidc/idp/keys"
)

// TestKubernetesConfig: deploy/kubernetes/config.yaml, with the files and
// variables the Deployment gives it, passes `config check`.
func TestKubernetesConfig(t *testing.T) {
	src, err := os.ReadFile("../../deploy/kubernetes/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"upstreams/zzd-secret":  "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0",
		"dsn/dsn":               "postgres://dingoidc:pw@postgres.db:5432/dingoidc",
		"master-key/master-key": keys.GenerateMasterKey(),
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := writeFile(t, "config.yaml", strings.ReplaceAll(string(src), "/run/secrets/dingoidc/", dir+"/"))
	r := mustRun(t, fakeEnv{
		"DINGOIDC_STORAGE_DRIVER":   "postgres",
		"DINGOIDC_STORAGE_DSN_FILE": filepath.Join(dir, "dsn/dsn"),
		"DINGOIDC_SECRET_KEY_FILE":  filepath.Join(dir, "master-key/master-key"),
	}, "config", "check", "--config", cfg)
	if !strings.Contains(r.stdout, "config OK") || strings.Contains(r.stdout, "A1b2C3") {
		t.Errorf("config check: %s", r.stdout)
	}
}

// TestPackageConfig: the /etc/dingoidc/config.yaml the packages install is
// valid as it stands except for what the operator must supply: upstreams
// and the TLS certificate (README.md, "Packages").
func TestPackageConfig(t *testing.T) {
	src, err := os.ReadFile("../../deploy/packaging/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "master-key")
	if err := os.WriteFile(keyFile, []byte(keys.GenerateMasterKey()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(src), "/etc/dingoidc/master-key", keyFile)
	text = strings.ReplaceAll(text, "/etc/dingoidc/tls/", dir+"/tls/")
	text = strings.ReplaceAll(text, "/var/lib/dingoidc", dir)
	cfg := writeFile(t, "config.yaml", text)
	r := runCLI(t, fakeEnv{}, "config", "check", "--config", cfg)
	got := problems(t, r.err)
	if len(got) != 2 || !strings.Contains(got[0], "tls_cert_file, tls_key_file") || !strings.Contains(got[1], "upstreams: at least one upstream") {
		t.Fatalf("problems of the package's config: %q, want the TLS files and the upstreams only", got)
	}

	// With a certificate and an upstream, it checks.
	if err := os.Mkdir(filepath.Join(dir, "tls"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeCert(t, filepath.Join(dir, "tls", "cert.pem"), filepath.Join(dir, "tls", "key.pem"), "sso.example.gov.cn")
	text = strings.Replace(text, "upstreams: []", "upstreams:\n  - {id: dev, type: dev}", 1)
	mustRun(t, fakeEnv{}, "config", "check", "--dev", "--config", writeFile(t, "config.yaml", text))
}
