package clients

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestGitLabOmniAuth runs GitLab's OpenID Connect strategy
// (omniauth_openid_connect, Debian's ruby-omniauth-openid-connect) in
// gitlab/app.rb with the gitlab.rb block of docs/integrations/gitlab.md:
// discovery, client_auth_method basic and query, uid_field sub, scope sent to
// the token endpoint, nonce and state checked, ID token verified, userinfo
// merged. It checks the auth hash GitLab would build the user from.
func TestGitLabOmniAuth(t *testing.T) {
	requireTool(t, "apt-get install ruby ruby-omniauth-openid-connect ruby-omniauth ruby-rack ruby-webrick", "ruby")
	if out, err := exec.Command("ruby", "-e", "require 'omniauth_openid_connect'; require 'rack/handler/webrick'").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("omniauth_openid_connect or webrick missing (%v: %s); install with: apt-get install ruby-omniauth-openid-connect ruby-omniauth ruby-rack ruby-webrick", err, out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	guide := guideBlock(t, "gitlab.md", "ruby")
	for _, method := range []string{"basic", "query"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			id := "gitlab-" + method
			base := fmt.Sprintf("http://127.0.0.1:%d", env.ports[id])
			snippet := strings.NewReplacer(
				"https://sso.example.gov.cn", env.issuer,
				"https://gitlab.example.gov.cn", base,
				`identifier: "gitlab"`, fmt.Sprintf("identifier: %q", id),
				"CLIENT_SECRET", clientSecret(id),
				`client_auth_method: "basic"`, fmt.Sprintf("client_auth_method: %q", method),
			).Replace(guide)
			if !strings.Contains(snippet, fmt.Sprintf("client_auth_method: %q", method)) {
				t.Fatal(`gitlab.md: the block no longer says client_auth_method: "basic"`)
			}
			file := filepath.Join(t.TempDir(), "gitlab.rb")
			if err := os.WriteFile(file, []byte(snippet), 0o600); err != nil {
				t.Fatal(err)
			}
			gitlabLogin(t, base, file)
			want := map[string]string{"basic": "basic", "query": "post"}[method]
			reqs := tokenRequests(id)
			if len(reqs) != 1 || reqs[0].Auth != want || reqs[0].Grant != "authorization_code" {
				t.Fatalf("token requests %+v, want one authorization_code grant with %s authentication", reqs, want)
			}
			if reqs[0].Scope == "" { // send_scope_to_token_endpoint: true
				t.Error("no scope sent to the token endpoint")
			}
		})
	}
}

func gitlabLogin(t *testing.T, base, snippet string) {
	cmd := exec.Command("ruby", "gitlab/app.rb", snippet, strings.TrimPrefix(base[strings.LastIndex(base, ":"):], ":"), env.caFile)
	cmd.Env = append(os.Environ(), "SSL_CERT_FILE="+env.caFile)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = writerFunc(out.WriteString), writerFunc(out.WriteString)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("app.rb output:\n%s", out.String())
		}
	})
	waitHTTP(t, base+"/", done)

	// GitLab's sign-in button, as a GET (allowed in app.rb).
	b := newBrowser(t, "")
	resp, page := b.login(base + "/users/auth/openid_connect")
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/users/auth/openid_connect/callback" {
		t.Fatalf("login ended at %s %s:\n%.800s\ndingoidc log tail:\n%s", resp.Status, resp.Request.URL, page, logTail())
	}
	var auth struct {
		Provider string `json:"provider"`
		UID      string `json:"uid"`
		Info     struct {
			Name, Nickname, Email string
			EmailVerified         *bool `json:"email_verified"`
		} `json:"info"`
		RawInfo  zhangsanClaims `json:"raw_info"`
		Groups   []string       `json:"groups"`
		Admin    bool           `json:"admin"`
		External bool           `json:"external"`
	}
	if err := json.Unmarshal([]byte(page), &auth); err != nil {
		t.Fatalf("callback page: %v: %.500s", err, page)
	}
	if auth.Provider != "openid_connect" || auth.UID != wantSub {
		t.Errorf("provider, uid = %q, %q; want openid_connect, %q", auth.Provider, auth.UID, wantSub)
	}
	if auth.Info.Name != wantName || auth.Info.Nickname != wantLogin || auth.Info.Email != wantEmail {
		t.Errorf("info name, nickname, email = %q, %q, %q; want %q, %q, %q",
			auth.Info.Name, auth.Info.Nickname, auth.Info.Email, wantName, wantLogin, wantEmail)
	}
	auth.RawInfo.check(t, "raw_info")
	if !slices.Contains(auth.Groups, wantGroup) {
		t.Errorf("groups_attribute yields %q, want %s among them", auth.Groups, wantGroup)
	}
	if auth.Admin || auth.External {
		t.Errorf("张三 (平台研发部) came out admin=%v external=%v", auth.Admin, auth.External)
	}
}
