package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/dingoidc/dingoidc/idp/keys"
	"github.com/dingoidc/dingoidc/storage/postgres/pgtest"
	"github.com/dingoidc/dingoidc/upstream/zzdsim"
)

// TestReplicasUnderLoad: three `serve` processes on one PostgreSQL behind a
// round-robin load balancer (replicas_proxy_test.go), logged in through by
// several workers at once, each login a first login through one shared 浙政钉
// simulator (auto-approving), every step of it on another replica than the
// step before. A quarter into the run an operator runs `keys rotate --now`;
// later a login is taken through the upstream on replica 3 alone, replica 3
// is stopped (gracefully, as on SIGTERM) and the login goes on at another
// one. Every ID token verifies with every running replica's JWKS, at once
// and after the run, and nothing fails: not a login, not a verification.
//
// DINGOIDC_REPLICA_TEST_SECONDS (default 12) and
// DINGOIDC_REPLICA_TEST_WORKERS (default 6) set the length and the load,
// for a longer measurement of logins/s.
func TestReplicasUnderLoad(t *testing.T) {
	dur := time.Duration(replicaEnvInt(t, "DINGOIDC_REPLICA_TEST_SECONDS", 12)) * time.Second
	workers := replicaEnvInt(t, "DINGOIDC_REPLICA_TEST_WORKERS", 6)
	e := startReplicas(t, 3)
	ctx := t.Context()

	// The load.
	var stop atomic.Bool
	var wg sync.WaitGroup
	defer func() { stop.Store(true); wg.Wait() }() // before the replicas stop
	loadStart := time.Now()
	e.stats.start = loadStart
	for range workers {
		wg.Go(func() {
			for !stop.Load() {
				if err := e.login(ctx); err != nil {
					e.stats.fail("login", err)
				}
			}
		})
	}
	at := func(frac float64) { replicaSleepUntil(ctx, loadStart.Add(time.Duration(frac*float64(dur)))) }

	// The rotation, by an operator, with the config the replicas run.
	at(0.25)
	var out, errOut bytes.Buffer
	rotateStart := time.Now()
	if err := run(ctx, []string{"keys", "rotate", "--now", "--json", "--config", e.cfgPath}, e.getenv, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("keys rotate --now: %v\n%s", err, errOut.String())
	}
	rotatedAt := time.Now()
	rotated := decodeJSON[keyView](t, out.String())

	// A login begun on replica 3, which stops (once the new key has signed
	// there for a second); the login goes on elsewhere.
	at(0.6)
	replicaSleepUntil(ctx, rotated.ActiveFrom.Add(time.Second))
	stopped := e.loginAcrossStop(ctx, e.replicas[2])

	// Until the new key has signed for a while.
	limit := loadStart.Add(3*dur + 30*time.Second)
	for {
		first := e.stats.kidFirstSeen(rotated.ID)
		if time.Since(loadStart) >= dur && !first.IsZero() && time.Since(first) >= dur/6 {
			break
		}
		if time.Now().After(limit) {
			e.stats.fail("rotation", fmt.Errorf("no token signed by the new key %s %s after the rotation", rotated.ID, time.Since(rotatedAt).Round(time.Millisecond)))
			break
		}
		replicaSleepUntil(ctx, time.Now().Add(50*time.Millisecond))
	}
	stop.Store(true)
	wg.Wait()
	loadDur := time.Since(loadStart)
	logins := e.stats.logins.Load()

	// After the run: every token kept still verifies at the replicas left
	// (key sets fetched afresh), and early refresh tokens still refresh.
	e.checkAfterRun(ctx)

	// The figures.
	s := e.stats
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Logf("%d workers, %d logins in %s: %.1f logins/s (each: authorize → 浙政钉 → code → token → ID token verified at every replica → userinfo → refresh → verified); %.1f steps a login",
		workers, logins, loadDur.Round(time.Millisecond), float64(logins)/loadDur.Seconds(), float64(s.steps.Load())/float64(max(logins, 1)))
	var served []string
	for i := range e.replicas {
		served = append(served, fmt.Sprintf("replica %d: %d", i+1, e.lb.served[i].Load()))
	}
	t.Logf("requests through the balancer: %s; resent after a refused connection: %d; step on the same replica for want of another: %d",
		strings.Join(served, ", "), e.lb.retried.Load(), e.lb.forced.Load())
	newKid := s.kids[rotated.ID]
	if newKid != nil {
		t.Logf("keys rotate --now at %s (took %s): new key %s signs from %s; first token with it verified at %s (iat %s), %d tokens with it",
			sinceStart(loadStart, rotateStart), rotatedAt.Sub(rotateStart).Round(time.Millisecond), rotated.ID, sinceStart(loadStart, rotated.ActiveFrom),
			sinceStart(loadStart, newKid.first), sinceStart(loadStart, newKid.firstIat), newKid.n)
	}
	t.Logf("replica 3 stopped at %s: out of rotation after %s, serve returned after %s; the login begun there completed at replica %d",
		sinceStart(loadStart, stopped.at), stopped.out.Round(time.Millisecond), stopped.returned.Round(time.Millisecond), stopped.finishedOn)
	t.Logf("after the run: %d tokens verified at replicas 1 and 2, %d early refresh tokens refreshed", s.checkedTokens, s.checkedRefresh)

	// The verdict.
	if s.failures > 0 {
		t.Errorf("%d failures; the first:\n  %s", s.failures, strings.Join(s.failMsgs, "\n  "))
	}
	if n := e.lb.errors.Load(); n > 0 {
		t.Errorf("the balancer answered 502 %d times: %q", n, e.lb.proxyErrors())
	}
	if logins == 0 {
		t.Error("no login completed")
	}
	old := 0
	for kid, k := range s.kids {
		if kid != rotated.ID {
			old += k.n
		}
	}
	switch {
	case old == 0:
		t.Error("no token signed by the key before the rotation")
	case newKid == nil:
		t.Errorf("no token signed by the new key %s", rotated.ID)
	case newKid.first.Before(rotateStart):
		t.Errorf("a token signed by the new key %s at %s, before the rotation at %s", rotated.ID, newKid.first, rotateStart)
	case newKid.firstIat.Before(rotated.ActiveFrom.Add(-time.Second)):
		t.Errorf("a token signed by the new key at %s (iat), before it was to sign (%s)", newKid.firstIat, rotated.ActiveFrom)
	}
	if len(s.kids) != 2 {
		t.Errorf("tokens signed by %d keys, want 2 (before and after the rotation)", len(s.kids))
	}
	if t.Failed() {
		for _, r := range e.replicas {
			t.Logf("replica %d log, warnings and errors:\n%s", r.n, logProblems(r.logs.String(), 30))
		}
	}
}

// replicaEnv is the system under test: the replicas, the balancer in
// front of them (whose URL is the issuer), the simulator, the figures.
type replicaEnv struct {
	t         *testing.T
	issuer    string
	proxyHost string
	cfgPath   string
	getenv    func(string) string
	lb        *testBalancer
	tr        *http.Transport // the browsers' and the app's connections
	replicas  []*testReplica
	stats     *replicaStats
}

type testReplica struct {
	n        int    // 1-based, as the balancer names it
	base     string // its own URL, bypassing the balancer
	cancel   context.CancelFunc
	done     chan error
	logs     *lockedBuffer
	verifier *oidc.IDTokenVerifier // with this replica's JWKS
	keys     *oidc.RemoteKeySet
	live     atomic.Bool // verifications use it
}

const (
	replicaClientID = "replica-app"
	replicaSecret   = "replica-load-test-secret-0123456789abcdef"
	replicaRedirect = "https://app.example.test/cb"
	replicaAccount  = 71453920 // 张伟 in the simulator's directory
)

// startReplicas starts n replicas on a fresh database behind a balancer,
// sharing one config file, and waits until every one is ready.
func startReplicas(t *testing.T, n int) *replicaEnv {
	dsn := pgtest.NewDatabase(t)
	env := map[string]string{"DINGOIDC_STORAGE_DSN": dsn, "DINGOIDC_SECRET_KEY": keys.GenerateMasterKey()}
	e := &replicaEnv{t: t, getenv: func(k string) string { return env[k] }, stats: newReplicaStats(),
		tr: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}}
	t.Cleanup(e.tr.CloseIdleConnections)

	proxyLn, issuer := holdListener(t)
	e.proxyHost, e.issuer = proxyLn.Addr().String(), issuer

	sim, err := zzdsim.New(zzdsim.Options{Apps: map[string]zzdsim.App{
		simDemoAppCode: {AppKey: simDemoAppKey, AppSecret: simDemoAppSecret, CallbackDomains: []string{e.proxyHost}},
	}, AutoApprove: replicaAccount})
	if err != nil {
		t.Fatal(err)
	}
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)

	dir := t.TempDir()
	e.cfgPath = filepath.Join(dir, "dingoidc.yaml")
	cfg := fmt.Sprintf(`issuer: %s
listen: 127.0.0.1:0
data_dir: %s
storage: {driver: postgres}
shutdown_grace: 2s
keys: {cache_ttl: 2s}
rate_limits: {disabled: true}
upstreams:
  - id: zzd
    type: zhezhengding
    name: 浙政钉（模拟）
    claims: {email: "{{.account}}@zzd.test.invalid"}
    login_host: %s
    api_host: %s
    app_code: %s
    app_key: %s
    app_secret: %s
clients:
  - id: %s
    secret: %s
    redirect_uris: [%s]
    # JWT access tokens, so that they too are checked at every replica's JWKS.
    access_token_format: jwt
`, e.issuer, dir, simSrv.URL, simSrv.URL, simDemoAppCode, simDemoAppKey, simDemoAppSecret, replicaClientID, replicaSecret, replicaRedirect)
	if err := os.WriteFile(e.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	var backends []string
	for i := range n {
		ln, base := holdListener(t)
		ctx, cancel := context.WithCancel(context.Background())
		r := &testReplica{n: i + 1, base: base, cancel: cancel, done: make(chan error, 1), logs: &lockedBuffer{}}
		go func() {
			r.done <- serveWith(ctx, []string{"--config", e.cfgPath}, e.getenv, io.Discard, r.logs, serveHooks{listener: ln})
		}()
		r.keys = oidc.NewRemoteKeySet(context.Background(), r.base+"/keys")
		r.verifier = oidc.NewVerifier(e.issuer, r.keys, &oidc.Config{ClientID: replicaClientID})
		r.live.Store(true)
		e.replicas = append(e.replicas, r)
		backends = append(backends, r.base)
	}
	t.Cleanup(func() { // after the load: the replicas still running stop, together
		for _, r := range e.replicas {
			r.cancel()
		}
		for _, r := range e.replicas {
			select {
			case err := <-r.done:
				if err != nil {
					t.Errorf("replica %d: serve: %v", r.n, err)
				}
				r.done <- err // for another reader
			case <-time.After(45 * time.Second):
				t.Errorf("replica %d did not stop", r.n)
			}
		}
	})
	for _, r := range e.replicas {
		r.waitReady(t)
	}

	e.lb = newTestBalancer(backends)
	hcCtx, stopHC := context.WithCancel(context.Background())
	go e.lb.healthCheck(hcCtx, 100*time.Millisecond)
	proxy := &http.Server{Handler: e.lb.handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = proxy.Serve(proxyLn) }()
	t.Cleanup(func() { stopHC(); proxy.Close(); e.lb.tr.CloseIdleConnections() })
	return e
}

// waitReady waits until the replica answers /readyz with 200. (Its
// listener accepts connections before serve has started, or after it
// failed: each try is bounded.)
func (r *testReplica) waitReady(t *testing.T) {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("replica %d: serve ended: %v\n%s", r.n, err, logTail(r.logs.String(), 20))
		default:
		}
		if resp, err := hc.Get(r.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %d not ready after 60s:\n%s", r.n, logTail(r.logs.String(), 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// replicaLogin is one person's login: their browser (cookie jar), the app's
// PKCE verifier, nonce and state, and the replica of the last step.
type replicaLogin struct {
	e                      *replicaEnv
	tr                     *replicaSteps
	jar                    http.CookieJar
	verifier, nonce, state string
}

func (e *replicaEnv) newLogin(only int) *replicaLogin {
	jar, _ := cookiejar.New(nil)
	return &replicaLogin{e: e, jar: jar, verifier: replicaRand(32), nonce: replicaRand(12), state: replicaRand(12),
		tr: &replicaSteps{base: e.tr, proxyHost: e.proxyHost, only: only}}
}

func (l *replicaLogin) authorizeURL() string {
	sum := sha256.Sum256([]byte(l.verifier))
	q := url.Values{"client_id": {replicaClientID}, "redirect_uri": {replicaRedirect}, "response_type": {"code"},
		"scope": {"openid profile offline_access"}, "state": {l.state}, "nonce": {l.nonce},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	return l.e.issuer + "/authorize?" + q.Encode()
}

// login is a whole first login.
func (e *replicaEnv) login(ctx context.Context) error {
	l := e.newLogin(0)
	code, err := l.toApp(ctx, l.authorizeURL())
	if err != nil {
		return err
	}
	_, err = l.redeem(ctx, code)
	return err
}

// browse follows redirects from start, as a browser, until stop accepts
// the next location; it returns that redirect.
func (l *replicaLogin) browse(ctx context.Context, start string, stop func(*url.URL) bool) (*http.Response, error) {
	hc := &http.Client{Transport: l.tr, Jar: l.jar, Timeout: 30 * time.Second,
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if stop(r.URL) {
				return http.ErrUseLastResponse
			}
			if len(via) >= 10 {
				return errors.New("more than 10 redirects")
			}
			return nil
		}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, start, nil)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("GET %s: %s (replica %s, request id %s): %.200s", resp.Request.URL.Path, resp.Status,
			resp.Header.Get(hdrReplica), resp.Header.Get("X-Request-Id"), body)
	}
	return resp, nil
}

// toApp runs the browser from start to the app's redirect URI and returns
// the code.
func (l *replicaLogin) toApp(ctx context.Context, start string) (string, error) {
	resp, err := l.browse(ctx, start, func(u *url.URL) bool { return strings.HasPrefix(u.String(), replicaRedirect) })
	if err != nil {
		return "", err
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), replicaRedirect) {
		return "", fmt.Errorf("GET %s: %s to %q, not to the app", resp.Request.URL.Path, resp.Status, resp.Header.Get("Location"))
	}
	q := loc.Query()
	switch {
	case q.Get("error") != "":
		return "", fmt.Errorf("back at the app with error=%s %s", q.Get("error"), q.Get("error_description"))
	case q.Get("state") != l.state:
		return "", fmt.Errorf("back at the app with state %q, want %q", q.Get("state"), l.state)
	case q.Get("code") == "":
		return "", errors.New("back at the app without a code")
	}
	return q.Get("code"), nil
}

type replicaTokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

// redeem is the app's part: the code for tokens, the ID token verified at
// every replica, userinfo, one refresh and its ID token verified too.
func (l *replicaLogin) redeem(ctx context.Context, code string) (replicaTokens, error) {
	tok, err := l.token(ctx, url.Values{"grant_type": {"authorization_code"}, "code": {code},
		"redirect_uri": {replicaRedirect}, "code_verifier": {l.verifier}})
	if err != nil {
		return tok, err
	}
	id, err := l.e.verify(ctx, tok, l.nonce)
	if err != nil {
		return tok, err
	}
	if err := l.userinfo(ctx, tok.AccessToken, id.Subject); err != nil {
		return tok, err
	}
	tok2, err := l.token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	if err != nil {
		return tok, fmt.Errorf("refresh: %w", err)
	}
	id2, err := l.e.verify(ctx, tok2, "")
	if err != nil {
		return tok, fmt.Errorf("refreshed: %w", err)
	}
	if id2.Subject != id.Subject || (id2.Nonce != "" && id2.Nonce != l.nonce) {
		return tok, fmt.Errorf("refreshed ID token for %q (nonce %q), want %q (%q)", id2.Subject, id2.Nonce, id.Subject, l.nonce)
	}
	l.e.stats.signed(jwtKid(tok.IDToken), id.IssuedAt)
	l.e.stats.signed(jwtKid(tok2.IDToken), id2.IssuedAt)
	l.e.stats.completed(tok, tok2, len(l.tr.steps))
	return tok2, nil
}

func (l *replicaLogin) token(ctx context.Context, form url.Values) (replicaTokens, error) {
	var tok replicaTokens
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, l.e.issuer+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(replicaClientID), url.QueryEscape(replicaSecret))
	resp, err := (&http.Client{Transport: l.tr, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return tok, fmt.Errorf("token: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK {
		return tok, fmt.Errorf("token (%s): %s (replica %s) %s %s %v", form.Get("grant_type"), resp.Status, resp.Header.Get(hdrReplica), tok.Error, tok.Description, err)
	}
	if tok.AccessToken == "" || tok.IDToken == "" || tok.RefreshToken == "" {
		return tok, fmt.Errorf("token (%s): an access, ID or refresh token missing", form.Get("grant_type"))
	}
	return tok, nil
}

func (l *replicaLogin) userinfo(ctx context.Context, access, sub string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, l.e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := (&http.Client{Transport: l.tr, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	defer resp.Body.Close()
	var claims struct {
		Sub string `json:"sub"`
	}
	err = json.NewDecoder(resp.Body).Decode(&claims)
	if resp.StatusCode != http.StatusOK || err != nil || claims.Sub != sub {
		return fmt.Errorf("userinfo: %s (replica %s), sub %q, want %q (%v)", resp.Status, resp.Header.Get(hdrReplica), claims.Sub, sub, err)
	}
	return nil
}

// verify checks the ID token (issuer, audience, expiry, nonce unless
// empty) and the access token's signature with the JWKS of every replica
// still running.
func (e *replicaEnv) verify(ctx context.Context, tok replicaTokens, nonce string) (*oidc.IDToken, error) {
	var id *oidc.IDToken
	for _, r := range e.replicas {
		if !r.live.Load() {
			continue
		}
		v, err := r.verifier.Verify(ctx, tok.IDToken)
		if err != nil {
			return nil, fmt.Errorf("ID token (kid %s) at replica %d's JWKS: %w", jwtKid(tok.IDToken), r.n, err)
		}
		if _, err := r.keys.VerifySignature(ctx, tok.AccessToken); err != nil {
			return nil, fmt.Errorf("access token (kid %s) at replica %d's JWKS: %w", jwtKid(tok.AccessToken), r.n, err)
		}
		id = v
	}
	if id == nil {
		return nil, errors.New("no replica running to verify with")
	}
	if nonce != "" && id.Nonce != nonce {
		return nil, fmt.Errorf("ID token nonce %q, want %q", id.Nonce, nonce)
	}
	return id, nil
}

// replicaSteps carries a login's requests: to the balancer each asks for
// another replica than the step before (X-Test-Not), or for one replica
// only (X-Test-Only), and checks that it got it. Requests elsewhere (the
// simulator) pass as they are and are no step.
type replicaSteps struct {
	base      http.RoundTripper
	proxyHost string
	only      int   // every step on this replica (0: any)
	steps     []int // the replica of each step
}

func (s *replicaSteps) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != s.proxyHost {
		return s.base.RoundTrip(r)
	}
	last := 0
	if len(s.steps) > 0 {
		last = s.steps[len(s.steps)-1]
	}
	r = r.Clone(r.Context())
	if s.only > 0 {
		r.Header.Set(hdrOnly, strconv.Itoa(s.only))
	} else if last > 0 {
		r.Header.Set(hdrNot, strconv.Itoa(last))
	}
	resp, err := s.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	n, _ := strconv.Atoi(resp.Header.Get(hdrReplica))
	bad := ""
	switch {
	case n == 0:
		bad = "no replica named by the balancer"
	case s.only > 0 && n != s.only:
		bad = fmt.Sprintf("served by replica %d, not by replica %d alone", n, s.only)
	case s.only == 0 && n == last && resp.Header.Get(hdrForced) == "":
		bad = fmt.Sprintf("served by replica %d again, as the step before", n)
	}
	if bad != "" {
		resp.Body.Close()
		return nil, fmt.Errorf("%s %s: %s", r.Method, r.URL.Path, bad)
	}
	s.steps = append(s.steps, n)
	return resp, nil
}

// replicaStop is what loginAcrossStop saw.
type replicaStop struct {
	at            time.Time
	out, returned time.Duration // from the stop: out of rotation, serve returned
	finishedOn    int
}

// loginAcrossStop starts a login on replica r alone, up to the redirect to
// the upstream (the person is scanning the QR code); stops r as SIGTERM
// would (and waits until serve has returned); then goes on with the same
// browser through the balancer: the upstream's callback must land on
// another replica and complete the login there; then checks the tokens.
func (e *replicaEnv) loginAcrossStop(ctx context.Context, r *testReplica) replicaStop {
	t := e.t
	l := e.newLogin(r.n)
	resp, err := l.browse(ctx, l.authorizeURL(), func(u *url.URL) bool { return u.Host != e.proxyHost })
	if err != nil {
		t.Fatalf("login on replica %d alone: %v", r.n, err)
	}
	next, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
	if err != nil || next.Host == e.proxyHost || len(l.tr.steps) < 1 {
		t.Fatalf("login on replica %d alone: %s to %q after %d steps, want the redirect to the upstream",
			r.n, resp.Status, resp.Header.Get("Location"), len(l.tr.steps))
	}

	before := len(l.tr.steps)
	res := replicaStop{at: time.Now()}
	r.live.Store(false)
	r.cancel()
	if err := e.lb.waitOut(ctx, r.n); err != nil {
		t.Fatal(err)
	}
	res.out = time.Since(res.at)
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("replica %d: serve: %v\n%s", r.n, err, logTail(r.logs.String(), 20))
		}
		r.done <- nil
	case <-time.After(45 * time.Second):
		t.Fatalf("replica %d did not stop", r.n)
	}
	res.returned = time.Since(res.at)

	l.tr.only = 0 // the next step anywhere but replica r (X-Test-Not)
	code, err := l.toApp(ctx, next.String())
	if err != nil {
		e.stats.fail("login across the stop", err)
		return res
	}
	res.finishedOn = l.tr.steps[len(l.tr.steps)-1]
	for _, n := range l.tr.steps[before:] {
		if n == r.n {
			e.stats.fail("login across the stop", fmt.Errorf("a step after the stop served by the stopped replica %d", r.n))
		}
	}
	if _, err := l.redeem(ctx, code); err != nil {
		e.stats.fail("login across the stop", err)
	}
	return res
}

// checkAfterRun verifies the kept tokens with the JWKS of the replicas
// still running, fetched afresh, and refreshes the early logins' refresh
// tokens.
func (e *replicaEnv) checkAfterRun(ctx context.Context) {
	s := e.stats
	s.mu.Lock()
	kept := append(append([]replicaTokens(nil), s.firstTokens...), s.lastTokens...)
	early := append([]string(nil), s.early...)
	s.mu.Unlock()
	for _, r := range e.replicas {
		if !r.live.Load() {
			continue
		}
		r.keys = oidc.NewRemoteKeySet(ctx, r.base+"/keys")
		r.verifier = oidc.NewVerifier(e.issuer, r.keys, &oidc.Config{ClientID: replicaClientID})
	}
	checked := 0
	for _, tok := range kept {
		if _, err := e.verify(ctx, tok, ""); err != nil {
			s.fail("after the run", err)
			continue
		}
		checked++
	}
	refreshed := 0
	for _, rt := range early {
		l := e.newLogin(0)
		tok, err := l.token(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		if err == nil {
			_, err = e.verify(ctx, tok, "")
		}
		if err != nil {
			s.fail("early refresh token after the run", err)
			continue
		}
		refreshed++
	}
	s.mu.Lock()
	s.checkedTokens, s.checkedRefresh = checked, refreshed
	s.mu.Unlock()
}

// replicaStats are the run's figures.
type replicaStats struct {
	start  time.Time
	logins atomic.Int64
	steps  atomic.Int64

	mu             sync.Mutex
	failures       int
	failMsgs       []string // the first few
	kids           map[string]*replicaKid
	firstTokens    []replicaTokens // of the first logins
	lastTokens     []replicaTokens // of the last logins (a ring)
	lastNext       int
	early          []string // refresh tokens of the first logins
	checkedTokens  int
	checkedRefresh int
}

type replicaKid struct {
	n           int
	first, last time.Time // when a token signed with it was verified
	firstIat    time.Time
}

const (
	keptFirst, keptLast, keptEarly = 100, 200, 20
	maxFailMsgs                    = 8
)

func newReplicaStats() *replicaStats {
	return &replicaStats{kids: map[string]*replicaKid{}, start: time.Now()}
}

func (s *replicaStats) fail(what string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures++
	if len(s.failMsgs) < maxFailMsgs {
		s.failMsgs = append(s.failMsgs, fmt.Sprintf("%s %s: %v", sinceStart(s.start, time.Now()), what, err))
	}
}

func (s *replicaStats) signed(kid string, iat time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	k := s.kids[kid]
	if k == nil {
		k = &replicaKid{first: now, firstIat: iat}
		s.kids[kid] = k
	}
	k.n++
	k.last = now
	if iat.Before(k.firstIat) {
		k.firstIat = iat
	}
}

func (s *replicaStats) kidFirstSeen(kid string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k := s.kids[kid]; k != nil {
		return k.first
	}
	return time.Time{}
}

func (s *replicaStats) completed(tok, refreshed replicaTokens, steps int) {
	s.logins.Add(1)
	s.steps.Add(int64(steps))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range []replicaTokens{tok, refreshed} {
		t.RefreshToken = ""
		switch {
		case len(s.firstTokens) < keptFirst:
			s.firstTokens = append(s.firstTokens, t)
		case len(s.lastTokens) < keptLast:
			s.lastTokens = append(s.lastTokens, t)
		default:
			s.lastTokens[s.lastNext] = t
			s.lastNext = (s.lastNext + 1) % keptLast
		}
	}
	if len(s.early) < keptEarly {
		s.early = append(s.early, refreshed.RefreshToken)
	}
}

// jwtKid returns the kid in a JWT's header.
func jwtKid(jwt string) string {
	h, _, _ := strings.Cut(jwt, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return "(no JWT)"
	}
	var hdr struct {
		Kid string `json:"kid"`
	}
	_ = json.Unmarshal(b, &hdr)
	return hdr.Kid
}

func replicaRand(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func replicaSleepUntil(ctx context.Context, when time.Time) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(when)):
	}
}

func replicaEnvInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

func sinceStart(start, t time.Time) string {
	return "+" + t.Sub(start).Round(time.Millisecond).String()
}

func logTail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logProblems returns the first n warnings and errors of a replica's log,
// without the readiness checks answered 503 while it shuts down.
func logProblems(log string, n int) string {
	var out []string
	for line := range strings.Lines(log) {
		if (strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`)) && !strings.Contains(line, `"route":"/readyz"`) {
			out = append(out, strings.TrimRight(line, "\n"))
			if len(out) == n {
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
