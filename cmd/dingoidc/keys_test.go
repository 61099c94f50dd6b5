package main

import (
	"strings"
	"testing"

	"github.com/dingoidc/dingoidc/idp/keys"
)

func TestKeys(t *testing.T) {
	env := storeEnv(t)
	if r := mustRun(t, env, "keys", "list"); !strings.Contains(r.stdout, "no signing keys") {
		t.Errorf("empty list: %q", r.stdout)
	}
	// Rotation needs the master key.
	if r := runCLI(t, env, "keys", "rotate"); r.err == nil || !strings.Contains(r.err.Error(), "master key") {
		t.Fatalf("rotate without a master key: %v", r.err)
	}
	env["DINGOIDC_SECRET_KEY"] = keys.GenerateMasterKey()

	first := decodeJSON[keyView](t, mustRun(t, env, "keys", "rotate", "--json").stdout)
	if first.ID == "" || first.Algorithm != "RS256" {
		t.Fatalf("rotate: %+v", first)
	}
	r := mustRun(t, env, "keys", "rotate") // publishes the next one
	if !strings.Contains(r.stdout, "new signing key") || !strings.Contains(r.stdout, "signs from") {
		t.Errorf("rotate: %q", r.stdout)
	}
	second := strings.Fields(r.stdout)[3]
	list := decodeJSON[[]keyView](t, mustRun(t, env, "keys", "list", "--json").stdout)
	if len(list) != 2 || list[0].ID != first.ID || list[0].State != keys.StateSigning || list[1].State != keys.StateNext {
		t.Fatalf("list %+v", list)
	}
	r = mustRun(t, env, "keys", "rotate", "--now")
	if !strings.Contains(r.stdout, "signs as soon as every replica publishes it") {
		t.Errorf("rotate --now: %q", r.stdout)
	}
	third := strings.Fields(r.stdout)[3]
	// The next key that never signed is replaced by the new one.
	r = mustRun(t, env, "keys", "list")
	if strings.Contains(r.stdout, second) {
		t.Errorf("keys list still shows the replaced key %s:\n%s", second, r.stdout)
	}
	for _, want := range []string{"KID", "SIGNS FROM", first.ID, third} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("keys list does not show %q:\n%s", want, r.stdout)
		}
	}
	ev := lastAudit(t, openTestStore(t, env), 1)[0]
	if ev.Action != "keys.rotate" || ev.Actor != "cli" {
		t.Errorf("audit %+v", ev)
	}

	// Another master key cannot add keys to this set.
	env["DINGOIDC_SECRET_KEY"] = keys.GenerateMasterKey()
	if r := runCLI(t, env, "keys", "rotate"); r.err == nil {
		t.Error("rotate with the wrong master key succeeded")
	}
}
