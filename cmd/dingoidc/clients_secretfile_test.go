package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An app moving over from an old SSO service keeps its key and secret
// (issue 12): client create --id KEY --secret-file PATH --legacy-api.
func TestClientCreateSecretFile(t *testing.T) {
	env := storeEnv(t)
	const old = "ab+/=%76 legacy secret" // old secrets may hold any character
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(old+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := mustRun(t, env, "client", "create", "--id", "oa-app-key", "--secret-file", path,
		"--legacy-api", "--redirect-uri", "https://oa.example/sso/callback")
	if out := r.stdout + r.stderr; strings.Contains(out, old) {
		t.Errorf("the operator's secret was printed:\n%s", out)
	}
	cl, err := openTestStore(t, env).GetClient(t.Context(), "oa-app-key")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(cl.SecretHash, sha(old)) || !cl.LegacyAPI || cl.Public {
		t.Errorf("stored client %+v", cl)
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing file", []string{"--id", "a1", "--secret-file", filepath.Join(t.TempDir(), "nope")}, "--secret-file"},
		{"empty file", []string{"--id", "a2", "--secret-file", emptyFile(t)}, "is empty"},
		{"public", []string{"--id", "a3", "--public", "--secret-file", path}, "exclude each other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"client", "create", "--redirect-uri", "https://x.example/cb"}, tc.args...)
			r := runCLI(t, env, args...)
			if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", r.err, tc.want)
			}
		})
	}
	if cls, _ := openTestStore(t, env).ListClients(t.Context()); len(cls) != 1 {
		t.Errorf("%d clients after refused creates, want 1", len(cls))
	}
}

func emptyFile(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(p, []byte("  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
