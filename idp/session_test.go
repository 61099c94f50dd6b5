package idp_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/dingoidc/dingoidc/idp"
	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/storage/postgres"
	"github.com/dingoidc/dingoidc/storage/postgres/pgtest"
)

// TestSSOAndPrompts: A8 — prompt=none with and without a session,
// prompt=login and max_age force a new scan, id_token_hint.
func TestSSOAndPrompts(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	app := e.rp("app", testSecret)
	b := e.browser()

	v := b.authorize(app.conf.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none")))
	if v.Get("error") != "login_required" || v.Get("state") != "s" {
		t.Fatalf("prompt=none without session: %v", v)
	}
	first := app.login(b)
	scans := e.up.Exchanges

	silent := app.login(b, oauth2.SetAuthURLParam("prompt", "none"))
	if silent.idToken.Subject != first.idToken.Subject || e.up.Exchanges != scans {
		t.Fatal("prompt=none with a session did not reuse it silently")
	}
	// A second app gets in without a scan too.
	other := e.rp("app", testSecret)
	other.login(b)
	if e.up.Exchanges != scans {
		t.Fatal("SSO session was not reused")
	}
	hint := app.login(b, oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", first.raw))
	if hint.idToken.Subject != first.idToken.Subject {
		t.Fatal("id_token_hint + prompt=none failed")
	}

	e.clock.Advance(2 * time.Second)
	forced := app.login(b, oauth2.SetAuthURLParam("prompt", "login"))
	if e.up.Exchanges != scans+1 {
		t.Fatal("prompt=login did not force a new scan")
	}
	if !forced.idToken.IssuedAt.After(first.idToken.IssuedAt.Add(-time.Second)) {
		t.Error("iat not fresh")
	}
	at1, at2 := authTime(t, first), authTime(t, forced)
	if !at2.After(at1) {
		t.Errorf("auth_time after prompt=login %v, not after %v", at2, at1)
	}

	e.clock.Advance(5 * time.Second)
	app.login(b, oauth2.SetAuthURLParam("max_age", "10000"))
	if e.up.Exchanges != scans+1 {
		t.Fatal("max_age=10000 forced a scan")
	}
	ma := app.login(b, oauth2.SetAuthURLParam("max_age", "1"))
	if e.up.Exchanges != scans+2 {
		t.Fatal("max_age=1 did not force a scan")
	}
	if _, ok := ma.claims["auth_time"]; !ok {
		t.Error("auth_time missing with max_age")
	}
	v = b.authorize(app.conf.AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("max_age", "0")))
	if v.Get("error") != "login_required" {
		t.Errorf("prompt=none with max_age exceeded: %v", v)
	}
}

func authTime(t *testing.T, l *login) time.Time {
	t.Helper()
	f, ok := l.claims["auth_time"].(float64)
	if !ok {
		t.Fatalf("no auth_time in %v", l.claims)
	}
	return time.Unix(int64(f), 0)
}

// TestSessionSwap: a scan completed for browser A never finishes a login in
// browser B — neither the upstream callback nor the completed request.
func TestSessionSwap(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	idp.CallbackHop(e.srv) // the second half: the route older replicas use
	app := e.rp("app", testSecret)
	e.up.AutoApprove = ""
	victim, attacker := e.browser(), e.browser()

	// Attacker starts a login and gets as far as the upstream's QR page.
	resp, _ := attacker.get(app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	qr := resp.Request.URL
	if !strings.Contains(qr.Path, "/upstream/authorize") {
		t.Fatalf("not at the upstream: %s", qr)
	}
	// The victim scans it; the callback lands in the victim's browser.
	callback, err := e.up.Approve("10001", qr.Query().Get("state"), qr.Query().Get("redirect_uri"))
	if err != nil {
		t.Fatal(err)
	}
	resp, body := victim.get(callback)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "另一个浏览器") {
		t.Fatalf("callback in another browser: %d %.200s", resp.StatusCode, body)
	}
	if users, _ := e.store.ListUsers(t.Context(), storage.UserFilter{}); len(users) != 0 {
		t.Fatal("a user was created by the swapped callback")
	}

	// The other way: the attacker completes their own scan, then feeds the
	// completed request to the victim.
	attacker.hc.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if strings.HasSuffix(req.URL.Path, "/authorize/callback") {
			return http.ErrUseLastResponse
		}
		return nil
	}
	callback, _ = e.up.Approve("10001", qr.Query().Get("state"), qr.Query().Get("redirect_uri"))
	resp, _ = attacker.get(callback)
	completed := resp.Header.Get("Location")
	if !strings.Contains(completed, "/authorize/callback?id=") {
		t.Fatalf("no completed request: %d %q", resp.StatusCode, completed)
	}
	resp, _ = victim.get(e.issuer + completed)
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("completed request in another browser: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// In the right browser it works.
	attacker.hc.CheckRedirect = e.browser().hc.CheckRedirect
	resp, _ = attacker.get(e.issuer + completed)
	if loc, _ := url.Parse(resp.Header.Get("Location")); resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" {
		t.Fatalf("completed request in its own browser: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The upstream state is single use: replaying the callback fails.
	resp, _ = attacker.get(callback)
	if resp.StatusCode == http.StatusFound {
		t.Fatal("upstream callback replayed")
	}
}

// TestDisabledUser: a disabled user can neither log in nor refresh.
func TestDisabledUser(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be.open(t))
			app := e.rp("app", testSecret)
			l := app.login(e.browser())
			if err := e.store.SetUserDisabled(t.Context(), l.idToken.Subject, true, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			if _, err := app.conf.TokenSource(app.ctx, &oauth2.Token{RefreshToken: l.token.RefreshToken}).Token(); err == nil {
				t.Error("disabled user refreshed")
			}
			if _, err := app.provider.UserInfo(app.ctx, oauth2.StaticTokenSource(l.token)); err == nil {
				t.Error("disabled user's access token still works at userinfo")
			}
			resp, body := e.browser().get(app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "停用") {
				t.Fatalf("disabled login: %d %.200s", resp.StatusCode, body)
			}
			if err := e.store.SetUserDisabled(t.Context(), l.idToken.Subject, false, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			app.login(e.browser())
		})
	}
}

// TestConcurrency: many logins and many refreshes of one token at once, on
// both backends, with no failure.
func TestConcurrency(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be.open(t))
			app := e.rp("app", testSecret)
			var wg sync.WaitGroup
			errs := make(chan string, 64)
			for i := 0; i < 16; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					b := e.browser()
					v := oauth2.GenerateVerifier()
					resp, err := b.hc.Get(app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
					if err != nil {
						errs <- err.Error()
						return
					}
					resp.Body.Close()
					loc, _ := url.Parse(resp.Header.Get("Location"))
					if loc == nil || loc.Query().Get("code") == "" {
						errs <- "no code: " + resp.Status
						return
					}
					if _, err := app.conf.Exchange(app.ctx, loc.Query().Get("code"), oauth2.VerifierOption(v)); err != nil {
						errs <- "exchange: " + err.Error()
					}
				}()
			}
			wg.Wait()

			l := app.login(e.browser())
			tokens := make(chan string, 16)
			for i := 0; i < 16; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tok, err := app.conf.TokenSource(app.ctx, &oauth2.Token{RefreshToken: l.token.RefreshToken}).Token()
					if err != nil {
						errs <- "refresh: " + err.Error()
						return
					}
					tokens <- tok.RefreshToken
				}()
			}
			wg.Wait()
			close(errs)
			close(tokens)
			for msg := range errs {
				t.Error(msg)
			}
			seen := map[string]bool{}
			for tk := range tokens {
				seen[tk] = true
			}
			if len(seen) != 1 {
				t.Errorf("concurrent refreshes produced %d different tokens, want 1", len(seen))
			}
		})
	}
}

// TestRefreshReuse: a rotated refresh token presented after the grace
// window revokes the whole grant.
func TestRefreshReuse(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	app := e.rp("app", testSecret)
	l := app.login(e.browser())
	r1, err := app.conf.TokenSource(app.ctx, &oauth2.Token{RefreshToken: l.token.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	// Within the grace window the old token answers the same new token.
	again, err := app.conf.TokenSource(app.ctx, &oauth2.Token{RefreshToken: l.token.RefreshToken}).Token()
	if err != nil || again.RefreshToken != r1.RefreshToken {
		t.Fatalf("retry within grace: %v %v", err, again)
	}
	e.clock.Advance(time.Minute)
	if _, err := app.conf.TokenSource(app.ctx, &oauth2.Token{RefreshToken: l.token.RefreshToken}).Token(); err == nil {
		t.Fatal("rotated token accepted after the grace window")
	}
	if _, err := app.conf.TokenSource(app.ctx, &oauth2.Token{RefreshToken: r1.RefreshToken}).Token(); err == nil {
		t.Fatal("grant not revoked after reuse: the current token still works")
	}
	// A refresh token is bound to its client (T5).
	l2 := app.login(e.browser())
	e.addClient(storageClient("second"), "second-secret-second")
	other := e.rp("second", "second-secret-second")
	if _, err := other.conf.TokenSource(other.ctx, &oauth2.Token{RefreshToken: l2.token.RefreshToken}).Token(); err == nil {
		t.Fatal("another client used the refresh token")
	}
}

// TestTwoReplicas: two providers on one Postgres behind one address: a code
// issued by one is redeemed at the other, a refresh goes to either, and both
// serve the same JWKS.
func TestTwoReplicas(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	open := func() storage.Store {
		st, err := postgres.Open(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	e := newEnv(t, open())
	e.addReplica(open())
	app := e.rp("app", testSecret)

	e.use(0)
	code, ver := app.code(e.browser())
	e.use(1)
	tok, err := app.conf.Exchange(app.ctx, code, oauth2.VerifierOption(ver))
	if err != nil {
		t.Fatalf("redeem at the other replica: %v", err)
	}
	j1 := getBody(t, e, "/keys")
	e.use(0)
	l := app.verify(tok) // verified with replica 0's JWKS
	j0 := getBody(t, e, "/keys")
	if j0 != j1 {
		t.Fatalf("JWKS differ:\n%s\n%s", j0, j1)
	}
	if _, err := app.conf.TokenSource(app.ctx, &oauth2.Token{RefreshToken: l.token.RefreshToken}).Token(); err != nil {
		t.Fatalf("refresh at replica 0: %v", err)
	}
}

// TestLogoutBeforeRedeem: a code whose SSO session was logged out before
// the app redeemed it yields nothing.
func TestLogoutBeforeRedeem(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be.open(t))
			app := e.rp("app", testSecret)
			b := e.browser()
			code, ver := app.code(b)
			_, page := b.get(e.issuer + "/end_session")
			if resp := b.confirmLogout(page); resp.StatusCode != http.StatusOK {
				t.Fatalf("end_session: %d", resp.StatusCode)
			}
			resp, body := e.postForm("/oauth/token", tokenForm(code, ver), "app", testSecret)
			if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
				t.Fatalf("redeem after logout: %d %v", resp.StatusCode, body)
			}
		})
	}
}
