package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startServe runs `serve args…` in-process on a listener the test holds
// (bound to 127.0.0.1:0 and never released) and waits until /readyz is
// 200. It returns the base URL, serve's result channel and its log.
func startServe(t *testing.T, ctx context.Context, env map[string]string, args ...string) (string, <-chan error, *lockedBuffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	full := map[string]string{"DINGOIDC_ISSUER": base, "DINGOIDC_DATA_DIR": t.TempDir()}
	for k, v := range env {
		full[k] = v
	}
	logs := &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		err := serveWith(ctx, args, func(k string) string { return full[k] }, io.Discard, logs, serveHooks{listener: ln})
		ln.Close() // serve may have failed before using it
		done <- err
	}()
	waitHealthy(t, base, done, logs)
	return base, done, logs
}

// TestGracefulShutdown: on SIGTERM (serve's context ends) /readyz turns
// 503 while new connections are still served for shutdown_grace; then the
// listener closes, and a request that was in flight all along (its body
// still arriving) is answered in full before serve returns.
func TestGracefulShutdown(t *testing.T) {
	cfg := writeFile(t, "config.yaml", "shutdown_grace: 3s\n")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	base, done, logs := startServe(t, ctx, nil, "--dev", "--config", cfg)
	addr := strings.TrimPrefix(base, "http://")

	// A token request whose body is only half sent: in flight.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "grant_type=refresh_token&refresh_token=none&client_id=nobody"
	if _, err := io.WriteString(conn, "POST /oauth/token HTTP/1.1\r\nHost: "+addr+"\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"Content-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body[:10]); err != nil {
		t.Fatal(err)
	}

	cancel() // what SIGTERM does (main.go: signal.NotifyContext)

	// Not ready at once, while still accepting new connections.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	sawNotReady := false
	for !sawNotReady {
		resp, err := hc.Get(base + "/readyz")
		if err != nil {
			t.Fatalf("/readyz refused before /readyz said 503 (no drain window): %v\n%s", err, logs.String())
		}
		resp.Body.Close()
		sawNotReady = resp.StatusCode == http.StatusServiceUnavailable
		if !sawNotReady {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if resp, err := hc.Get(base + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("during the grace /healthz: %v %v", resp, err)
	}

	// After the grace the listener closes: new connections are refused.
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		select {
		case err := <-done:
			t.Fatalf("serve returned (%v) while a request was still in flight", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	// The request in flight finishes.
	if _, err := io.WriteString(conn, body[10:]); err != nil {
		t.Fatalf("finish the request in flight: %v", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v\n%s", err, logs.String())
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("request in flight: %d %s", resp.StatusCode, b)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return after the request in flight finished")
	}
	for _, want := range []string{"not ready, draining", "closing the listener"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no log line %q:\n%s", want, logs.String())
		}
	}
}

// TestServeRetriesUnreachableDatabase: with the database unreachable,
// serve retries with a log line per attempt and gives up after
// storage.connect_timeout with a clear error.
func TestServeRetriesUnreachableDatabase(t *testing.T) {
	sock := t.TempDir() // no server listens here
	cfg := writeFile(t, "config.yaml", "storage:\n  connect_timeout: 2s\n")
	env := map[string]string{
		"DINGOIDC_STORAGE_DRIVER": "postgres",
		"DINGOIDC_STORAGE_DSN":    "host=" + sock + " user=postgres dbname=postgres",
		"DINGOIDC_DATA_DIR":       t.TempDir(),
	}
	var logs lockedBuffer
	start := time.Now()
	err := serveWith(t.Context(), []string{"--dev", "--config", cfg}, func(k string) string { return env[k] }, io.Discard, &logs, serveHooks{})
	if err == nil || !strings.Contains(err.Error(), "storage.connect_timeout") {
		t.Fatalf("serve: %v, want the connect_timeout error", err)
	}
	if n := strings.Count(logs.String(), "database unreachable; retrying"); n < 2 {
		t.Errorf("%d retry log lines, want one per attempt (≥2 in 2s):\n%s", n, logs.String())
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("gave up after %s, before connect_timeout", d)
	}
}
