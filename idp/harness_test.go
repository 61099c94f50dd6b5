package idp_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/dingoidc/dingoidc/idp"
	"github.com/dingoidc/dingoidc/idp/keys"
	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/storage/postgres"
	"github.com/dingoidc/dingoidc/storage/postgres/pgtest"
	"github.com/dingoidc/dingoidc/storage/sqlite"
	"github.com/dingoidc/dingoidc/upstream/upstreamtest"
)

const (
	testSecret   = "s3cr3t-Value_that-is-long-enough"
	testRedirect = "https://app.example.test/callback"
	testLogout   = "https://app.example.test/logged-out"
)

var testMasterKey = bytes.Repeat([]byte{7}, 32)

// backend opens a fresh store of one kind.
type backend struct {
	name string
	open func(t testing.TB) storage.Store
}

func backends() []backend {
	return []backend{
		{"sqlite", func(t testing.TB) storage.Store {
			st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
		{"postgres", func(t testing.TB) storage.Store {
			dsn := pgtest.NewDatabase(t)
			st, err := postgres.Open(t.Context(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}},
	}
}

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// env is one running provider on an HTTPS test server, with a fake upstream
// mounted under /upstream on the same server.
type env struct {
	t      testing.TB
	srv    *idp.Server
	ts     *httptest.Server
	up     *upstreamtest.Provider
	store  storage.Store
	issuer string
	logs   *syncBuffer
	clock  *clock
	cfg    idp.Config
	mux    *http.ServeMux

	// replicas behind the one test server (a load balancer): requests go to
	// replicas[pick].
	replicas []http.Handler
	pick     atomic.Int32
}

// use sends the following requests to replica i.
func (e *env) use(i int) { e.pick.Store(int32(i)) }

// clock is real time shifted by an offset the test moves forward.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// envOption adjusts the setup before the provider starts: e.cfg (issuer,
// upstreams) and e.mux (to mount upstream simulators) are ready.
type envOption func(e *env)

func newEnv(t testing.TB, st storage.Store, opts ...envOption) *env {
	t.Helper()
	e := &env{t: t, store: st, logs: &syncBuffer{}, clock: &clock{}}
	mux := http.NewServeMux()
	e.mux = mux
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { e.replicas[e.pick.Load()].ServeHTTP(w, r) })
	e.ts = httptest.NewUnstartedServer(mux)
	e.ts.StartTLS()
	t.Cleanup(e.ts.Close)
	e.issuer = e.ts.URL

	e.up = upstreamtest.New(e.issuer+"/upstream", upstreamtest.DefaultPeople())
	e.up.AutoApprove = "10001"
	e.up.Now = e.clock.Now
	mux.Handle("/upstream/", e.up.Handler())

	e.cfg = idp.Config{
		Issuer:    e.issuer,
		MasterKey: testMasterKey,
		Upstreams: []idp.UpstreamConfig{{ID: "dev", Name: "测试", Provider: e.up}},
	}
	for _, o := range opts {
		o(e)
	}
	e.issuer = e.cfg.Issuer
	e.srv = e.addReplica(st)
	e.addClient(storage.Client{ID: "app", Name: "测试应用", RedirectURIs: []string{testRedirect}, PostLogoutRedirectURIs: []string{testLogout}}, testSecret)
	return e
}

// addReplica starts one more provider on store st (same issuer, same
// upstream) behind the test server.
func (e *env) addReplica(st storage.Store) *idp.Server {
	e.t.Helper()
	logger := slog.New(idp.LogHandler(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	sealer, err := keys.NewSealer(testMasterKey)
	if err != nil {
		e.t.Fatal(err)
	}
	km := keys.NewManager(st, sealer, keys.Options{Logger: logger})
	if err := km.Ensure(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	srv, err := idp.New(e.cfg, idp.Deps{Store: st, Keys: km, Logger: logger, Now: e.clock.Now})
	if err != nil {
		e.t.Fatal(err)
	}
	// Write the sign-in log before the store closes (its cleanup was
	// registered first, so it runs after this one).
	e.t.Cleanup(func() { _ = srv.Close(context.Background()) })
	e.replicas = append(e.replicas, srv.Handler())
	return srv
}

func (e *env) addClient(c storage.Client, secret string) {
	e.t.Helper()
	if c.CreatedAt.IsZero() {
		c.CreatedAt, c.UpdatedAt = time.Now(), time.Now()
	}
	if secret != "" {
		h := sha256.Sum256([]byte(secret))
		c.SecretHash = h[:]
	}
	if err := e.store.CreateClient(e.t.Context(), &c); err != nil {
		e.t.Fatal(err)
	}
}

// browser is a user agent with its own cookies. It follows redirects until
// one leaves for an app's redirect URI.
type browser struct {
	e  *env
	hc *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	hc := e.ts.Client()
	c := *hc
	c.Jar = jar
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), "https://app.example.test/") {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return &browser{e: e, hc: &c}
}

// get follows redirects and returns the last response (an app redirect or
// a page) with its body read.
func (b *browser) get(u string) (*http.Response, string) {
	b.e.t.Helper()
	resp, err := b.hc.Get(u)
	if err != nil {
		b.e.t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// authorize runs the browser through the login and returns the app
// redirect's query (code and state, or error).
func (b *browser) authorize(authURL string) url.Values {
	b.e.t.Helper()
	resp, body := b.get(authURL)
	if resp.StatusCode != http.StatusFound {
		b.e.t.Fatalf("authorize ended with %d, not an app redirect: %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		b.e.t.Fatal(err)
	}
	return loc.Query()
}

// rp is an app using coreos/go-oidc and x/oauth2, as Argo CD, oauth2-proxy
// and kubelogin do.
type rp struct {
	e        *env
	ctx      context.Context
	provider *oidc.Provider
	conf     oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func (e *env) rp(clientID, secret string, scopes ...string) *rp {
	e.t.Helper()
	ctx := oidc.ClientContext(e.t.Context(), e.ts.Client())
	p, err := oidc.NewProvider(ctx, e.issuer)
	if err != nil {
		e.t.Fatalf("discovery: %v", err)
	}
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email", "groups", oidc.ScopeOfflineAccess}
	}
	return &rp{
		e: e, ctx: ctx, provider: p,
		conf:     oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: p.Endpoint(), RedirectURL: testRedirect, Scopes: scopes},
		verifier: p.Verifier(&oidc.Config{ClientID: clientID}),
	}
}

type login struct {
	token   *oauth2.Token
	idToken *oidc.IDToken
	raw     string
	claims  map[string]any
}

// login runs a whole code flow with PKCE and nonce in browser b.
func (r *rp) login(b *browser, extra ...oauth2.AuthCodeOption) *login {
	r.e.t.Helper()
	verifier := oauth2.GenerateVerifier()
	state, nonce := "st+/=ate"+oauth2.GenerateVerifier()[:8], "n-"+oauth2.GenerateVerifier()[:8]
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)}, extra...)
	q := b.authorize(r.conf.AuthCodeURL(state, opts...))
	if q.Get("error") != "" {
		r.e.t.Fatalf("authorize error: %s %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != state {
		r.e.t.Fatalf("state not echoed: got %q want %q", q.Get("state"), state)
	}
	tok, err := r.conf.Exchange(r.ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		r.e.t.Fatalf("exchange: %v", err)
	}
	l := r.verify(tok)
	if l.idToken.Nonce != nonce {
		r.e.t.Fatalf("nonce %q, want %q", l.idToken.Nonce, nonce)
	}
	return l
}

func (r *rp) verify(tok *oauth2.Token) *login {
	r.e.t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		r.e.t.Fatal("token response has no id_token")
	}
	idt, err := r.verifier.Verify(r.ctx, raw)
	if err != nil {
		r.e.t.Fatalf("verify id token: %v", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		r.e.t.Fatal(err)
	}
	return &login{token: tok, idToken: idt, raw: raw, claims: claims}
}

// postForm posts to an endpoint with optional Basic credentials.
func (e *env) postForm(path string, form url.Values, user, pass string) (*http.Response, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	return resp, m
}

// stats reads the backend's statement counters.
func stats(t testing.TB, st storage.Store) storage.Stats {
	t.Helper()
	r, ok := st.(storage.StatsReporter)
	if !ok {
		t.Fatal("backend does not count statements")
	}
	return r.Stats()
}

// confirmLogout submits the logout confirmation form of page, as the
// person's click would, and returns the answer.
func (b *browser) confirmLogout(page string) *http.Response {
	b.e.t.Helper()
	form := url.Values{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if form.Get("confirm") == "" {
		b.e.t.Fatalf("no logout confirmation form: %.300s", page)
	}
	resp, err := b.hc.PostForm(b.e.issuer+"/end_session", form)
	if err != nil {
		b.e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}
