package nginx

import (
	"crypto/rand"
	"crypto/tls"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const (
	// callback is the app's redirect URI; nothing serves it: the browser
	// stops there and the test takes the code.
	callback     = "http://127.0.0.1:9/nginx/callback"
	clientSecret = "e2e-nginx-s3cret.Zq8vLw4nR7pT2mK9xB1cY6~_"
	// zhangsan is 张三 in the DingTalk simulator's fixture.
	zhangsanUnionID = "QY7vA9rRRxK4nQcn6zdha8MiEiE"
)

// TestLoginThroughNginx: an app using coreos/go-oidc logs in through nginx
// with an issuer under a path prefix: discovery, authorization with PKCE
// and a nonce, the DingTalk simulator's scan, token, ID token verification
// against the JWKS, userinfo and refresh, every request through nginx.
func TestLoginThroughNginx(t *testing.T) {
	requireNginx(t)
	ctx := oidc.ClientContext(t.Context(), httpsClient())
	provider, err := oidc.NewProvider(ctx, env.issuer) // checks the issuer byte for byte
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var meta struct {
		Authorization string `json:"authorization_endpoint"`
		Token         string `json:"token_endpoint"`
		Userinfo      string `json:"userinfo_endpoint"`
		JWKS          string `json:"jwks_uri"`
		EndSession    string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	for name, u := range map[string]string{"authorization": meta.Authorization, "token": meta.Token, "userinfo": meta.Userinfo, "jwks": meta.JWKS, "end_session": meta.EndSession} {
		if !strings.HasPrefix(u, env.issuer+"/") {
			t.Errorf("%s endpoint %s is not under the issuer %s", name, u, env.issuer)
		}
	}

	conf := &oauth2.Config{
		ClientID: "gooidc", ClientSecret: clientSecret,
		Endpoint: provider.Endpoint(), RedirectURL: callback,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess},
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: "gooidc"})
	state, nonce, pkce := rand.Text(), rand.Text(), oauth2.GenerateVerifier()

	b := newBrowser(t)
	cb := b.login(conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(pkce)))
	if got := cb.Query().Get("state"); got != state {
		t.Fatalf("state = %q, want %q", got, state)
	}
	tok, err := conf.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(pkce))
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if idt.Nonce != nonce || idt.Issuer != env.issuer || idt.Subject != "dingtalk_"+zhangsanUnionID {
		t.Errorf("ID token iss %q sub %q nonce ok %v", idt.Issuer, idt.Subject, idt.Nonce == nonce)
	}
	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var claims struct {
		Name string `json:"name"`
	}
	if err := ui.Claims(&claims); err != nil || ui.Subject != idt.Subject || claims.Name != "张三" {
		t.Errorf("userinfo sub %q name %q (%v)", ui.Subject, claims.Name, err)
	}
	tok.Expiry = time.Now().Add(-time.Minute)
	fresh, err := conf.TokenSource(ctx, tok).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if raw2, _ := fresh.Extra("id_token").(string); raw2 == "" {
		t.Error("refresh returned no ID token")
	} else if _, err := verifier.Verify(ctx, raw2); err != nil {
		t.Errorf("verify refreshed ID token: %v", err)
	}

	// nginx carried it all: the token, userinfo and simulator requests are
	// in its access log.
	access, err := os.ReadFile(env.nginxLog)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"POST " + issuerPath + "/oauth/token", "GET " + issuerPath + "/userinfo", "GET " + issuerPath + "/keys", issuerPath + "/sim/"} {
		if !strings.Contains(string(access), want) {
			t.Errorf("nginx's access log has no %q", want)
		}
	}
	// Cookies set behind https are marked Secure.
	if len(b.setCookies) == 0 {
		t.Error("the login set no cookie")
	}
	for _, c := range b.setCookies {
		if !strings.Contains(strings.ToLower(c), "secure") {
			t.Errorf("cookie without Secure behind https: %s", c)
		}
	}
}

// TestOutsidePrefix: nginx forwards only the issuer's path.
func TestOutsidePrefix(t *testing.T) {
	requireNginx(t)
	resp, err := httpsClient().Get(strings.TrimSuffix(env.issuer, issuerPath) + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("outside %s: %s, want nginx's 404", issuerPath, resp.Status)
	}
}

// browser is a person's browser: cookies, the test CA, redirects followed
// until the app's callback.
type browser struct {
	t          *testing.T
	hc         *http.Client
	setCookies []string
}

var errStopped = errors.New("stopped at the callback")

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t}
	b.hc = &http.Client{
		Jar:       jar,
		Timeout:   30 * time.Second,
		Transport: recordCookies{b, &http.Transport{TLSClientConfig: &tls.Config{RootCAs: env.roots}}},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), callback) {
				return errStopped
			}
			if len(via) > 20 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
	return b
}

type recordCookies struct {
	b  *browser
	rt http.RoundTripper
}

func (r recordCookies) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	req.Header.Set("User-Agent", "Mozilla/5.0 (dingoidc e2e browser)")
	resp, err := r.rt.RoundTrip(req)
	if err == nil {
		r.b.setCookies = append(r.b.setCookies, resp.Header.Values("Set-Cookie")...)
	}
	return resp, err
}

func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.hc.Get(u)
	if err != nil && !errors.Is(err, errStopped) {
		b.t.Fatalf("GET %s: %v\ndingoidc log:\n%s", u, err, tail(env.log.String()))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// login follows the authorization URL, chooses DingTalk, scans as 张三 and
// returns the callback URL the browser was sent to.
func (b *browser) login(authURL string) *url.URL {
	b.t.Helper()
	resp, page := b.get(authURL)
	if strings.Contains(page, "upstream=dingtalk") {
		resp, page = b.get(b.resolve(resp, b.find(page, `href="([^"]*upstream=dingtalk[^"]*)"`)))
	}
	scan := b.find(page, `<a href="([^"]*simulator/scan[^"]*)" data-union-id="`+zhangsanUnionID+`"`)
	resp, page = b.get(b.resolve(resp, scan))
	loc := resp.Header.Get("Location")
	if resp.StatusCode/100 != 3 || !strings.HasPrefix(loc, callback) {
		b.t.Fatalf("login did not end at the callback: %s %s\n%.800s\ndingoidc log:\n%s", resp.Status, loc, page, tail(env.log.String()))
	}
	u, err := url.Parse(loc)
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}

func (b *browser) find(page, pattern string) string {
	b.t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no %s in page: %.1000s", pattern, page)
	}
	return html.UnescapeString(m[1])
}

func (b *browser) resolve(resp *http.Response, ref string) string {
	b.t.Helper()
	u, err := resp.Request.URL.Parse(ref)
	if err != nil {
		b.t.Fatal(err)
	}
	return u.String()
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}
