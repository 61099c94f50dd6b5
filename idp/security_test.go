package idp_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/dingoidc/dingoidc/idp"
	"github.com/dingoidc/dingoidc/storage"
)

// Regression tests for the security review of the provider core.

// An opaque access token ends with its own lifetime, not the grant's.
func TestOpaqueAccessTokenExpires(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	e.addClient(storage.Client{ID: "opaque", RedirectURIs: []string{testRedirect}, AccessTokenFormat: "opaque"}, testSecret)
	app := e.rp("opaque", testSecret)
	l := app.login(e.browser())
	if strings.Count(l.token.AccessToken, ".") == 2 {
		t.Fatalf("access token looks like a JWT: %.40s", l.token.AccessToken)
	}
	if _, err := app.provider.UserInfo(app.ctx, oauth2.StaticTokenSource(l.token)); err != nil {
		t.Fatalf("fresh opaque token: %v", err)
	}
	if _, m := e.postForm("/oauth/introspect", url.Values{"token": {l.token.AccessToken}}, "opaque", testSecret); m["active"] != true || m["exp"] == nil {
		t.Errorf("introspection of a live opaque token: %v", m)
	}
	e.clock.Advance(time.Hour + time.Minute)
	if _, err := app.provider.UserInfo(app.ctx, oauth2.StaticTokenSource(l.token)); err == nil {
		t.Error("opaque access token still works after its lifetime")
	}
	if _, m := e.postForm("/oauth/introspect", url.Values{"token": {l.token.AccessToken}}, "opaque", testSecret); m["active"] == true {
		t.Errorf("expired opaque token introspected active: %v", m)
	}
	tok, err := app.conf.TokenSource(app.ctx, &oauth2.Token{RefreshToken: l.token.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if _, err := app.provider.UserInfo(app.ctx, oauth2.StaticTokenSource(tok)); err != nil {
		t.Errorf("refreshed opaque token: %v", err)
	}
}

// A refresh token with a made-up secret never revokes anything: only the
// holder of a genuine rotated token triggers reuse detection.
func TestForgedRefreshDoesNotRevoke(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	e.addClient(storage.Client{ID: "spa", Public: true, RedirectURIs: []string{testRedirect}}, "")
	app := e.rp("app", testSecret)
	l := app.login(e.browser())
	r1, err := app.conf.TokenSource(app.ctx, &oauth2.Token{RefreshToken: l.token.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	r2, err := app.conf.TokenSource(app.ctx, &oauth2.Token{RefreshToken: r1.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	family := strings.SplitN(r2.RefreshToken, ".", 2)[0]
	e.clock.Advance(time.Minute) // past the grace window
	for _, forged := range []string{family + ".0.forged", family + ".1.forged", family + ".2.forged"} {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {forged}, "client_id": {"spa"}}
		if resp, body := e.postForm("/oauth/token", form, "", ""); resp.StatusCode == http.StatusOK {
			t.Fatalf("forged %s accepted: %v", forged, body)
		}
		e.postForm("/revoke", url.Values{"token": {forged}}, "app", testSecret)
	}
	if _, err := app.conf.TokenSource(app.ctx, &oauth2.Token{RefreshToken: r2.RefreshToken}).Token(); err != nil {
		t.Fatalf("a forged token revoked the grant: %v", err)
	}
	// The genuine rotated token still counts as reuse.
	if _, err := app.conf.TokenSource(app.ctx, &oauth2.Token{RefreshToken: l.token.RefreshToken}).Token(); err == nil {
		t.Fatal("a rotated token was accepted")
	}
}

// One completed login yields one code: the completed request replayed in
// the same browser gives a code whose redemption counts as reuse.
// This is the /authorize/callback route, where older replicas send a
// completed login during a rolling upgrade (TestCodeStraightFromCallback:
// this version skips it).
func TestOneLoginOneCode(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	idp.CallbackHop(e.srv)
	app := e.rp("app", testSecret)
	b := e.browser()
	b.hc.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if strings.HasSuffix(req.URL.Path, "/authorize/callback") {
			return http.ErrUseLastResponse
		}
		return nil
	}
	v := oauth2.GenerateVerifier()
	resp, _ := b.get(app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	completed := resp.Header.Get("Location")
	if !strings.Contains(completed, "/authorize/callback?id=") {
		t.Fatalf("no completed request: %d %q", resp.StatusCode, completed)
	}
	b.hc.CheckRedirect = e.browser().hc.CheckRedirect
	code := func() string {
		resp, _ := b.get(e.issuer + completed)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return loc.Query().Get("code")
	}
	c1, c2 := code(), code()
	if c1 == "" {
		t.Fatal("no code")
	}
	if resp, body := e.postForm("/oauth/token", tokenForm(c1, v), "app", testSecret); resp.StatusCode != http.StatusOK {
		t.Fatalf("first code: %d %v", resp.StatusCode, body)
	}
	if c2 != "" {
		if resp, _ := e.postForm("/oauth/token", tokenForm(c2, v), "app", testSecret); resp.StatusCode == http.StatusOK {
			t.Fatal("a second code from the same login was redeemed")
		}
	}
	// After the code lifetime the completed request is dead.
	e.clock.Advance(2 * time.Minute)
	if resp, _ := b.get(e.issuer + completed); resp.StatusCode == http.StatusFound {
		t.Errorf("completed request still answers after the code lifetime: %q", resp.Header.Get("Location"))
	}
}

// Logout without a valid id_token_hint asks the person first (a cross-site
// GET must not end the session and revoke every app's tokens).
func TestLogoutNeedsConfirmation(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	app := e.rp("app", testSecret)
	b := e.browser()
	app.login(b)
	resp, page := b.get(e.issuer + "/end_session?" + url.Values{"post_logout_redirect_uri": {testLogout}}.Encode())
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `method="post"`) {
		t.Fatalf("logout without hint: %d %.300s", resp.StatusCode, page)
	}
	if v := b.authorize(app.conf.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none"))); v.Get("code") == "" {
		t.Fatalf("a bare GET ended the session: %v", v)
	}
	// Confirming (the page's form) logs out and returns to the app.
	resp = b.confirmLogout(page)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != testLogout {
		t.Fatalf("confirmed logout: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if v := b.authorize(app.conf.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none"))); v.Get("error") != "login_required" {
		t.Fatalf("session survived a confirmed logout: %v", v)
	}
	// A forged POST (no token) does nothing.
	app.login(b)
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/end_session", strings.NewReader(url.Values{"post_logout_redirect_uri": {testLogout}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := b.authorize(app.conf.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none"))); v.Get("code") == "" {
		t.Fatalf("a POST without the confirmation token ended the session: %v", v)
	}
}

// Only the query response mode exists (it is all discovery advertises).
func TestResponseModeOnlyQuery(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	app := e.rp("app", testSecret)
	v := e.browser().authorize(app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("response_mode", "form_post")))
	if v.Get("error") != "invalid_request" {
		t.Fatalf("form_post: %v", v)
	}
}

// An oversized state is refused at /authorize rather than breaking the
// login cookie later.
func TestStateLengthCapped(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	app := e.rp("app", testSecret)
	v := e.browser().authorize(app.conf.AuthCodeURL(strings.Repeat("s", 3000), oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if v.Get("error") != "invalid_request" {
		t.Fatalf("3000-character state: %v", v)
	}
	// A long but sane state (Grafana's is 44) works.
	long := strings.Repeat("x", 512)
	if v := e.browser().authorize(app.conf.AuthCodeURL(long, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))); v.Get("code") == "" || v.Get("state") != long {
		t.Fatalf("512-character state: %v", v.Get("error"))
	}
}

// The upstream state is single use even when the login cookie is replayed
// with it.
func TestUpstreamStateSingleUse(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	app := e.rp("app", testSecret)
	e.up.AutoApprove = ""
	b := e.browser()
	resp, _ := b.get(app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	qr := resp.Request.URL
	cookies := b.hc.Jar.Cookies(mustURL(e.issuer + "/login/dev/callback"))
	callback, err := e.up.Approve("10001", qr.Query().Get("state"), qr.Query().Get("redirect_uri"))
	if err != nil {
		t.Fatal(err)
	}
	if q := b.authorize(callback); q.Get("code") == "" {
		t.Fatalf("first callback: %v", q)
	}
	b.hc.Jar.SetCookies(mustURL(e.issuer+"/login/dev/callback"), cookies) // replay the login cookie too
	second, _ := e.up.Approve("10001", qr.Query().Get("state"), qr.Query().Get("redirect_uri"))
	if resp, _ := b.get(second); resp.StatusCode == http.StatusFound {
		t.Fatal("the upstream state was used twice")
	}
	if !strings.Contains(e.logs.String(), "upstream state used twice") {
		t.Error("the replay did not reach the single-use check")
	}
}

// A fresh scan by someone other than the id_token_hint's person does not
// log the app in as them.
func TestHintSubjectAfterScan(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	app := e.rp("app", testSecret)
	first := app.login(e.browser()) // 10001
	e.up.AutoApprove = "10002"
	v := e.browser().authorize(app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("id_token_hint", first.raw)))
	if v.Get("error") != "login_required" || v.Get("code") != "" {
		t.Fatalf("another person's scan with a hint: %v", v)
	}
	// The refused scan leaves no session behind (its cookie was never set).
	users, err := e.store.ListUsers(t.Context(), storage.UserFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var scanned bool
	for _, u := range users {
		if u.ExternalID != "10002" {
			continue
		}
		scanned = true
		live, err := e.store.ListUserSessions(t.Context(), u.ID, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(live) != 0 {
			t.Errorf("the refused scan left %d sessions", len(live))
		}
	}
	if !scanned {
		t.Error("the scan did not reach the store")
	}
}

// The login cookie stays well under the 4 KB browsers keep, even with the
// largest state and nonce allowed.
func TestLoginCookieSize(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	e.up.AutoApprove = ""
	app := e.rp("app", testSecret)
	b := e.browser()
	b.get(app.conf.AuthCodeURL(strings.Repeat("s", 1024), oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("nonce", strings.Repeat("n", 1024))))
	var found bool
	for _, c := range b.hc.Jar.Cookies(mustURL(e.issuer + "/login/dev/callback")) {
		if strings.HasPrefix(c.Name, "__Host-dingoidc_login_") { // an https issuer: __Host- cookies
			found = true
			if size := len(c.Name) + len(c.Value); size > 3800 {
				t.Errorf("login cookie is %d bytes", size)
			}
		}
	}
	if !found {
		t.Fatal("no login cookie")
	}
}

// A refresh family ends RefreshMaxTTL (90 days) after the scan, however
// often it is used: someone removed upstream loses access then at the latest.
func TestRefreshAbsoluteLifetime(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	app := e.rp("app", testSecret)
	rt := app.login(e.browser()).token.RefreshToken
	refresh := func() error {
		tok, err := app.conf.TokenSource(app.ctx, &oauth2.Token{RefreshToken: rt}).Token()
		if err == nil {
			rt = tok.RefreshToken
		}
		return err
	}
	for day := 25; day <= 75; day += 25 {
		e.clock.Advance(25 * 24 * time.Hour)
		if err := refresh(); err != nil {
			t.Fatalf("refresh on day %d: %v", day, err)
		}
	}
	e.clock.Advance(20 * 24 * time.Hour) // day 95: within the idle TTL, past the maximum
	if err := refresh(); err == nil {
		t.Fatal("refresh token still works 95 days after the scan")
	}
}

// Unknown client ids are remembered for a while: junk authorization
// requests do not reach the database each time.
func TestUnknownClientCached(t *testing.T) {
	st := backends()[0].open(t)
	e := newEnv(t, st)
	q := url.Values{"client_id": {"nobody"}, "redirect_uri": {testRedirect}, "response_type": {"code"}, "scope": {"openid"}}
	e.browser().get(e.issuer + "/authorize?" + q.Encode())
	before := stats(t, st)
	for range 20 {
		if resp, _ := e.browser().get(e.issuer + "/authorize?" + q.Encode()); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("unknown client: %d", resp.StatusCode)
		}
	}
	if n := stats(t, st).Statements - before.Statements; n > 0 {
		t.Errorf("20 requests for an unknown client ran %d statements", n)
	}
}

// Somebody else's ID token (anyone has one of their own) does not skip the
// logout confirmation: only a hint naming this session's person does.
func TestLogoutHintOfAnotherPerson(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	app := e.rp("app", testSecret)
	attacker := app.login(e.browser()) // 10001
	e.up.AutoApprove = "10002"
	victim := e.browser()
	app.login(victim)
	resp, page := victim.get(e.issuer + "/end_session?" + url.Values{"id_token_hint": {attacker.raw}, "post_logout_redirect_uri": {testLogout}}.Encode())
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `method="post"`) {
		t.Fatalf("another person's hint: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if v := victim.authorize(app.conf.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none"))); v.Get("code") == "" {
		t.Fatalf("another person's hint ended the session: %v", v)
	}
	// A forged hint: after confirming, still no redirect.
	_, page = victim.get(e.issuer + "/end_session?" + url.Values{"id_token_hint": {attacker.raw[:len(attacker.raw)-4] + "AAAA"}, "post_logout_redirect_uri": {testLogout}}.Encode())
	if resp := victim.confirmLogout(page); resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
		t.Errorf("confirmed logout with a forged hint redirected: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestCodeStraightFromCallback: the request that completes a login, the
// upstream callback or (SSO session) /authorize itself, sends the browser
// to the app with its code: no /login or /authorize/callback hop between.
func TestCodeStraightFromCallback(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	app := e.rp("app", testSecret)
	b := e.browser()
	var paths []string
	next := b.hc.CheckRedirect
	b.hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		paths = append(paths, req.URL.Path)
		return next(req, via)
	}
	for _, kind := range []string{"scan", "SSO session"} {
		paths = nil
		v := oauth2.GenerateVerifier()
		resp, _ := b.get(app.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(v)))
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" || loc.Query().Get("state") != "st" {
			t.Fatalf("%s: %d %q", kind, resp.StatusCode, resp.Header.Get("Location"))
		}
		last := resp.Request.URL.Path
		if want := map[string]string{"scan": "/login/dev/callback", "SSO session": "/authorize"}[kind]; last != want {
			t.Errorf("%s: the code came from %s, want %s (redirects %v)", kind, last, want, paths)
		}
		for _, p := range paths {
			if strings.HasSuffix(p, "/authorize/callback") || strings.HasSuffix(p, "/login") {
				t.Errorf("%s: went through %s (redirects %v)", kind, p, paths)
			}
		}
		if tk := e.exchange(loc.Query().Get("code"), v); tk.id["sub"] == nil {
			t.Errorf("%s: no sub in %v", kind, tk.id)
		}
	}
}
