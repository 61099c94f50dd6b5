package clients

import (
	"crypto/rand"
	"slices"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// callbackGoOIDC is registered for the go-oidc client; nothing serves it:
// the browser stops there and the test takes the code.
const callbackGoOIDC = "http://127.0.0.1:9/gooidc/callback"

// TestGoOIDC is an app using coreos/go-oidc and x/oauth2 the usual way:
// discovery, PKCE S256 with a nonce, the ID token verified, userinfo,
// refresh with a new verified ID token.
func TestGoOIDC(t *testing.T) {
	ctx := oidc.ClientContext(t.Context(), httpsClient())
	provider, err := oidc.NewProvider(ctx, env.issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := &oauth2.Config{
		ClientID: "gooidc", ClientSecret: clientSecret("gooidc"),
		Endpoint: provider.Endpoint(), RedirectURL: callbackGoOIDC,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", "groups", oidc.ScopeOfflineAccess},
	}
	verifier := provider.Verifier(&oidc.Config{ClientID: "gooidc"})
	state, nonce, pkce := rand.Text(), rand.Text(), oauth2.GenerateVerifier()

	b := newBrowser(t, callbackGoOIDC)
	cb := b.callback(b.login(conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(pkce))))
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
	if idt.Nonce != nonce {
		t.Errorf("nonce = %q, want %q", idt.Nonce, nonce)
	}
	var claims zhangsanClaims
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	claims.check(t, "ID token")
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}

	ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var uic zhangsanClaims
	if err := ui.Claims(&uic); err != nil {
		t.Fatal(err)
	}
	if ui.Subject != idt.Subject {
		t.Errorf("userinfo sub %q != ID token sub %q", ui.Subject, idt.Subject)
	}
	uic.check(t, "userinfo")

	// Refresh: an expired access token makes x/oauth2 refresh.
	tok.Expiry = time.Now().Add(-time.Minute)
	fresh, err := conf.TokenSource(ctx, tok).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.AccessToken == tok.AccessToken {
		t.Error("refresh returned the same access token")
	}
	raw2, _ := fresh.Extra("id_token").(string)
	idt2, err := verifier.Verify(ctx, raw2)
	if err != nil {
		t.Fatalf("verify refreshed ID token: %v", err)
	}
	if idt2.Subject != idt.Subject {
		t.Errorf("refreshed sub %q != %q", idt2.Subject, idt.Subject)
	}
}

// zhangsanClaims are the claims every client checks: 张三 in the DingTalk
// simulator, scopes openid profile email groups.
type zhangsanClaims struct {
	Sub               string   `json:"sub"`
	Name              string   `json:"name"`
	PreferredUsername string   `json:"preferred_username"`
	Email             string   `json:"email"`
	EmailVerified     *bool    `json:"email_verified"`
	Groups            []string `json:"groups"`
}

const (
	wantSub   = "dingtalk_" + zhangsanUnionID
	wantName  = "张三"
	wantLogin = "zhangsan"
	wantEmail = "zhangsan@hzdemo.com.cn"
	wantGroup = "平台研发部"
)

func (c zhangsanClaims) check(t *testing.T, where string) {
	t.Helper()
	if c.Sub != wantSub || c.Name != wantName || c.PreferredUsername != wantLogin || c.Email != wantEmail {
		t.Errorf("%s: sub, name, preferred_username, email = %q, %q, %q, %q; want %q, %q, %q, %q", where,
			c.Sub, c.Name, c.PreferredUsername, c.Email, wantSub, wantName, wantLogin, wantEmail)
	}
	if c.EmailVerified == nil {
		t.Errorf("%s: no email_verified boolean", where)
	}
	if !slices.Contains(c.Groups, wantGroup) {
		t.Errorf("%s: groups = %q, want %s among them", where, c.Groups, wantGroup)
	}
}
