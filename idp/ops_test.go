package idp_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/dingoidc/dingoidc/idp"
	"github.com/dingoidc/dingoidc/storage/postgres"
	"github.com/dingoidc/dingoidc/storage/postgres/pgtest"
)

// TestLogsHoldNoSecrets captures every log line of a whole flow (ours and
// zitadel/oidc's, which logs to the default logger) and looks for any code,
// token, state or secret in them.
func TestLogsHoldNoSecrets(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	prev := slog.Default()
	slog.SetDefault(slog.New(idp.LogHandler(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	t.Cleanup(func() { slog.SetDefault(prev) })

	app := e.rp("app", testSecret)
	b := e.browser()
	code, ver := app.code(b)
	secrets := []string{testSecret, code, ver}
	e.postForm("/oauth/token", tokenForm(code, ver), "app", "wrong-secret-that-must-not-be-logged")
	secrets = append(secrets, "wrong-secret-that-must-not-be-logged")
	tok, err := app.conf.Exchange(app.ctx, code, oauth2.VerifierOption(ver))
	if err != nil {
		t.Fatalf("%v\n%s", err, e.logs)
	}
	rt, err := app.conf.TokenSource(app.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	e.postForm("/oauth/token", tokenForm(code, ver), "app", testSecret) // reuse, logged as a warning
	secrets = append(secrets, tok.AccessToken, tok.RefreshToken, tok.Extra("id_token").(string), rt.AccessToken, rt.RefreshToken)
	e.postForm("/revoke", url.Values{"token": {rt.RefreshToken}}, "app", testSecret)
	for _, c := range b.hc.Jar.Cookies(mustURL(e.issuer)) {
		secrets = append(secrets, c.Value)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "authorization code reused") || !strings.Contains(logs, "client authentication failed") {
		t.Fatalf("expected log lines missing; the capture is not working:\n%s", logs)
	}
	for _, s := range secrets {
		if len(s) >= 8 && strings.Contains(logs, s) {
			t.Errorf("log holds a secret %.12s…", s)
		}
		// Also the refresh token's secret part alone.
		if parts := strings.Split(s, "."); len(parts) == 3 && len(parts[2]) > 16 && strings.Contains(logs, parts[2]) {
			t.Errorf("log holds a token part %.12s…", parts[2])
		}
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// proxy forwards TCP to Postgres and can cut every connection, as an
// outage would.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.setDown(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			down := p.down
			p.mu.Unlock()
			if down {
				c.Close()
				continue
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
	return p
}

func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// TestDatabaseOutage: with the database unreachable the provider answers
// 503 (readiness, token endpoint, login page) without partial writes, and
// recovers without a restart.
func TestDatabaseOutage(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	u, _ := url.Parse(dsn)
	p := newProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	st, err := postgres.Open(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := newEnv(t, st)
	app := e.rp("app", testSecret)
	app.login(e.browser())
	code, ver := app.code(e.browser())

	p.setDown(true)
	if resp, _ := e.browser().get(e.issuer + "/readyz"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz during outage: %d", resp.StatusCode)
	}
	resp, body := e.postForm("/oauth/token", tokenForm(code, ver), "app", testSecret)
	if resp.StatusCode != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
		t.Errorf("token during outage: %d %v", resp.StatusCode, body)
	}
	r2, page := e.browser().get(app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if r2.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, "暂时") {
		t.Errorf("login during outage: %d %.200s", r2.StatusCode, page)
	}

	p.setDown(false)
	if resp, _ := e.browser().get(e.issuer + "/readyz"); resp.StatusCode != http.StatusOK {
		t.Errorf("readyz after outage: %d", resp.StatusCode)
	}
	// The code was not consumed by the failed attempt.
	resp, body = e.postForm("/oauth/token", tokenForm(code, ver), "app", testSecret)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token after outage: %d %v", resp.StatusCode, body)
	}
	app.login(e.browser())
}
