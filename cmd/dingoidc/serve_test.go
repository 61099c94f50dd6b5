package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
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

	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
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
	qr := get(base + "/")
	if !strings.Contains(qr, "dingoidc demo") {
		t.Fatalf("home is not the demo page: %.300s", qr)
	}
	qr = get(base + "/demo/login")
	m := regexp.MustCompile(`href="([^"]*/approve\?[^"]*)"`).FindStringSubmatch(qr)
	if m == nil {
		t.Fatalf("no test person on the simulated QR page: %.500s", qr)
	}
	page := get(strings.ReplaceAll(m[1], "&amp;", "&"))
	for _, want := range []string{"dev_10001", "张三", "zhangsan@example.gov.cn", "Userinfo"} {
		if !strings.Contains(page, want) {
			t.Errorf("demo result lacks %q: %.800s", want, page)
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
}
