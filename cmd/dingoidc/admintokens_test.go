package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/idp/admin"
	"github.com/dingoidc/dingoidc/storage"
)

var tokenRE = regexp.MustCompile(`(?m)^TOKEN\s+(\S+)$`)

func TestAdminTokenLifecycle(t *testing.T) {
	env := storeEnv(t)
	r := mustRun(t, env, "admin", "token", "create", "--name", "ci-bot", "--scope", "write", "--ttl", "720h")
	m := tokenRE.FindStringSubmatch(r.stdout)
	if m == nil || !strings.Contains(r.stderr, "shown only this once") {
		t.Fatalf("no token or warning:\n%s\n%s", r.stdout, r.stderr)
	}
	st := openTestStore(t, env)
	tok, err := st.GetAdminTokenByHash(t.Context(), admin.HashSecret(m[1]), time.Now())
	if err != nil || tok.Name != "ci-bot" || tok.Scope != storage.ScopeWrite {
		t.Fatalf("stored token %+v, %v", tok, err)
	}
	if d := tok.ExpiresAt.Sub(tok.CreatedAt); d != 720*time.Hour {
		t.Fatalf("ttl %s", d)
	}
	r = mustRun(t, env, "admin", "token", "list", "--json")
	var list []adminTokenView
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 1 || list[0].ID != tok.ID {
		t.Fatalf("list: %s %v", r.stdout, err)
	}
	if strings.Contains(r.stdout, m[1]) {
		t.Fatal("list shows the token")
	}
	mustRun(t, env, "admin", "token", "revoke", tok.ID)
	if _, err := st.GetAdminTokenByHash(t.Context(), admin.HashSecret(m[1]), time.Now()); err == nil {
		t.Fatal("revoked token still usable")
	}
	for _, args := range [][]string{
		{"--name", "", "--scope", "read"},
		{"--name", "x", "--scope", "admin"},
		{"--name", "x", "--ttl", "0s"},
	} {
		if r := runCLI(t, env, append([]string{"admin", "token", "create"}, args...)...); r.err == nil {
			t.Errorf("create %v accepted", args)
		}
	}
	if r := runCLI(t, env, "admin", "token", "revoke", "nope"); r.err == nil || !strings.Contains(r.err.Error(), "not found") {
		t.Errorf("revoke unknown: %v", r.err)
	}
}

func TestClientPolicyFlags(t *testing.T) {
	env := storeEnv(t)
	mustRun(t, env, "client", "create", "--id", "jenkins", "--redirect-uri", "https://j.example/cb",
		"--allowed-group", "运维组", "--allowed-group", "dev", "--allowed-tenant", "t1", "--legacy-api")
	st := openTestStore(t, env)
	cl, err := st.GetClient(t.Context(), "jenkins")
	if err != nil || len(cl.AllowedGroups) != 2 || cl.AllowedTenants[0] != "t1" || !cl.LegacyAPI {
		t.Fatalf("client %+v, %v", cl, err)
	}
	mustRun(t, env, "client", "update", "jenkins", "--allowed-group=", "--legacy-api=false")
	cl, _ = st.GetClient(t.Context(), "jenkins")
	if len(cl.AllowedGroups) != 0 || cl.LegacyAPI || len(cl.AllowedTenants) != 1 {
		t.Fatalf("after update %+v", cl)
	}
	long := strings.Repeat("g", admin.MaxEntryLen+1)
	r := runCLI(t, env, "client", "update", "jenkins", "--allowed-group", long)
	if r.err == nil || !strings.Contains(r.err.Error(), "--allowed-group") {
		t.Fatalf("oversize group: %v", r.err)
	}
	r = runCLI(t, env, "client", "create", "--id", admin.ConsoleClientID, "--redirect-uri", "https://x.example/cb")
	if r.err == nil || !strings.Contains(r.err.Error(), "reserved") {
		t.Fatalf("reserved id: %v", r.err)
	}
}
