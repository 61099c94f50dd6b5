package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeEnv is the environment a test gives run.
type fakeEnv map[string]string

func (e fakeEnv) getenv(k string) string { return e[k] }

// result is what one run wrote.
type result struct {
	stdout, stderr string
	err            error
}

// runCLI runs the command line with env as the whole environment.
func runCLI(t *testing.T, env fakeEnv, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), args, env.getenv, strings.NewReader(""), &stdout, &stderr)
	return result{stdout.String(), stderr.String(), err}
}

// mustRun runs the command line and fails the test if it fails.
func mustRun(t *testing.T, env fakeEnv, args ...string) result {
	t.Helper()
	r := runCLI(t, env, args...)
	if r.err != nil {
		t.Fatalf("dingoidc %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.err, r.stdout, r.stderr)
	}
	return r
}

// storeEnv is an environment with a fresh SQLite data directory.
func storeEnv(t *testing.T) fakeEnv {
	t.Helper()
	return fakeEnv{"DINGOIDC_DATA_DIR": t.TempDir()}
}

// writeFile writes a file into a fresh temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// decodeJSON decodes a command's JSON output.
func decodeJSON[T any](t *testing.T, out string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("decode JSON output: %v\n%s", err, out)
	}
	return v
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantErr    string // "" for success
		wantStdout string
		wantStderr string
	}{
		{name: "no command", args: nil, wantErr: "missing command", wantStderr: "Commands:"},
		{name: "top-level -h", args: []string{"-h"}, wantStdout: "client rotate-secret"},
		{name: "help", args: []string{"help"}, wantStdout: "config check"},
		{name: "help of a group", args: []string{"help", "client"}, wantStdout: "client create"},
		{name: "help of a command", args: []string{"help", "keys", "rotate"}, wantStdout: "-now"},
		{name: "unknown command", args: []string{"frobnicate"}, wantErr: `unknown command "frobnicate"`},
		{name: "group alone", args: []string{"client"}, wantErr: "client: missing subcommand", wantStderr: "client rotate-secret"},
		{name: "group -h", args: []string{"user", "-h"}, wantStdout: "user disable"},
		{name: "unknown subcommand", args: []string{"keys", "burn"}, wantErr: `keys: unknown subcommand "burn"`},
		{name: "command -h", args: []string{"client", "create", "-h"}, wantStdout: "-redirect-uri URI"},
		{name: "command --help", args: []string{"migrate", "status", "--help"}, wantStdout: "Usage: dingoidc migrate status"},
		{name: "bad flag", args: []string{"version", "--bogus"}, wantErr: "flag provided but not defined: -bogus", wantStderr: "Usage: dingoidc version"},
		{name: "missing argument", args: []string{"client", "show"}, wantErr: "client show: missing argument"},
		{name: "extra argument", args: []string{"client", "show", "a", "b"}, wantErr: `unexpected argument "b"`},
		{name: "version", args: []string{"version"}, wantStdout: "dingoidc "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, fakeEnv{}, tt.args...)
			switch {
			case tt.wantErr == "" && r.err != nil:
				t.Fatalf("error %v", r.err)
			case tt.wantErr != "" && (r.err == nil || !strings.Contains(r.err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one containing %q", r.err, tt.wantErr)
			}
			if !strings.Contains(r.stdout, tt.wantStdout) {
				t.Errorf("stdout does not contain %q:\n%s", tt.wantStdout, r.stdout)
			}
			if !strings.Contains(r.stderr, tt.wantStderr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.wantStderr, r.stderr)
			}
		})
	}
}

func TestVersionJSON(t *testing.T) {
	r := mustRun(t, fakeEnv{}, "version", "--json")
	v := decodeJSON[versionInfo](t, r.stdout)
	if v.Version == "" || !strings.HasPrefix(v.GoVersion, "go") {
		t.Errorf("version %+v", v)
	}
}

func TestFlagsAfterArguments(t *testing.T) {
	env := storeEnv(t)
	mustRun(t, env, "client", "create", "--id", "app", "--redirect-uri", "https://app.example/cb")
	// --json after the positional ID still counts.
	r := mustRun(t, env, "client", "show", "app", "--json")
	if v := decodeJSON[clientView](t, r.stdout); v.ID != "app" {
		t.Errorf("show app --json: %+v", v)
	}
	// After "--" everything is an argument.
	r = runCLI(t, env, "client", "show", "--", "--json")
	if r.err == nil || !strings.Contains(r.err.Error(), `client "--json" not found`) {
		t.Errorf("show -- --json: %v", r.err)
	}
}

func TestConfigFlagDefaultsToEnv(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, "dingoidc.yaml", "data_dir: "+dir+"\n")
	env := fakeEnv{"DINGOIDC_CONFIG": path}
	mustRun(t, env, "client", "create", "--id", "app", "--public", "--redirect-uri", "http://127.0.0.1/cb")
	if _, err := os.Stat(filepath.Join(dir, sqliteFileName)); err != nil {
		t.Errorf("the config from DINGOIDC_CONFIG was not used: %v", err)
	}
}
