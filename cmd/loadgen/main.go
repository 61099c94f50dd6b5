// Command loadgen measures dingoidc's login throughput from a separate
// process: each worker runs whole first logins (a new browser each time:
// authorize → upstream → callback → code → token → userinfo) against a
// server whose upstream approves at once (serve --dev with a dev upstream
// configured with auto_approve). It reports logins per second, latency
// percentiles, failures and, given the server's pid, its CPU time per login.
//
//	go run ./cmd/loadgen -issuer http://127.0.0.1:8080 -client bench -secret … -c 8 -d 20s -pid $(pgrep dingoidc)
package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

type config struct {
	issuer, client, secret, redirect, scope string
	concurrency                             int
	duration                                time.Duration
	pid                                     int
	refresh                                 bool
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var c config
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.StringVar(&c.issuer, "issuer", "http://127.0.0.1:8080", "dingoidc issuer")
	fs.StringVar(&c.client, "client", "bench", "client id")
	fs.StringVar(&c.secret, "secret", "", "client secret")
	fs.StringVar(&c.redirect, "redirect", "http://127.0.0.1:1/callback", "registered redirect URI (never contacted)")
	fs.StringVar(&c.scope, "scope", "openid profile email offline_access", "scopes")
	fs.IntVar(&c.concurrency, "c", 4, "concurrent workers")
	fs.DurationVar(&c.duration, "d", 10*time.Second, "how long to run")
	fs.IntVar(&c.pid, "pid", 0, "server pid, to report its CPU time per login")
	fs.BoolVar(&c.refresh, "refresh", false, "measure refresh-token rotation instead of logins")
	if err := fs.Parse(args); err != nil {
		return err
	}
	transport := &http.Transport{MaxIdleConnsPerHost: c.concurrency * 2}
	ctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()

	cpu0, _ := cpuTime(c.pid)
	start := time.Now()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		failures  atomic.Int64
		firstErr  atomic.Value
		wg        sync.WaitGroup
	)
	for i := 0; i < c.concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rt string
			for ctx.Err() == nil {
				t0 := time.Now()
				var err error
				if c.refresh && rt != "" {
					rt, err = refresh(ctx, transport, c, rt)
				} else {
					rt, err = login(ctx, transport, c)
				}
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					rt = ""
					continue
				}
				mu.Lock()
				latencies = append(latencies, time.Since(t0))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, cpuErr := cpuTime(c.pid)

	n := len(latencies)
	slices.Sort(latencies)
	pct := func(p float64) time.Duration {
		if n == 0 {
			return 0
		}
		return latencies[min(n-1, int(float64(n)*p))]
	}
	what := "logins"
	if c.refresh {
		what = "refreshes"
	}
	fmt.Fprintf(out, "%d %s in %s with %d workers: %.1f/s, p50 %s, p99 %s, failures %d\n",
		n, what, elapsed.Round(time.Millisecond), c.concurrency, float64(n)/elapsed.Seconds(),
		pct(0.5).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), failures.Load())
	if e, ok := firstErr.Load().(string); ok {
		fmt.Fprintf(out, "first failure: %s\n", e)
	}
	if c.pid != 0 && cpuErr == nil && n > 0 {
		fmt.Fprintf(out, "server CPU: %.2f ms per %s (%.0f%% of one core)\n",
			float64((cpu1-cpu0).Microseconds())/1000/float64(n), strings.TrimSuffix(what, "es"),
			100*(cpu1-cpu0).Seconds()/elapsed.Seconds())
	}
	if failures.Load() > 0 {
		return fmt.Errorf("%d failures", failures.Load())
	}
	return nil
}

// login runs one whole first login in a new browser and returns the
// refresh token.
func login(ctx context.Context, tr http.RoundTripper, c config) (string, error) {
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Transport: tr, Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), c.redirect) {
				return http.ErrUseLastResponse
			}
			return nil
		}}
	verifier := base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(time.Now().UnixNano(), 10) + "-verifier-padding-padding-xx"))
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {c.client}, "redirect_uri": {c.redirect}, "response_type": {"code"}, "scope": {c.scope},
		"state": {"s"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.issuer+"/authorize?"+q.Encode(), nil)
	resp, err := browser.Do(req)
	if err != nil {
		return "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc == nil || loc.Query().Get("code") == "" {
		return "", fmt.Errorf("authorize: %s, no code (is the upstream auto-approving?)", resp.Status)
	}
	tok, err := token(ctx, tr, c, url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {c.redirect}, "code_verifier": {verifier}})
	if err != nil {
		return "", err
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, c.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
	resp, err = (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("userinfo: %s", resp.Status)
	}
	rt, _ := tok["refresh_token"].(string)
	return rt, nil
}

func refresh(ctx context.Context, tr http.RoundTripper, c config, rt string) (string, error) {
	tok, err := token(ctx, tr, c, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
	if err != nil {
		return "", err
	}
	return tok["refresh_token"].(string), nil
}

func token(ctx context.Context, tr http.RoundTripper, c config, form url.Values) (map[string]any, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.issuer+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(c.client), url.QueryEscape(c.secret))
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		return nil, fmt.Errorf("token: %s: %w", resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("token: %s %v", resp.Status, m["error"])
	}
	if _, ok := m["access_token"].(string); !ok {
		return nil, errors.New("token: no access_token")
	}
	return m, nil
}

// cpuTime reads a process's user+system CPU time from /proc.
func cpuTime(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, errors.New("no pid")
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100, nil // USER_HZ = 100
}
