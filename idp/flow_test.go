package idp_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// TestFullLogin drives a whole login as an app using coreos/go-oidc and
// x/oauth2 would: discovery → authorize → upstream → callback → token → ID
// token verified → userinfo → refresh → revoke → end_session, on both
// backends.
func TestFullLogin(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be.open(t))
			app := e.rp("app", testSecret)
			b := e.browser()
			l := app.login(b)

			// ID token claims (I1, I5, I6, I9).
			if got, want := l.idToken.Subject, "dev_10001"; got != want {
				t.Errorf("sub = %q, want %q", got, want)
			}
			for k, want := range map[string]any{"name": "张三", "preferred_username": "zhangsan", "email": "zhangsan@example.gov.cn", "email_verified": true, "azp": "app"} {
				if l.claims[k] != want {
					t.Errorf("id token %s = %#v, want %#v", k, l.claims[k], want)
				}
			}
			if aud := strs(l.claims["aud"]); !slices.Equal(aud, []string{"app"}) {
				t.Errorf("aud = %v, want [app]", aud)
			}
			if g, ok := l.claims["groups"].([]any); !ok || len(g) != 2 {
				t.Errorf("groups = %#v, want an array of 2", l.claims["groups"])
			}
			if _, ok := l.claims["nbf"]; ok {
				t.Error("id token carries nbf (I3)")
			}
			if l.token.RefreshToken == "" {
				t.Fatal("no refresh token for offline_access")
			}
			if l.token.TokenType != "Bearer" {
				t.Errorf("token_type %q", l.token.TokenType)
			}

			// Userinfo (U1–U4).
			ui, err := app.provider.UserInfo(app.ctx, oauth2.StaticTokenSource(l.token))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			if ui.Subject != l.idToken.Subject || ui.Email != "zhangsan@example.gov.cn" || !ui.EmailVerified {
				t.Errorf("userinfo = %+v", ui)
			}

			// Refresh: new access token, refresh token and ID token (T5).
			old := *l.token
			old.Expiry = old.Expiry.Add(-24 * 3600e9)
			tok, err := app.conf.TokenSource(app.ctx, &old).Token()
			if err != nil {
				t.Fatalf("refresh: %v", err)
			}
			if tok.RefreshToken == "" || tok.RefreshToken == l.token.RefreshToken {
				t.Error("refresh token was not rotated")
			}
			rl := app.verify(tok)
			if rl.idToken.Subject != l.idToken.Subject {
				t.Error("refreshed id token has another sub")
			}

			// Revoke the new refresh token: the grant ends, refresh and userinfo fail.
			resp, _ := e.postForm("/revoke", url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}, "app", testSecret)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("revoke: %d", resp.StatusCode)
			}
			if _, err := app.conf.TokenSource(app.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
				t.Error("refresh after revoke succeeded")
			}
			if _, err := app.provider.UserInfo(app.ctx, oauth2.StaticTokenSource(tok)); err == nil {
				t.Error("userinfo after revoke succeeded")
			}

			// end_session with the ID token: back to the registered URI with state.
			q := url.Values{"id_token_hint": {rl.raw}, "post_logout_redirect_uri": {testLogout}, "state": {"bye"}}
			resp, _ = b.get(e.issuer + "/end_session?" + q.Encode())
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != testLogout+"?state=bye" {
				t.Fatalf("end_session: %d %q\n%s", resp.StatusCode, resp.Header.Get("Location"), e.logs)
			}
			// The session is gone: prompt=none now answers login_required.
			v := b.authorize(app.conf.AuthCodeURL("s2", oauth2.SetAuthURLParam("prompt", "none")))
			if v.Get("error") != "login_required" {
				t.Errorf("prompt=none after logout: %v", v)
			}
		})
	}
}

// TestLoginBudget counts SQL statements and row writes for a first login and
// for one that reuses the SSO session (speed budget of issues 2 and 10: a
// first login with userinfo costs at most 4 statements on postgres).
//
// The sign-in log is not written by the login but by a flush of its
// in-memory queue, one statement per batch of up to
// idp.DefaultSignInBatchSize events (idp/signinlog.go). So that no flush
// falls inside a measured window, the flush interval here is a minute
// (far longer than the test) and the test flushes by hand between the
// windows, counting each flush apart: one statement for the events of
// one login, shared in production by every login of the batch.
func TestLoginBudget(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			st := be.open(t)
			e := newEnv(t, st, func(e *env) { e.cfg.SignInLog.FlushEvery = time.Minute })
			app := e.rp("app", testSecret)
			app.conf.Scopes = []string{"openid", "profile", "email"}
			b := e.browser()
			e.srv.Handler() // keys and clients warm
			app.login(e.browser())
			flush := func(events int64) {
				t.Helper()
				s0 := stats(t, st)
				if err := e.srv.FlushSignIns(t.Context()); err != nil {
					t.Fatal(err)
				}
				s1 := stats(t, st)
				t.Logf("%s sign-in log flush: %d statement(s), %d row writes", be.name, s1.Statements-s0.Statements, s1.RowWrites-s0.RowWrites)
				if s1.Statements-s0.Statements != 1 || s1.RowWrites-s0.RowWrites != events {
					t.Errorf("flushing %d sign-in events cost %d statements and %d row writes, want 1 and %d",
						events, s1.Statements-s0.Statements, s1.RowWrites-s0.RowWrites, events)
				}
			}
			flush(1) // the warm-up login's

			before := stats(t, st)
			l := app.login(b)
			if _, err := app.provider.UserInfo(app.ctx, oauth2.StaticTokenSource(l.token)); err != nil {
				t.Fatal(err)
			}
			first := stats(t, st)
			d := struct{ stmts, writes int64 }{first.Statements - before.Statements, first.RowWrites - before.RowWrites}
			t.Logf("%s first login: %d statements, %d row writes", be.name, d.stmts, d.writes)
			// Issue 10: at most 4 statements on postgres (the state claim,
			// user and session in one statement, the grant, userinfo).
			maxStmts := map[string]int64{"sqlite": 6, "postgres": 4}[be.name]
			if d.stmts > maxStmts || d.writes > 4 {
				t.Errorf("first login costs %d statements and %d row writes; budget %d and 4", d.stmts, d.writes, maxStmts)
			}
			if be.name == "postgres" && d.stmts > 4 {
				t.Errorf("first login costs %d statements on postgres; budget 4", d.stmts)
			}
			flush(1) // its sign-in event
			first = stats(t, st)

			l = app.login(b)
			if _, err := app.provider.UserInfo(app.ctx, oauth2.StaticTokenSource(l.token)); err != nil {
				t.Fatal(err)
			}
			sso := stats(t, st)
			ds := struct{ stmts, writes int64 }{sso.Statements - first.Statements, sso.RowWrites - first.RowWrites}
			t.Logf("%s SSO login: %d statements, %d row writes", be.name, ds.stmts, ds.writes)
			if ds.stmts >= d.stmts || ds.writes >= d.writes {
				t.Errorf("SSO login (%d stmts, %d writes) is not cheaper than a first login (%d, %d)", ds.stmts, ds.writes, d.stmts, d.writes)
			}
			flush(1)
		})
	}
}

// TestDiscovery checks what the metadata advertises (D1–D7).
func TestDiscovery(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	resp, err := e.ts.Client().Get(e.issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	var doc map[string]any
	if err := jsonDecode(resp, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["issuer"] != e.issuer {
		t.Errorf("issuer %v", doc["issuer"])
	}
	want := map[string][]string{
		"response_types_supported":              {"code"},
		"grant_types_supported":                 {"authorization_code", "refresh_token"},
		"id_token_signing_alg_values_supported": {"RS256"},
		"code_challenge_methods_supported":      {"S256"},
		"token_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post"},
	}
	for k, w := range want {
		if got := strs(doc[k]); !slices.Equal(got, w) {
			t.Errorf("%s = %v, want %v", k, got, w)
		}
	}
	for _, k := range []string{"authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "end_session_endpoint", "revocation_endpoint", "introspection_endpoint"} {
		s, _ := doc[k].(string)
		if !strings.HasPrefix(s, e.issuer+"/") {
			t.Errorf("%s = %q", k, s)
		}
	}
	for _, k := range strs(doc["scopes_supported"]) {
		if k == "" {
			t.Error("empty scope advertised")
		}
	}
	if strings.Contains(strings.Join(strs(doc["id_token_signing_alg_values_supported"]), ","), "none") {
		t.Error("alg none advertised")
	}
}

var _ = context.Background

// TestIssuerWithPath: an issuer with a path (behind a gateway at /sso)
// serves every endpoint under it, and a whole login works.
func TestIssuerWithPath(t *testing.T) {
	e := newEnv(t, backends()[0].open(t), func(e *env) { e.cfg.Issuer += "/sso" })
	if !strings.HasSuffix(e.issuer, "/sso") {
		t.Fatalf("issuer %q", e.issuer)
	}
	app := e.rp("app", testSecret)
	l := app.login(e.browser())
	if l.idToken.Issuer != e.issuer {
		t.Fatalf("iss %q", l.idToken.Issuer)
	}
	if _, err := app.provider.UserInfo(app.ctx, oauth2.StaticTokenSource(l.token)); err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.browser().get(strings.TrimSuffix(e.issuer, "/sso") + "/authorize"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("endpoint served outside the issuer path: %d", resp.StatusCode)
	}
}

// TestEmbeddedQRLogin: for an upstream configured for it, the login page
// frames the upstream's QR (CSP allows only that origin), and the code the
// frame posts back completes the login through our callback.
func TestEmbeddedQRLogin(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	e.up.Embed = true
	app := e.rp("app", testSecret)
	b := e.browser()
	v := oauth2.GenerateVerifier()
	resp, page := b.get(app.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(v)))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `<iframe id="qr-frame"`) {
		t.Fatalf("no embedded QR page: %d %.300s", resp.StatusCode, page)
	}
	attr := func(name string) string {
		m := regexp.MustCompile(name + `="([^"]*)"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("page has no %s", name)
		}
		return html.UnescapeString(m[1])
	}
	origin, callback, state, frame := attr("data-origin"), attr("data-callback"), attr("data-state"), attr(`id="qr-frame" title="[^"]*" src`)
	if origin != e.issuer {
		t.Errorf("data-origin %q, want the login host %q", origin, e.issuer)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "frame-src "+origin+";") || !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if r, js := b.get(e.issuer + attr("script src")); r.StatusCode != http.StatusOK || !strings.Contains(js, "event.origin !== origin") {
		t.Fatalf("embed script: %d", r.StatusCode)
	}
	// The frame: the upstream posts {code, state} to the parent.
	_, framed := b.get(frame)
	m := regexp.MustCompile(`postMessage\(\{code: "([^"]+)", state: "([^"]+)"\}`).FindStringSubmatch(framed)
	if m == nil || m[2] != state {
		t.Fatalf("frame did not post code and state: %.300s", framed)
	}
	// What embed.js does with an accepted message.
	q := b.authorize(callback + "?" + url.Values{"code": {m[1]}, "state": {state}}.Encode())
	if q.Get("state") != "st" || q.Get("code") == "" {
		t.Fatalf("app redirect %v", q)
	}
	tok, err := app.conf.Exchange(app.ctx, q.Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	app.verify(tok)
}
