package clients

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmespath/go-jmespath"
	"golang.org/x/oauth2"
)

// Grafana as the guide configures it, at a root_url no server answers: the
// browser stops there and the test plays Grafana's part.
const (
	grafanaRoot          = "https://grafana.e2e.invalid"
	grafanaRedirect      = grafanaRoot + "/login/generic_oauth"
	grafanaSignoutReturn = grafanaRoot + "/login"
)

// grafanaGuide is the [auth.generic_oauth] section of
// docs/integrations/grafana.md, with the guide's host names and secret
// replaced by the test's.
func grafanaGuide(t *testing.T) map[string]string {
	t.Helper()
	block := guideBlock(t, "grafana.md", "ini")
	block = strings.NewReplacer(
		"https://sso.example.gov.cn", env.issuer,
		url.QueryEscape("https://grafana.example.gov.cn"), url.QueryEscape(grafanaRoot),
		"https://grafana.example.gov.cn", grafanaRoot,
		"CLIENT_SECRET", clientSecret("grafana"),
	).Replace(block)
	section, out := "", map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(block))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, ";") || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("grafana.md: bad ini line %q", line)
			}
			out[section+"."+strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// guideBlock is the first fenced block of language lang in
// docs/integrations/<name>.
func guideBlock(t *testing.T, name, lang string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "docs", "integrations", name))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```" + lang + "\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatalf("%s: no ```%s block", name, lang)
	}
	return string(m[1])
}

// TestGrafana behaves as Grafana's generic_oauth connector does with the
// guide's configuration (docs/integrations/grafana.md): endpoints by hand, no
// discovery, no nonce, a padded base64 state, x/oauth2 with the configured
// auth style, claims from the unverified ID-token payload then api_url, role
// and groups by JMESPath, refresh, and sign-out with id_token_hint.
func TestGrafana(t *testing.T) {
	g := grafanaGuide(t)
	if g["server.root_url"] != grafanaRoot {
		t.Fatalf("guide root_url = %q", g["server.root_url"])
	}
	for _, tc := range []struct {
		name, authStyle, usePKCE string // "" = the guide's
	}{
		{"guide", "", ""},
		{"InHeader", "InHeader", ""},
		{"InParams without PKCE", "InParams", "false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := map[string]string{}
			for k, v := range g {
				if s, ok := strings.CutPrefix(k, "auth.generic_oauth."); ok {
					cfg[s] = v
				}
			}
			if tc.authStyle != "" {
				cfg["auth_style"] = tc.authStyle
			}
			if tc.usePKCE != "" {
				cfg["use_pkce"] = tc.usePKCE
			}
			grafanaLogin(t, g["server.root_url"], cfg)
		})
	}
}

func grafanaLogin(t *testing.T, rootURL string, cfg map[string]string) {
	ctx := context.WithValue(t.Context(), oauth2.HTTPClient, httpsClient())
	style := map[string]oauth2.AuthStyle{"AutoDetect": oauth2.AuthStyleAutoDetect, "": oauth2.AuthStyleAutoDetect,
		"InHeader": oauth2.AuthStyleInHeader, "InParams": oauth2.AuthStyleInParams}[cfg["auth_style"]]
	conf := &oauth2.Config{
		ClientID: cfg["client_id"], ClientSecret: cfg["client_secret"],
		Endpoint:    oauth2.Endpoint{AuthURL: cfg["auth_url"], TokenURL: cfg["token_url"], AuthStyle: style},
		RedirectURL: rootURL + "/login/generic_oauth",
		Scopes:      strings.Fields(strings.ReplaceAll(cfg["scopes"], ",", " ")),
	}

	// Grafana's state: 32 random bytes, URL-safe base64 with padding.
	stateBytes := make([]byte, 32)
	rand.Read(stateBytes)
	state := base64.URLEncoding.EncodeToString(stateBytes)
	if !strings.HasSuffix(state, "=") {
		t.Fatalf("state %q has no padding", state)
	}
	var opts []oauth2.AuthCodeOption
	var verifier string
	if cfg["use_pkce"] == "true" { // S256, a 128-character verifier
		v := make([]byte, 96)
		rand.Read(v)
		verifier = base64.RawURLEncoding.EncodeToString(v)
		sum := sha256.Sum256([]byte(verifier))
		opts = append(opts, oauth2.SetAuthURLParam("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:])),
			oauth2.SetAuthURLParam("code_challenge_method", "S256"))
	}
	authURL := conf.AuthCodeURL(state, opts...)
	if strings.Contains(authURL, "nonce=") {
		t.Fatal("Grafana sends no nonce")
	}
	if got := strings.Contains(authURL, "code_challenge="); got != (cfg["use_pkce"] == "true") {
		t.Fatalf("use_pkce = %s but code_challenge sent: %v", cfg["use_pkce"], got)
	}

	b := newBrowser(t, rootURL)
	cb := b.callback(b.login(authURL))
	if cb.Scheme+"://"+cb.Host+cb.Path != conf.RedirectURL {
		t.Fatalf("callback %s, want %s", cb, conf.RedirectURL)
	}
	if got := cb.Query().Get("state"); got != state {
		t.Fatalf("state came back as %q, want %q", got, state)
	}
	var exOpts []oauth2.AuthCodeOption
	if verifier != "" {
		exOpts = append(exOpts, oauth2.SetAuthURLParam("code_verifier", verifier))
	}
	tok, err := conf.Exchange(ctx, cb.Query().Get("code"), exOpts...)
	if err != nil {
		t.Fatalf("token (auth_style %s): %v\n%s", cfg["auth_style"], err, logTail())
	}
	if tok.Expiry.IsZero() {
		t.Error("no expires_in: Grafana cannot refresh (use_refresh_token)")
	}

	// x/oauth2's AutoDetect tries Basic first and keeps it when it works.
	wantAuth := map[string]string{"AutoDetect": "basic", "": "basic", "InHeader": "basic", "InParams": "post"}[cfg["auth_style"]]
	if reqs := tokenRequests(cfg["client_id"]); len(reqs) == 0 || reqs[len(reqs)-1].Auth != wantAuth {
		t.Errorf("auth_style %s: token request authenticated as %+v, want %s", cfg["auth_style"], reqs, wantAuth)
	}

	// The documents Grafana reads, in order: the ID-token payload (not
	// verified), then api_url.
	rawID, _ := tok.Extra("id_token").(string)
	idDoc := grafanaJWTPayload(t, rawID)
	docs := []map[string]any{idDoc, grafanaAPI(t, ctx, cfg["api_url"], tok.AccessToken)}
	// Third, the access token's payload when it is a JWT (dingoidc's
	// default, AT1).
	if strings.Count(tok.AccessToken, ".") == 2 {
		at := grafanaJWTPayload(t, tok.AccessToken)
		if at["sub"] != wantSub {
			t.Errorf("access token sub = %v, want %s", at["sub"], wantSub)
		}
		docs = append(docs, at)
	}

	if got := grafanaString(t, docs, "sub"); got != wantSub {
		t.Errorf("id = %q, want %q", got, wantSub)
	}
	for field, want := range map[string]string{"login_attribute_path": wantLogin, "name_attribute_path": wantName, "email_attribute_path": wantEmail} {
		if got := grafanaString(t, docs, cfg[field]); got != want {
			t.Errorf("%s %q → %q, want %q", field, cfg[field], got, want)
		}
	}
	// Role and groups: evaluated on the ID token first, so both must
	// resolve there (no "claims hydration" problem).
	if got := grafanaString(t, docs[:1], cfg["role_attribute_path"]); got != "Editor" {
		t.Errorf("role from the ID token = %q, want Editor (role_attribute_path %q)", got, cfg["role_attribute_path"])
	}
	if got := grafanaString(t, docs, cfg["role_attribute_path"]); got != "Editor" {
		t.Errorf("role = %q, want Editor", got)
	}
	if got := grafanaStrings(t, docs, cfg["groups_attribute_path"]); !slices.Contains(got, wantGroup) {
		t.Errorf("groups = %q, want %s among them", got, wantGroup)
	}
	// Someone outside 平台研发部 gets the default.
	if got := grafanaString(t, []map[string]any{{"groups": []any{"运维组"}}}, cfg["role_attribute_path"]); got != "Viewer" {
		t.Errorf("role for 运维组 = %q, want Viewer", got)
	}

	// use_refresh_token: x/oauth2 refreshes an expired access token; the
	// new response still carries an ID token for Grafana to decode.
	if cfg["use_refresh_token"] == "true" {
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token (scopes lack offline_access?)")
		}
		old := *tok
		tok.Expiry = time.Now().Add(-time.Minute)
		fresh, err := conf.TokenSource(ctx, tok).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if fresh.AccessToken == old.AccessToken {
			t.Error("refresh returned the same access token")
		}
		raw, _ := fresh.Extra("id_token").(string)
		if sub := grafanaJWTPayload(t, raw)["sub"]; sub != wantSub {
			t.Errorf("refreshed ID token sub = %v", sub)
		}
		rawID = raw
	}

	// Sign-out: signout_redirect_url with id_token_hint appended, back to
	// the registered URI; dingoidc's session has ended.
	so, err := url.Parse(cfg["signout_redirect_url"])
	if err != nil {
		t.Fatal(err)
	}
	q := so.Query()
	q.Set("id_token_hint", rawID)
	so.RawQuery = q.Encode()
	resp, page := b.get(so.String())
	if resp.StatusCode/100 != 3 || resp.Header.Get("Location") != grafanaSignoutReturn {
		t.Fatalf("sign-out ended at %s %q, want a redirect to %s\n%.500s", resp.Status, resp.Header.Get("Location"), grafanaSignoutReturn, page)
	}
	resp, page = b.get(conf.AuthCodeURL(state))
	if resp.StatusCode/100 == 3 || !strings.Contains(page, "upstream=dingtalk") {
		t.Errorf("after sign-out, authorize did not ask to log in again: %s %s", resp.Status, resp.Header.Get("Location"))
	}
}

// grafanaJWTPayload decodes the payload as Grafana does: three base64url
// segments, no signature check.
func grafanaJWTPayload(t *testing.T, raw string) map[string]any {
	t.Helper()
	if !regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`).MatchString(raw) {
		t.Fatalf("id_token %.40q is not a JWS", raw)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[1])
	if err != nil {
		t.Fatalf("id_token payload: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatalf("id_token payload: %v", err)
	}
	return m
}

// grafanaAPI is Grafana's api_url call: GET with the bearer token, JSON.
func grafanaAPI(t *testing.T, ctx context.Context, apiURL, accessToken string) map[string]any {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, apiURL, nil)
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := httpsClient().Do(req)
	if err != nil {
		t.Fatalf("api_url: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &m) != nil {
		t.Fatalf("api_url: %s %.300s", resp.Status, body)
	}
	return m
}

// grafanaString is the first non-empty string the JMESPath expression
// yields on the documents in order.
func grafanaString(t *testing.T, docs []map[string]any, path string) string {
	t.Helper()
	for _, d := range docs {
		v, err := jmespath.Search(path, d)
		if err != nil {
			t.Fatalf("JMESPath %q: %v", path, err)
		}
		if s, ok := v.(string); ok && s != "" {
			return s
		}
	}
	return ""
}

// grafanaStrings is the first non-empty string array it yields.
func grafanaStrings(t *testing.T, docs []map[string]any, path string) []string {
	t.Helper()
	for _, d := range docs {
		v, err := jmespath.Search(path, d)
		if err != nil {
			t.Fatalf("JMESPath %q: %v", path, err)
		}
		var out []string
		if arr, ok := v.([]any); ok {
			for _, e := range arr {
				if s, ok := e.(string); ok {
					out = append(out, s)
				}
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return nil
}
