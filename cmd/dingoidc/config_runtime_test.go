package main

import (
	"net"
	"strings"
	"testing"
)

// TestConfigCheckAsServe: config check refuses exactly what serve refuses.
// A `type: dev` upstream logs anybody in, so serve refuses it without
// --dev; config check used to pass it.
func TestConfigCheckAsServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // held: serve must fail before it listens
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	path := writeFile(t, "dingoidc.yaml", validConfig(t.TempDir())+"listen: "+ln.Addr().String()+"\n")
	check := runCLI(t, fakeEnv{}, "config", "check", "--config", path)
	serve := runCLI(t, fakeEnv{}, "serve", "--config", path)
	const want = `upstream "dev": type "dev" logs anybody in: it is only available with serve --dev`
	for name, r := range map[string]result{"config check": check, "serve": serve} {
		got := problems(t, r.err)
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s: problems %q, want [%q]", name, got, want)
		}
	}
	if strings.Contains(check.stdout, "config OK") {
		t.Errorf("config check says OK:\n%s", check.stdout)
	}
	// With --dev, both accept it (serve is not started here).
	mustRun(t, fakeEnv{}, "config", "check", "--dev", "--config", path)
}
