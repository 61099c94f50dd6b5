package clients

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// callbackNode is registered for the openid-client app; nothing serves it.
const callbackNode = "http://127.0.0.1:9/openid-client/callback"

// TestOpenIDClient runs node/rp.mjs, an app using openid-client v6 (the
// OpenID-certified RP library): discovery, PKCE S256, nonce and state, the
// code grant with the ID token validated, userinfo, refresh. The browser
// in between is the test's.
func TestOpenIDClient(t *testing.T) {
	requireTool(t, "apt-get install nodejs npm (Node ≥ 20)", "node")
	dir, err := filepath.Abs("node")
	if err != nil {
		t.Fatal(err)
	}
	requireTool(t, "cd e2e/clients/node && npm ci", filepath.Join(dir, "node_modules", "openid-client", "package.json"))

	cmd := exec.CommandContext(t.Context(), "node", "rp.mjs", env.issuer, "openid-client", clientSecret("openid-client"), callbackNode)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_EXTRA_CA_CERTS="+env.caFile)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	next := func(v any) {
		t.Helper()
		if !lines.Scan() {
			cmd.Wait()
			t.Fatalf("rp.mjs ended early: %s\ndingoidc log tail:\n%s", stderr.String(), logTail())
		}
		if err := json.Unmarshal(lines.Bytes(), v); err != nil {
			t.Fatalf("rp.mjs printed %q: %v", lines.Text(), err)
		}
	}

	var start struct {
		AuthorizationURL string `json:"authorization_url"`
	}
	next(&start)
	if !strings.Contains(start.AuthorizationURL, "code_challenge_method=S256") || !strings.Contains(start.AuthorizationURL, "nonce=") {
		t.Errorf("authorization URL without PKCE or nonce: %s", start.AuthorizationURL)
	}
	b := newBrowser(t, callbackNode)
	cb := b.callback(b.login(start.AuthorizationURL))
	fmt.Fprintln(stdin, cb.String())

	var res struct {
		Claims          zhangsanClaims `json:"claims"`
		Userinfo        zhangsanClaims `json:"userinfo"`
		TokenType       string         `json:"token_type"`
		RefreshedClaims zhangsanClaims `json:"refreshed_claims"`
		NewAccessToken  bool           `json:"refreshed_new_access_token"`
	}
	next(&res)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("rp.mjs: %v\n%s", err, stderr.String())
	}
	res.Claims.check(t, "ID token")
	res.Userinfo.check(t, "userinfo")
	if res.RefreshedClaims.Sub != wantSub {
		t.Errorf("refreshed ID token sub = %q, want %q", res.RefreshedClaims.Sub, wantSub)
	}
	if !res.NewAccessToken {
		t.Error("refresh returned the same access token")
	}
	if !strings.EqualFold(res.TokenType, "bearer") {
		t.Errorf("token_type = %q", res.TokenType)
	}
}
