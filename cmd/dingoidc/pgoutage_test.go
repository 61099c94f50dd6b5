package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/storage/postgres"
)

// pgCluster is a PostgreSQL cluster of the test's own, in a temporary
// directory, reachable only through a unix socket in that directory
// (listen_addresses is empty): no port to pick, nothing to collide with.
type pgCluster struct {
	t    *testing.T
	bin  string // directory of initdb and pg_ctl
	dir  string
	sock string
}

// newPGCluster initdb's a cluster. It skips when PostgreSQL's server
// binaries are missing, except in CI (.ci/run installs them).
func newPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("PostgreSQL server binaries (initdb, pg_ctl) missing: apt-get install postgresql")
		}
		t.Skip("PostgreSQL server binaries missing: apt-get install postgresql")
	}
	dir, err := os.MkdirTemp("", "dingoidc-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c := &pgCluster{t: t, bin: filepath.Dir(bins[len(bins)-1]), dir: dir, sock: filepath.Join(dir, "sock")}
	if err := os.Mkdir(c.sock, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 { // PostgreSQL refuses to run as root: run it as postgres
		for _, p := range []string{dir, c.sock} {
			if out, err := exec.Command("chown", "postgres:", p).CombinedOutput(); err != nil {
				t.Fatalf("chown %s: %v %s", p, err, out)
			}
		}
	}
	t.Cleanup(func() {
		_ = c.pgctl("stop", "-m", "immediate")
		os.RemoveAll(dir)
	})
	c.run("initdb", "-D", c.data(), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
	conf := fmt.Sprintf("listen_addresses = ''\nunix_socket_directories = '%s'\nfsync = off\nmax_connections = 50\nshared_buffers = 16MB\n", c.sock)
	f, err := os.OpenFile(filepath.Join(c.data(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(conf); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return c
}

func (c *pgCluster) data() string { return filepath.Join(c.dir, "data") }

// dsn connects through the socket.
func (c *pgCluster) dsn() string { return "host=" + c.sock + " user=postgres dbname=postgres" }

func (c *pgCluster) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(c.bin, name)
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func (c *pgCluster) run(name string, args ...string) {
	c.t.Helper()
	if out, err := c.command(name, args...).CombinedOutput(); err != nil {
		c.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func (c *pgCluster) pgctl(args ...string) error {
	args = append([]string{"-D", c.data(), "-w", "-t", "30"}, args...)
	if out, err := c.command("pg_ctl", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (c *pgCluster) start() {
	c.t.Helper()
	if err := c.pgctl("-l", filepath.Join(c.dir, "log"), "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		c.t.Fatalf("%v\n%s", err, log)
	}
}

// crash stops the cluster as a crash would: no clean shutdown.
func (c *pgCluster) crash() {
	c.t.Helper()
	if err := c.pgctl("stop", "-m", "immediate"); err != nil {
		c.t.Fatal(err)
	}
}

// rpApp is a registered app driving logins, refreshes and userinfo
// calls against one issuer, as a relying party would.
type rpApp struct {
	base, id, secret, redirect string
}

const outageSecret = "outage-test-secret-0123456789"

func registerApp(t *testing.T, dsn, base string) *rpApp {
	t.Helper()
	st, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	app := &rpApp{base: base, id: "app", secret: outageSecret, redirect: "https://app.example.test/cb"}
	sum := sha256.Sum256([]byte(app.secret))
	now := time.Now()
	if err := st.CreateClient(t.Context(), &storage.Client{ID: app.id, SecretHash: sum[:], RedirectURIs: []string{app.redirect},
		Upstreams: []string{"dingtalk"}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return app
}

// httpStatusError is a step that answered an unexpected status.
type httpStatusError struct {
	step   string
	status int
	body   string
}

func (e *httpStatusError) Error() string {
	return fmt.Sprintf("%s: %d %.300s", e.step, e.status, e.body)
}

// statusOf is the HTTP status an error reports (0: not an HTTP answer).
func statusOf(err error) int {
	var se *httpStatusError
	if errors.As(err, &se) {
		return se.status
	}
	return 0
}

type tokens struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
	ID      string `json:"id_token"`
}

// login runs one whole login through serve --dev's DingTalk simulator
// with a fresh browser; every step goes to base(step) (one issuer, or a
// different replica each step).
func (a *rpApp) login(ctx context.Context, base func() string) (*tokens, error) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 20 * time.Second, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), a.redirect) {
			return http.ErrUseLastResponse
		}
		// Every hop on the issuer goes to the next replica.
		if strings.HasPrefix(r.URL.String(), a.base) {
			u, _ := url.Parse(base())
			r.URL.Host = u.Host
			r.Host = ""
		}
		return nil
	}}
	verifier := strings.Repeat("v", 50) + randomNonce()
	ch := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {a.id}, "redirect_uri": {a.redirect}, "response_type": {"code"}, "scope": {"openid profile offline_access"},
		"state": {"s"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(ch[:])}, "code_challenge_method": {"S256"}, "prompt": {"consent"}}
	get := func(step, u string) (*http.Response, string, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		resp, err := hc.Do(req)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", step, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 400 {
			return nil, "", &httpStatusError{step, resp.StatusCode, string(b)}
		}
		return resp, string(b), nil
	}
	resp, page, err := get("authorize", base()+"/authorize?"+q.Encode())
	if err != nil {
		return nil, err
	}
	m := regexp.MustCompile(`href="([^"]*simulator/scan[^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		return nil, fmt.Errorf("no scan link on %s: %.300s", resp.Request.URL, page)
	}
	scan, _ := resp.Request.URL.Parse(html.UnescapeString(m[1]))
	resp, _, err = get("scan and callback", scan.String())
	if err != nil {
		return nil, err
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	code := loc.Query().Get("code")
	if code == "" {
		return nil, fmt.Errorf("no code: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return a.token(ctx, base(), url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {a.redirect}, "code_verifier": {verifier}})
}

func (a *rpApp) token(ctx context.Context, base string, form url.Values) (*tokens, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(a.id, a.secret)
	resp, err := outageHTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, &httpStatusError{"token " + form.Get("grant_type"), resp.StatusCode, string(b)}
	}
	var tok tokens
	if err := json.Unmarshal(b, &tok); err != nil || tok.Access == "" {
		return nil, fmt.Errorf("token answer %s: %v", b, err)
	}
	return &tok, nil
}

func (a *rpApp) refresh(ctx context.Context, base, rt string) (*tokens, error) {
	return a.token(ctx, base, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

func (a *rpApp) userinfo(ctx context.Context, base, at string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	resp, err := outageHTTP.Do(req)
	if err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return &httpStatusError{"userinfo", resp.StatusCode, string(b)}
	}
	return nil
}

var outageHTTP = &http.Client{Timeout: 20 * time.Second}

var nonceCounter atomic.Int64

func randomNonce() string { return fmt.Sprintf("%020d", nonceCounter.Add(1)) }

// TestPostgresOutage: dingoidc on a PostgreSQL cluster of the test's own.
// serve starts before the database and waits for it; logins and refreshes
// run in a loop; the cluster crashes (pg_ctl stop -m immediate): token,
// userinfo, /authorize and /readyz answer 503 (nothing else), the process
// keeps running; the cluster starts again: without restarting dingoidc,
// every login completed before (or during) the outage still refreshes and
// new logins succeed.
func TestPostgresOutage(t *testing.T) {
	pg := newPGCluster(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	// serve first: it retries the database until it starts.
	ln, base := holdListener(t)
	env := map[string]string{"DINGOIDC_STORAGE_DRIVER": "postgres", "DINGOIDC_STORAGE_DSN": pg.dsn(),
		"DINGOIDC_ISSUER": base, "DINGOIDC_DATA_DIR": t.TempDir()}
	logs := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		err := serveWith(ctx, []string{"--dev"}, func(k string) string { return env[k] }, io.Discard, logs, serveHooks{listener: ln})
		ln.Close()
		done <- err
	}()
	waitFor(t, "a retry log line", 20*time.Second, func() bool { return strings.Contains(logs.String(), "database unreachable; retrying") })
	pg.start()
	waitHealthy(t, base, done, logs)
	app := registerApp(t, pg.dsn(), base)
	one := func() string { return base }

	// Workers: log in, then refresh and call userinfo in a loop. A login is
	// "completed" once it holds tokens; its latest refresh token is kept.
	type session struct {
		mu  sync.Mutex
		tok *tokens
	}
	var (
		mu        sync.Mutex
		sessions  []*session
		down      atomic.Bool // the cluster is stopped
		got503    atomic.Int64
		failures  []string
		completed atomic.Int64
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	// check sorts an error: while the cluster is down 503 is the answer
	// (counted), anything else is a failure; while it is up every error is.
	check := func(what string, err error, wasDown bool) bool {
		if err == nil {
			return true
		}
		if statusOf(err) == http.StatusServiceUnavailable && (wasDown || down.Load()) {
			got503.Add(1)
			return false
		}
		fail("%s (down=%v): %v", what, wasDown, err)
		return false
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				wasDown := down.Load()
				if i%3 == 0 {
					tok, err := app.login(ctx, one)
					if check(fmt.Sprintf("worker %d login", w), err, wasDown) {
						completed.Add(1)
						mu.Lock()
						sessions = append(sessions, &session{tok: tok})
						mu.Unlock()
					}
					if wasDown || down.Load() {
						time.Sleep(100 * time.Millisecond) // do not spin on 503s
					}
					continue
				}
				mu.Lock()
				if len(sessions) == 0 {
					mu.Unlock()
					continue
				}
				s := sessions[(w+i)%len(sessions)]
				mu.Unlock()
				s.mu.Lock()
				tok, err := app.refresh(ctx, base, s.tok.Refresh)
				if check(fmt.Sprintf("worker %d refresh", w), err, wasDown) {
					s.tok = tok
					check(fmt.Sprintf("worker %d userinfo", w), app.userinfo(ctx, base, tok.Access), wasDown)
				}
				s.mu.Unlock()
				if wasDown || down.Load() {
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	waitFor(t, "6 logins", 30*time.Second, func() bool { return completed.Load() >= 6 })

	// The crash.
	down.Store(true)
	pg.crash()
	crashed := time.Now()
	probe := func(path string) (int, string, http.Header) {
		resp, err := outageHTTP.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s while the database is down: %v (the process must keep answering)", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	waitFor(t, "/readyz 503", 10*time.Second, func() bool { c, _, _ := probe("/readyz"); return c == http.StatusServiceUnavailable })
	got503.Add(1)
	mu.Lock()
	someTok := *sessions[0].tok
	mu.Unlock()
	if _, err := app.refresh(ctx, base, someTok.Refresh); statusOf(err) != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "temporarily_unavailable") {
		t.Errorf("refresh while down: %v, want 503 temporarily_unavailable", err)
	} else {
		got503.Add(1)
	}
	if err := app.userinfo(ctx, base, someTok.Access); statusOf(err) != http.StatusServiceUnavailable {
		t.Errorf("userinfo while down: %v, want 503", err)
	} else {
		got503.Add(1)
	}
	// /authorize: the person is told at once (once the client cache's
	// copy has expired), not after a scan. The page is the styled one.
	authz := "/authorize?" + url.Values{"client_id": {app.id}, "redirect_uri": {app.redirect}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"s"}, "code_challenge": {strings.Repeat("A", 43)}, "code_challenge_method": {"S256"}}.Encode()
	var page string
	var hdr http.Header
	waitFor(t, "/authorize 503", 20*time.Second, func() bool {
		var c int
		c, page, hdr = probe(authz)
		if c != http.StatusServiceUnavailable && c != http.StatusFound && c != http.StatusOK {
			t.Fatalf("/authorize while down: %d %.300s", c, page)
		}
		return c == http.StatusServiceUnavailable
	})
	got503.Add(1)
	if !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || !strings.Contains(page, "暂时无法登录") || hdr.Get("Retry-After") == "" {
		t.Errorf("/authorize 503 is not the styled page: %v %.500s", hdr, page)
	}
	// Unknown client while down: 503 too, never op's 400.
	if c, body, _ := probe(strings.Replace(authz, "client_id=app", "client_id=other", 1)); c != http.StatusServiceUnavailable {
		t.Errorf("/authorize for an unlisted client while down: %d %.200s", c, body)
	} else {
		got503.Add(1)
	}

	// Back up: recovery without restarting dingoidc.
	pg.start()
	restarted := time.Now()
	waitFor(t, "/readyz 200", 20*time.Second, func() bool { c, _, _ := probe("/readyz"); return c == http.StatusOK })
	recovered := time.Since(restarted)
	down.Store(false)
	select {
	case err := <-done:
		t.Fatalf("serve exited during the outage: %v", err)
	default:
	}
	// New logins succeed after the restart.
	before := completed.Load()
	waitFor(t, "new logins", 30*time.Second, func() bool { return completed.Load() >= before+3 })
	close(stop)
	wg.Wait()

	// Every completed login still refreshes.
	mu.Lock()
	all := sessions
	mu.Unlock()
	for i, s := range all {
		if _, err := app.refresh(ctx, base, s.tok.Refresh); err != nil {
			t.Errorf("login %d of %d lost after the outage: %v", i, len(all), err)
		}
	}
	for _, f := range failures {
		t.Error(f)
	}
	t.Logf("outage %.1fs: %d answers 503 while the database was down; /readyz 200 %s after the cluster was back; %d logins completed, all refresh",
		restarted.Sub(crashed).Seconds(), got503.Load(), recovered.Round(time.Millisecond), len(all))
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// holdListener binds 127.0.0.1:0 for a server and keeps it.
func holdListener(t *testing.T) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, "http://" + ln.Addr().String()
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
