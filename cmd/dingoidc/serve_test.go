package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/idp"
	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/storage/sqlite"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestServeDev runs the README's quick-start command (serve --dev) and logs
// in on its demo page as a person would, then stops it gracefully.
func TestServeDev(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	env := map[string]string{"DINGOIDC_DATA_DIR": dir, "DINGOIDC_LISTEN": "127.0.0.1:" + strconv.Itoa(port)}
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithCancel(t.Context())
	var stdout, stderr lockedBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve", "--dev"}, getenv, strings.NewReader(""), &stdout, &stderr) }()
	base := "http://127.0.0.1:" + strconv.Itoa(port)

	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not come up: %s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	hc := &http.Client{Timeout: 10 * time.Second}
	get := func(u string) string {
		t.Helper()
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
		}
		return string(b)
	}
	// Headers and bodies are capped (issue 11): 431 and 413, not read whole.
	big, _ := http.NewRequest(http.MethodGet, base+"/healthz", nil)
	big.Header.Set("X-Big", strings.Repeat("x", 2*maxHeaderBytes))
	if resp, err := hc.Do(big); err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a %d KiB header: %v %v", 2*maxHeaderBytes>>10, resp, err)
	} else {
		resp.Body.Close()
	}
	if resp, err := hc.Post(base+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(strings.Repeat("x", 1<<20))); err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("a 1 MiB token request: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if home := get(base + "/"); !strings.Contains(home, "dingoidc demo") {
		t.Fatalf("home is not the demo page: %.300s", home)
	}
	for _, c := range []struct{ upstream, sub, want string }{
		{"dingtalk", "dingtalk_QY7vA9rRRxK4nQcn6zdha8MiEiE", "zhangsan@hzdemo.com.cn"},
		{"zzd", "zzd_71453920", "GE_15c0f83f6f32cd110ddd43eb2b4759e2"},
	} {
		jar, _ := cookiejar.New(nil)
		browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
		resp, page := devLogin(t, browser, base+"/demo/login", c.upstream)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %.500s", c.upstream, resp.StatusCode, page)
		}
		for _, want := range []string{c.sub, c.want, "Userinfo"} {
			if !strings.Contains(page, want) {
				t.Errorf("%s: demo result lacks %q: %.800s", c.upstream, want, page)
			}
		}
	}
	if !strings.Contains(stdout.String(), base+"/demo") {
		t.Errorf("stdout does not tell where to go: %q", stdout.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Errorf("no shutdown log line:\n%s", stderr.String())
	}
	// Both logins are in the sign-in log: what the queue held was written
	// at shutdown at the latest.
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, sqliteFileName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	events, err := st.ListSignIns(t.Context(), storage.SignInFilter{Result: idp.SignInSuccess})
	if err != nil || len(events) != 2 || events[0].ClientIP != "127.0.0.1" {
		t.Errorf("sign-in log after shutdown: %+v %v", events, err)
	}
}
