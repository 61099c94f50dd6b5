package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/dingoidc/dingoidc/idp/admin"
	"github.com/dingoidc/dingoidc/storage"
)

// The demo app of serve --dev: an ordinary OIDC client (coreos/go-oidc and
// x/oauth2, as Argo CD or oauth2-proxy use) served from the provider's own
// process, registered as client "demo" with a secret made at each start.

const demoClientID = "demo"

type demoApp struct {
	issuer string
	conf   oauth2.Config
	log    *slog.Logger

	once     sync.Once
	provider *oidc.Provider
	err      error
}

func mountDemo(ctx context.Context, mux *http.ServeMux, st storage.Store, issuer string, log *slog.Logger) error {
	secret := randomToken(32)
	now := time.Now().UTC()
	c := &storage.Client{
		ID: demoClientID, Name: "dingoidc demo", SecretHash: admin.HashSecret(secret), Static: true,
		RedirectURIs:           []string{issuer + "/demo/callback"},
		PostLogoutRedirectURIs: []string{issuer + "/demo"},
		CreatedAt:              now, UpdatedAt: now,
	}
	err := st.UpdateClient(ctx, c)
	if errors.Is(err, storage.ErrNotFound) {
		err = st.CreateClient(ctx, c)
		if errors.Is(err, storage.ErrConflict) {
			// Another replica on the same database created it meanwhile.
			err = st.UpdateClient(ctx, c)
		}
	}
	if err != nil {
		return fmt.Errorf("register demo client: %w", err)
	}
	d := &demoApp{issuer: issuer, log: log.With("component", "demo"), conf: oauth2.Config{
		ClientID: demoClientID, ClientSecret: secret, RedirectURL: issuer + "/demo/callback",
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", "phone", "groups", oidc.ScopeOfflineAccess},
	}}
	mux.HandleFunc("GET /demo", d.home)
	mux.HandleFunc("GET /demo/login", d.login)
	mux.HandleFunc("GET /demo/callback", d.callback)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/demo", http.StatusFound)
	})
	return nil
}

func (d *demoApp) discover(ctx context.Context) (*oidc.Provider, error) {
	d.once.Do(func() {
		d.provider, d.err = oidc.NewProvider(context.WithoutCancel(ctx), d.issuer)
		if d.err == nil {
			d.conf.Endpoint = d.provider.Endpoint()
		}
	})
	return d.provider, d.err
}

var demoPage = template.Must(template.New("demo").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>dingoidc demo</title>
<style>body{font-family:system-ui,"PingFang SC",sans-serif;max-width:46rem;margin:4vh auto;padding:1rem;color:#1f2329}
a.button{display:inline-block;padding:.7rem 1.2rem;border-radius:8px;background:#1677ff;color:#fff;text-decoration:none;margin-right:.5rem}
pre{background:#f4f6f9;padding:1rem;border-radius:8px;overflow:auto}</style></head><body>
<h1>dingoidc demo app</h1>
{{if .Error}}<p role="alert">Login failed: {{.Error}}</p>{{end}}
{{if .IDClaims}}
<p>Logged in as <strong>{{.Name}}</strong> (sub <code>{{.Sub}}</code>).</p>
<h2>ID token claims</h2><pre>{{.IDClaims}}</pre>
<h2>Userinfo</h2><pre>{{.Userinfo}}</pre>
<p><a class="button" href="/demo/login">Log in again (SSO)</a><a class="button" href="{{.Logout}}">Log out</a></p>
{{else}}
<p>This is an ordinary OpenID Connect app registered as client <code>demo</code>. Log in through dingoidc's simulated scan and it shows the claims it received.</p>
<p><a class="button" href="/demo/login">登录 · Log in</a></p>
{{end}}
</body></html>`))

func (d *demoApp) render(w http.ResponseWriter, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := demoPage.Execute(w, data); err != nil {
		d.log.Error("render demo page", "err", err)
	}
}

func (d *demoApp) home(w http.ResponseWriter, _ *http.Request) { d.render(w, map[string]any{}) }

func (d *demoApp) login(w http.ResponseWriter, r *http.Request) {
	if _, err := d.discover(r.Context()); err != nil {
		d.render(w, map[string]any{"Error": "discovery: " + err.Error()})
		return
	}
	state, nonce, verifier := randomToken(16), randomToken(16), oauth2.GenerateVerifier()
	http.SetCookie(w, &http.Cookie{Name: "demo_flow", Value: state + "." + nonce + "." + verifier, Path: "/demo", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 600})
	http.Redirect(w, r, d.conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
}

func (d *demoApp) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	fail := func(msg string) { d.render(w, map[string]any{"Error": msg}) }
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		fail(e + ": " + q.Get("error_description"))
		return
	}
	ck, err := r.Cookie("demo_flow")
	parts := strings.Split(func() string {
		if err != nil {
			return ""
		}
		return ck.Value
	}(), ".")
	if len(parts) != 3 || parts[0] != q.Get("state") {
		fail("state mismatch: start again from /demo")
		return
	}
	p, err := d.discover(ctx)
	if err != nil {
		fail("discovery: " + err.Error())
		return
	}
	tok, err := d.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(parts[2]))
	if err != nil {
		fail("token exchange: " + err.Error())
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&oidc.Config{ClientID: demoClientID}).Verify(ctx, raw)
	if err != nil || idt.Nonce != parts[1] {
		fail(fmt.Sprintf("ID token not valid: %v", err))
		return
	}
	var claims map[string]any
	_ = idt.Claims(&claims)
	ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	var uiClaims map[string]any
	if err == nil {
		_ = ui.Claims(&uiClaims)
	}
	idJSON, _ := json.MarshalIndent(claims, "", "  ")
	uiJSON, _ := json.MarshalIndent(uiClaims, "", "  ")
	name, _ := claims["name"].(string)
	logout := d.issuer + "/end_session?" + url.Values{"id_token_hint": {raw}, "post_logout_redirect_uri": {d.issuer + "/demo"}}.Encode()
	d.render(w, map[string]any{"IDClaims": string(idJSON), "Userinfo": string(uiJSON), "Name": name, "Sub": idt.Subject, "Logout": logout})
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
