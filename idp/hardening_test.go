package idp_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestIntrospectionOwnClientOnly: a confidential client cannot read another
// client's users through their tokens: introspection answers
// {"active": false} for a token issued to someone else.
func TestIntrospectionOwnClientOnly(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	e.addClient(storageClient("second"), "second-secret-second")
	l := e.rp("app", testSecret).login(e.browser())
	for _, tok := range []string{l.token.AccessToken, l.token.RefreshToken} {
		resp, m := e.postForm("/oauth/introspect", url.Values{"token": {tok}}, "second", "second-secret-second")
		if resp.StatusCode != http.StatusOK || m["active"] != false || len(m) != 1 {
			t.Errorf("another client introspected: %d %v", resp.StatusCode, m)
		}
	}
	resp, m := e.postForm("/oauth/introspect", url.Values{"token": {l.token.AccessToken}}, "app", testSecret)
	if resp.StatusCode != http.StatusOK || m["active"] != true || m["client_id"] != "app" {
		t.Errorf("own token: %d %v", resp.StatusCode, m)
	}
}

// TestRefreshReuseByAnotherClient: a rotated refresh token sent by another
// (authenticated) client is refused without revoking the owner's grant;
// sent by its owner it still ends the family.
func TestRefreshReuseByAnotherClient(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	e.addClient(storageClient("second"), "second-secret-second")
	app := e.rp("app", testSecret)
	l := app.login(e.browser())
	r1, err := app.conf.TokenSource(app.ctx, &oauth2.Token{RefreshToken: l.token.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute) // past the grace window: the first token is rotated out
	refresh := func(user, pass, token string) (int, map[string]any) {
		resp, m := e.postForm("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}, user, pass)
		return resp.StatusCode, m
	}
	if st, m := refresh("second", "second-secret-second", l.token.RefreshToken); st != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Errorf("rotated token from another client: %d %v", st, m)
	}
	// Unauthenticated, naming the owner: refused before any reuse check.
	if st, m := refresh("app", "wrong-secret-wrong-secret", l.token.RefreshToken); st != http.StatusUnauthorized || m["error"] != "invalid_client" {
		t.Errorf("rotated token with a wrong secret: %d %v", st, m)
	}
	st, m := refresh("app", testSecret, r1.RefreshToken)
	if st != http.StatusOK {
		t.Fatalf("owner's grant revoked by another client's attempt: %d %v", st, m)
	}
	// The owner presenting a rotated token is reuse: the family ends.
	if st, m := refresh("app", testSecret, l.token.RefreshToken); st != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Errorf("owner's reuse: %d %v", st, m)
	}
	if st, _ := refresh("app", testSecret, m["refresh_token"].(string)); st == http.StatusOK {
		t.Error("family not revoked after the owner's reuse")
	}
}

// TestSecretsInQueryRefused: client secrets, codes, verifiers and refresh
// tokens in the URL of a POST are refused, even with a valid body.
func TestSecretsInQueryRefused(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	for _, path := range []string{"/oauth/token", "/oauth/introspect", "/revoke"} {
		for _, k := range []string{"client_secret", "refresh_token", "code", "code_verifier"} {
			resp, m := e.postForm(path+"?"+k+"=secret-value", url.Values{"grant_type": {"refresh_token"}, "token": {"x"}}, "app", testSecret)
			if resp.StatusCode != http.StatusBadRequest || m["error"] != "invalid_request" || !strings.Contains(m["error_description"].(string), k) {
				t.Errorf("%s?%s=…: %d %v", path, k, resp.StatusCode, m)
			}
		}
	}
	// A body that is not a form is refused as such, not read as empty.
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/oauth/token", strings.NewReader("grant_type=refresh_token&refresh_token=%zz"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("app", testSecret)
	if resp, err := e.ts.Client().Do(req); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed form: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// Other query parameters are not refused.
	resp, m := e.postForm("/oauth/introspect?x=1", url.Values{"token": {"x"}}, "app", testSecret)
	if resp.StatusCode != http.StatusOK || m["active"] != false {
		t.Errorf("introspect with a harmless query: %d %v", resp.StatusCode, m)
	}
}

// TestProtocolDetails: a code sent with a challenge and redeemed without a
// verifier is invalid_grant; 401 invalid_client carries WWW-Authenticate:
// Basic at the token endpoint, and at introspection and revocation when
// Basic was used.
func TestProtocolDetails(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	p, _ := params("openid")
	code := e.browser().codeFor(p)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirect}}
	resp, m := e.postForm("/oauth/token", form, "app", testSecret)
	if resp.StatusCode != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Errorf("missing code_verifier: %d %v", resp.StatusCode, m)
	}

	wrong := "wrong-secret-wrong-secret"
	post := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"a.0.b"}, "client_id": {"app"}, "client_secret": {wrong}}
	cases := []struct {
		name, path string
		form       url.Values
		basic      bool
		want       bool // WWW-Authenticate expected
	}{
		{"token basic", "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"a.0.b"}}, true, true},
		{"token post", "/oauth/token", post, false, true},
		{"introspect basic", "/oauth/introspect", url.Values{"token": {"x"}}, true, true},
		{"revoke basic", "/revoke", url.Values{"token": {"x"}}, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			user, pass := "", ""
			if c.basic {
				user, pass = "app", wrong
			}
			resp, m := e.postForm(c.path, c.form, user, pass)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%d %v", resp.StatusCode, m)
			}
			if got := resp.Header.Get("WWW-Authenticate"); c.want != strings.HasPrefix(got, "Basic ") {
				t.Errorf("WWW-Authenticate %q", got)
			}
		})
	}
}

// TestStaticNoListing: /static/ serves its files, never a directory listing.
func TestStaticNoListing(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	for path, want := range map[string]int{
		"/static/":         http.StatusNotFound,
		"/static/embed.js": http.StatusOK,
		"/static/nothing":  http.StatusNotFound,
		"/static//":        http.StatusNotFound,
	} {
		resp, err := e.ts.Client().Get(e.issuer + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || strings.Contains(string(body), `<a href="embed.js">`) {
			t.Errorf("GET %s: %d, want %d:\n%.300s", path, resp.StatusCode, want, body)
		}
		if want == http.StatusNotFound && !strings.Contains(string(body), `data-error="not_found"`) {
			t.Errorf("GET %s: not the 404 page:\n%.300s", path, body)
		}
	}
}
