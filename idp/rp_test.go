package idp_test

import (
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/dingoidc/dingoidc/idp"
	"github.com/dingoidc/dingoidc/idp/keys"
	"github.com/dingoidc/dingoidc/storage"
)

// TestRP checks every requirement of docs/relying-parties.md, one subtest
// per ID, against the whole server over HTTPS (fake upstream, go-oidc and
// x/oauth2 as the app, or requests built by hand where an app's exact
// bytes matter).
func TestRP(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	app := e.rp("app", testSecret) // the default: opaque access tokens
	// An app that verifies access tokens itself (Rancher, AT1) is set to
	// JWT access tokens.
	const rancherSecret = "rancher-secret-long-enough-0123"
	e.addClient(storage.Client{ID: "rancher", Name: "Rancher", RedirectURIs: []string{testRedirect}, AccessTokenFormat: "jwt"}, rancherSecret)
	rancher := e.rp("rancher", rancherSecret)
	discovery := func(t *testing.T) map[string]any {
		t.Helper()
		resp, err := e.ts.Client().Get(e.issuer + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc map[string]any
		if err := jsonDecode(resp, &doc); err != nil {
			t.Fatal(err)
		}
		return doc
	}

	// ---- 1.1 Discovery and keys ----

	t.Run("D1_discovery_https_json", func(t *testing.T) {
		if !strings.HasPrefix(e.issuer, "https://") {
			t.Fatalf("issuer %q", e.issuer)
		}
		resp, err := e.ts.Client().Get(e.issuer + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		// Under an issuer path too (GitLab builds <issuer>/.well-known/…).
		pe := newEnv(t, backends()[0].open(t), func(e *env) { e.cfg.Issuer += "/sso" })
		if body := getBody(t, pe, "/.well-known/openid-configuration"); !strings.Contains(body, `"issuer": "`+pe.issuer+`"`) {
			t.Fatalf("path issuer discovery: %.200s", body)
		}
	})

	t.Run("D2_issuer_byte_identical", func(t *testing.T) {
		if got := discovery(t)["issuer"]; got != e.issuer {
			t.Fatalf("discovery issuer %q, want %q", got, e.issuer)
		}
		l := app.login(e.browser())
		if l.claims["iss"] != e.issuer {
			t.Errorf("id token iss %q", l.claims["iss"])
		}
		_, at := jwtParts(t, rancher.login(e.browser()).token.AccessToken)
		if at["iss"] != e.issuer {
			t.Errorf("access token iss %q", at["iss"])
		}
		// A trailing slash fails loudly at start.
		cfg := e.cfg
		cfg.Issuer = e.issuer + "/"
		if _, err := idp.New(cfg, idp.Deps{}); err == nil || !strings.Contains(err.Error(), "must not end with '/'") {
			t.Fatalf("issuer with a trailing slash: %v", err)
		}
	})

	t.Run("D3_required_metadata", func(t *testing.T) {
		doc := discovery(t)
		for _, k := range []string{"issuer", "authorization_endpoint", "jwks_uri", "token_endpoint", "userinfo_endpoint", "end_session_endpoint"} {
			s, _ := doc[k].(string)
			if u, err := url.Parse(s); err != nil || u.Scheme != "https" || !strings.HasPrefix(s, e.issuer) {
				t.Errorf("%s = %#v, not an https URL under the issuer", k, doc[k])
			}
		}
		for _, k := range []string{"response_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported",
			"scopes_supported", "claims_supported", "grant_types_supported", "token_endpoint_auth_methods_supported", "code_challenge_methods_supported"} {
			if l, ok := doc[k].([]any); !ok || len(l) == 0 {
				t.Errorf("%s = %#v, not a non-empty array", k, doc[k])
			}
		}
	})

	t.Run("D4_no_none_alg", func(t *testing.T) {
		if got := strs(discovery(t)["id_token_signing_alg_values_supported"]); !slices.Equal(got, []string{"RS256"}) {
			t.Fatalf("id_token_signing_alg_values_supported = %v", got)
		}
		l := app.login(e.browser())
		if h, _ := jwtParts(t, l.raw); h["alg"] != "RS256" {
			t.Errorf("id token alg %v", h["alg"])
		}
	})

	t.Run("D5_basic_and_post", func(t *testing.T) {
		got := strs(discovery(t)["token_endpoint_auth_methods_supported"])
		if !slices.Contains(got, "client_secret_basic") || !slices.Contains(got, "client_secret_post") {
			t.Fatalf("token_endpoint_auth_methods_supported = %v", got)
		}
	})

	t.Run("D6_pkce_s256", func(t *testing.T) {
		if got := strs(discovery(t)["code_challenge_methods_supported"]); !slices.Equal(got, []string{"S256"}) {
			t.Fatalf("code_challenge_methods_supported = %v", got)
		}
	})

	t.Run("D7_all_scopes_together", func(t *testing.T) {
		scopes := strs(discovery(t)["scopes_supported"])
		if !slices.Contains(scopes, "openid") {
			t.Fatalf("scopes_supported %v", scopes)
		}
		// Jenkins/MinIO request every advertised scope, offline_access
		// included, without prompt=consent.
		p, v := params(strings.Join(scopes, " "))
		tk := e.exchange(e.browser().codeFor(p), v)
		if slices.Contains(scopes, "offline_access") && tk.body["refresh_token"] == nil {
			t.Error("offline_access without prompt=consent granted no refresh token (allowed, but we grant it)")
		}
	})

	t.Run("D8_jwks", func(t *testing.T) {
		// JWT access tokens for every app (the global setting), so that
		// both tokens of a login are checked against the JWKS.
		ke := newEnv(t, backends()[0].open(t), func(e *env) { e.cfg.DefaultAccessTokenFormat = "jwt" })
		kapp := ke.rp("app", testSecret)
		checkJWKS := func() []string {
			t.Helper()
			var raw struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal([]byte(getBody(t, ke, "/keys")), &raw); err != nil {
				t.Fatal(err)
			}
			var set jose.JSONWebKeySet
			if err := json.Unmarshal([]byte(getBody(t, ke, "/keys")), &set); err != nil {
				t.Fatal(err)
			}
			var kids []string
			for i, k := range raw.Keys {
				if k["kty"] != "RSA" || k["use"] != "sig" || k["alg"] != "RS256" || k["kid"] == "" || k["kid"] == nil {
					t.Errorf("key %v", k)
				}
				if _, ok := k["d"]; ok {
					t.Fatal("private key material in the JWKS")
				}
				if pub, ok := set.Keys[i].Key.(*rsa.PublicKey); !ok || pub.N.BitLen() < 2048 {
					t.Errorf("key %v: not RSA ≥ 2048 bits", k["kid"])
				}
				kid, _ := k["kid"].(string)
				if slices.Contains(kids, kid) {
					t.Errorf("kid %q repeated", kid)
				}
				kids = append(kids, kid)
			}
			return kids
		}
		before := checkJWKS()
		old := kapp.login(ke.browser())
		if h, _ := jwtParts(t, old.raw); !slices.Contains(before, h["kid"].(string)) {
			t.Fatalf("id token kid %v not in the JWKS %v", h["kid"], before)
		}
		if h, _ := jwtParts(t, old.token.AccessToken); !slices.Contains(before, h["kid"].(string)) {
			t.Fatalf("access token kid %v not in the JWKS %v", h["kid"], before)
		}
		// Rotate (as `dingoidc keys rotate --now` does) and look at a
		// replica that reads the new set.
		sealer, _ := keys.NewSealer(testMasterKey)
		added, err := keys.NewManager(ke.store, sealer, keys.Options{}).Rotate(t.Context(), true)
		if err != nil {
			t.Fatal(err)
		}
		ke.addReplica(ke.store)
		ke.use(1)
		after := checkJWKS()
		for _, kid := range append(before, added.ID) {
			if !slices.Contains(after, kid) {
				t.Errorf("kid %s not published after rotation: %v", kid, after)
			}
		}
		if _, err := kapp.verifier.Verify(kapp.ctx, old.raw); err != nil {
			t.Errorf("token signed before rotation no longer verifies: %v", err)
		}
		kapp.login(ke.browser())
	})

	// ---- 1.2 Authorization endpoint ----

	t.Run("A1_get_and_post", func(t *testing.T) {
		p, v := params("openid")
		e.exchange(e.browser().codeFor(p), v)
		p, v = params("openid")
		b := e.browser()
		resp, err := b.hc.PostForm(e.issuer+"/authorize", p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != p.Get("state") {
			t.Fatalf("POST authorize: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		e.exchange(loc.Query().Get("code"), v)
	})

	t.Run("A2_state_exact_code_urlsafe", func(t *testing.T) {
		for _, state := range []string{"q83vEjRWeJq8/+3+/w==", "a+b/c=d", "==", "中文 state&x=y#z"} {
			p, _ := params("openid")
			p.Set("state", state)
			loc := e.browser().redirect(p)
			if got := loc.Query().Get("state"); got != state {
				t.Errorf("state %q came back as %q (raw query %q)", state, got, loc.RawQuery)
			}
			raw := ""
			for _, kv := range strings.Split(loc.RawQuery, "&") {
				if strings.HasPrefix(kv, "code=") {
					raw = strings.TrimPrefix(kv, "code=")
				}
			}
			if raw == "" || strings.ContainsAny(raw, "+%/= ") || !regexp.MustCompile(`^[A-Za-z0-9_.-]+$`).MatchString(raw) {
				t.Errorf("code %q is not base64url-safe", raw)
			}
		}
	})

	t.Run("A3_nonce_optional_and_echoed", func(t *testing.T) {
		p, v := params("openid")
		tk := e.exchange(e.browser().codeFor(p), v)
		if _, ok := tk.id["nonce"]; ok {
			t.Errorf("nonce %v in an ID token requested without one", tk.id["nonce"])
		}
		p, v = params("openid")
		p.Set("nonce", "n-0S6_WzA2Mj")
		if tk = e.exchange(e.browser().codeFor(p), v); tk.id["nonce"] != "n-0S6_WzA2Mj" {
			t.Errorf("nonce %v, want echoed", tk.id["nonce"])
		}
	})

	t.Run("A4_pkce_optional_enforced_when_sent", func(t *testing.T) {
		p, _ := params("openid")
		p.Del("code_challenge")
		p.Del("code_challenge_method")
		e.exchange(e.browser().codeFor(p), "")

		p, _ = params("openid")
		code := e.browser().codeFor(p)
		resp, body := e.postForm("/oauth/token", tokenForm(code, ""), "app", testSecret)
		if resp.StatusCode != http.StatusBadRequest || (body["error"] != "invalid_grant" && body["error"] != "invalid_request") {
			t.Errorf("challenge sent, no verifier: %d %v", resp.StatusCode, body)
		}
		p, v := params("openid")
		e.exchange(e.browser().codeFor(p), v)
	})

	t.Run("A5_unknown_params_ignored", func(t *testing.T) {
		p, v := params("openid profile")
		for k, val := range map[string]string{
			"access_type": "offline", "next": "/luna/?x=1", "claims": `{"id_token":{"groups":{"essential":true}}}`,
			"hd": "example.gov.cn", "acr_values": "urn:mace:incommon:iap:silver", "extra": "foobar",
			"login_hint": "zhangsan", "ui_locales": "de-DE", "claims_locales": "se", "display": "page",
		} {
			p.Set(k, val)
		}
		e.exchange(e.browser().codeFor(p), v)
	})

	t.Run("A6_exact_redirect_uri", func(t *testing.T) {
		for _, r := range []string{"https://evil.example/callback", testRedirect + "?x=1", testRedirect + "/", strings.ToUpper(testRedirect), ""} {
			p, _ := params("openid")
			p.Set("redirect_uri", r)
			resp, body := e.browser().get(e.issuer + "/authorize?" + p.Encode())
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("redirect_uri %q: %d %q %.100s", r, resp.StatusCode, resp.Header.Get("Location"), body)
			}
		}
	})

	t.Run("A7_missing_response_type", func(t *testing.T) {
		p, _ := params("openid")
		p.Del("response_type")
		q := e.browser().redirect(p).Query()
		if q.Get("error") != "invalid_request" && q.Get("error") != "unsupported_response_type" {
			t.Fatalf("got %v", q)
		}
		if q.Get("state") != p.Get("state") {
			t.Errorf("error redirect without state: %v", q)
		}
	})

	t.Run("A8_session_prompts", func(t *testing.T) {
		b := e.browser()
		p, _ := params("openid")
		p.Set("prompt", "none")
		if q := b.redirect(p).Query(); q.Get("error") != "login_required" {
			t.Fatalf("prompt=none without a session: %v", q)
		}
		first := app.login(b)
		scans := e.up.Exchanges
		silent := app.login(b, oauth2.SetAuthURLParam("prompt", "none"))
		hinted := app.login(b, oauth2.SetAuthURLParam("prompt", "none"), oauth2.SetAuthURLParam("id_token_hint", first.raw))
		if e.up.Exchanges != scans || silent.idToken.Subject != first.idToken.Subject || hinted.idToken.Subject != first.idToken.Subject {
			t.Fatal("prompt=none with a session was not silent")
		}
		e.clock.Advance(2 * time.Second)
		forced := app.login(b, oauth2.SetAuthURLParam("prompt", "login"))
		if e.up.Exchanges != scans+1 || !authTime(t, forced).After(authTime(t, first)) {
			t.Fatal("prompt=login did not force a scan with a later auth_time")
		}
		e.clock.Advance(2 * time.Second)
		ma := app.login(b, oauth2.SetAuthURLParam("max_age", "1"))
		if e.up.Exchanges != scans+2 || !authTime(t, ma).After(authTime(t, forced)) {
			t.Fatal("max_age=1 did not force a scan")
		}
	})

	t.Run("A9_codes", func(t *testing.T) {
		seen := map[string]bool{}
		for range 5 {
			p, _ := params("openid")
			code := e.browser().codeFor(p)
			// ≥ 128 bits: at least 22 base64url characters, all different.
			if len(code) < 22 || seen[code] {
				t.Fatalf("code %q short or repeated", code)
			}
			seen[code] = true
		}
		// Bound to the redirect_uri …
		p, v := params("openid")
		code := e.browser().codeFor(p)
		form := tokenForm(code, v)
		form.Set("redirect_uri", testRedirect+"2")
		if resp, body := e.postForm("/oauth/token", form, "app", testSecret); resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("other redirect_uri: %d %v", resp.StatusCode, body)
		}
		// … to the PKCE challenge …
		if resp, body := e.postForm("/oauth/token", tokenForm(code, oauth2.GenerateVerifier()), "app", testSecret); resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("other verifier: %d %v", resp.StatusCode, body)
		}
		// … to the client, short-lived and single use.
		e.addClient(storage.Client{ID: "a9-other", RedirectURIs: []string{testRedirect}}, "a9-other-secret-long-enough")
		if resp, body := e.postForm("/oauth/token", tokenForm(code, v), "a9-other", "a9-other-secret-long-enough"); resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("other client: %d %v", resp.StatusCode, body)
		}
		e.exchange(code, v)
		if resp, body := e.postForm("/oauth/token", tokenForm(code, v), "app", testSecret); resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("second use: %d %v", resp.StatusCode, body)
		}
		p, v = params("openid")
		code = e.browser().codeFor(p)
		e.clock.Advance(61 * time.Second)
		if resp, body := e.postForm("/oauth/token", tokenForm(code, v), "app", testSecret); resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("code after 61 s: %d %v", resp.StatusCode, body)
		}
	})

	// ---- 1.3 Token endpoint ----

	t.Run("T1_basic_encoded_raw_and_post", func(t *testing.T) {
		const id, secret = "t1-app", "a+b/c=d%20e:f~g-long-enough"
		e.addClient(storage.Client{ID: id, RedirectURIs: []string{testRedirect}}, secret)
		for name, send := range map[string]func(url.Values) (*http.Response, map[string]any){
			"basic url-encoded": func(f url.Values) (*http.Response, map[string]any) {
				return e.postForm("/oauth/token", f, url.QueryEscape(id), url.QueryEscape(secret))
			},
			"basic raw": func(f url.Values) (*http.Response, map[string]any) { return e.postForm("/oauth/token", f, id, secret) },
			"post": func(f url.Values) (*http.Response, map[string]any) {
				f.Set("client_id", id)
				f.Set("client_secret", secret)
				return e.postForm("/oauth/token", f, "", "")
			},
		} {
			p, v := params("openid")
			p.Set("client_id", id)
			if resp, body := send(tokenForm(e.browser().codeFor(p), v)); resp.StatusCode != http.StatusOK {
				t.Errorf("%s: %d %v", name, resp.StatusCode, body)
			}
		}
	})

	t.Run("T2_failed_auth_keeps_code", func(t *testing.T) {
		p, v := params("openid")
		code := e.browser().codeFor(p)
		resp, body := e.postForm("/oauth/token", tokenForm(code, v), "app", "wrong-secret-wrong-secret")
		if resp.StatusCode != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Fatalf("wrong secret: %d %v", resp.StatusCode, body)
		}
		form := tokenForm(code, v)
		form.Set("client_id", "app")
		form.Set("client_secret", testSecret)
		if resp, body = e.postForm("/oauth/token", form, "", ""); resp.StatusCode != http.StatusOK || body["id_token"] == nil {
			t.Fatalf("AutoDetect retry in the body: %d %v", resp.StatusCode, body)
		}
		// x/oauth2 with its default AuthStyleAutoDetect completes too.
		app.login(e.browser())
	})

	t.Run("T3_scope_on_token_request_ignored", func(t *testing.T) {
		for _, scope := range []string{"openid profile email", "openid profile email groups offline_access address", "bogus"} {
			p, v := params("openid email")
			form := tokenForm(e.browser().codeFor(p), v)
			form.Set("scope", scope)
			resp, body := e.postForm("/oauth/token", form, "app", testSecret)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("scope %q on the token request: %d %v", scope, resp.StatusCode, body)
			}
			tk := parseTokens(t, resp, body)
			if _, ok := tk.id["name"]; ok {
				t.Errorf("scope %q on the token request widened the grant: %v", scope, tk.id)
			}
		}
	})

	t.Run("T4_token_response_shape", func(t *testing.T) {
		p, v := params("openid")
		tk := e.exchange(e.browser().codeFor(p), v)
		if ct := tk.resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("content type %q", ct)
		}
		if tk.resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", tk.resp.Header.Get("Cache-Control"))
		}
		if tk.body["token_type"] != "Bearer" || tk.body["access_token"] == "" || tk.body["access_token"] == nil {
			t.Errorf("body %v", tk.body)
		}
		if n := num(t, tk.body, "expires_in"); n <= 0 {
			t.Errorf("expires_in %d", n)
		}
	})

	t.Run("T5_refresh_new_id_token", func(t *testing.T) {
		p, v := params("openid profile offline_access")
		p.Set("nonce", "n-t5")
		tk := e.exchange(e.browser().codeFor(p), v)
		rt, _ := tk.body["refresh_token"].(string)
		if rt == "" {
			t.Fatal("no refresh token")
		}
		time.Sleep(1100 * time.Millisecond) // iat has whole seconds
		resp, body := e.postForm("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "app", testSecret)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("refresh: %d %v", resp.StatusCode, body)
		}
		r := parseTokens(t, resp, body)
		if r.body["access_token"] == tk.body["access_token"] || r.body["token_type"] != "Bearer" {
			t.Errorf("refresh answer %v", r.body)
		}
		for _, k := range []string{"iss", "sub", "azp"} {
			if r.id[k] != tk.id[k] {
				t.Errorf("%s %v, was %v", k, r.id[k], tk.id[k])
			}
		}
		if !slices.Equal(strs(r.id["aud"]), strs(tk.id["aud"])) {
			t.Errorf("aud %v, was %v", r.id["aud"], tk.id["aud"])
		}
		if num(t, r.id, "iat") <= num(t, tk.id, "iat") {
			t.Errorf("iat %v not fresh (was %v)", r.id["iat"], tk.id["iat"])
		}
		if n, ok := r.id["nonce"]; ok && n != "n-t5" {
			t.Errorf("refreshed nonce %v", n)
		}
		if _, err := app.verifier.Verify(app.ctx, body["id_token"].(string)); err != nil {
			t.Errorf("refreshed id token: %v", err)
		}
		// Bound to the client.
		e.addClient(storage.Client{ID: "t5-other", RedirectURIs: []string{testRedirect}}, "t5-other-secret-long-enough")
		nrt := body["refresh_token"].(string)
		resp, body = e.postForm("/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {nrt}}, "t5-other", "t5-other-secret-long-enough")
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("second client's refresh: %d %v", resp.StatusCode, body)
		}
	})

	t.Run("T6_code_reuse", func(t *testing.T) {
		p, v := params("openid")
		code := e.browser().codeFor(p)
		first := e.exchange(code, v)
		resp, body := e.postForm("/oauth/token", tokenForm(code, v), "app", testSecret)
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("reuse: %d %v %v", resp.StatusCode, body, resp.Header)
		}
		if r, _ := e.userinfo("get", first.body["access_token"].(string)); r.StatusCode != http.StatusUnauthorized {
			t.Errorf("access token of a reused code: userinfo %d", r.StatusCode)
		}
	})

	// ---- 1.4 ID token ----

	t.Run("I1_id_token_claims", func(t *testing.T) {
		p, v := params("openid")
		p.Set("nonce", "n-i1")
		p.Set("max_age", "3600")
		tk := e.exchange(e.browser().codeFor(p), v)
		if tk.id["iss"] != e.issuer || tk.id["nonce"] != "n-i1" {
			t.Errorf("claims %v", tk.id)
		}
		sub, _ := tk.id["sub"].(string)
		if sub == "" || len(sub) > 255 || !regexp.MustCompile(`^[\x21-\x7e]+$`).MatchString(sub) {
			t.Errorf("sub %q", sub)
		}
		// aud: zitadel/oidc marshals oidc.Audience as an array and op
		// offers no hook to change it (registered claims overwrite private
		// ones when merged). So: exactly [client_id], plus azp = client_id,
		// which is what JumpServer looks for when aud is not a string.
		if got := tk.id["aud"]; !slices.Equal(strs(got), []string{"app"}) {
			t.Errorf("aud %#v", got)
		}
		if tk.id["azp"] != "app" {
			t.Errorf("azp %#v", tk.id["azp"])
		}
		for _, k := range []string{"exp", "iat", "auth_time"} {
			num(t, tk.id, k)
		}
		if kid, _ := tk.header["kid"].(string); kid == "" {
			t.Errorf("no kid in header %v", tk.header)
		}
	})

	t.Run("I2_iat_at_token_endpoint", func(t *testing.T) {
		p, v := params("openid")
		code := e.browser().codeFor(p)
		time.Sleep(1100 * time.Millisecond)
		before := time.Now().Unix()
		tk := e.exchange(code, v)
		iat := num(t, tk.id, "iat")
		if iat < before || iat > time.Now().Unix() {
			t.Errorf("iat %d, exchange at %d", iat, before)
		}
	})

	t.Run("I3_no_nbf", func(t *testing.T) {
		p, v := params("openid offline_access")
		tk := e.exchange(e.browser().codeFor(p), v)
		if _, ok := tk.id["nbf"]; ok {
			t.Error("id token has nbf")
		}
		_, at := jwtParts(t, rancher.login(e.browser()).token.AccessToken)
		if nbf, ok := at["nbf"].(float64); ok && int64(nbf) > num(t, at, "iat") {
			t.Error("access token nbf after iat")
		}
	})

	t.Run("I4_exp_at_least_5_minutes", func(t *testing.T) {
		p, v := params("openid")
		tk := e.exchange(e.browser().codeFor(p), v)
		if life := num(t, tk.id, "exp") - num(t, tk.id, "iat"); life < 300 {
			t.Errorf("id token lives %d s", life)
		}
	})

	t.Run("I5_claims_by_scope", func(t *testing.T) {
		cases := []struct {
			scope      string
			has, lacks []string
		}{
			{"openid", nil, []string{"name", "preferred_username", "nickname", "email", "email_verified", "groups"}},
			{"openid profile", []string{"name", "preferred_username", "nickname"}, []string{"email", "groups"}},
			{"openid email", []string{"email", "email_verified"}, []string{"name", "groups"}},
			{"openid groups", []string{"groups"}, []string{"name", "email"}},
		}
		for _, c := range cases {
			p, v := params(c.scope)
			tk := e.exchange(e.browser().codeFor(p), v)
			for _, k := range c.has {
				if _, ok := tk.id[k]; !ok {
					t.Errorf("%q: id token lacks %s", c.scope, k)
				}
			}
			for _, k := range c.lacks {
				if _, ok := tk.id[k]; ok {
					t.Errorf("%q: id token has %s", c.scope, k)
				}
			}
		}
	})

	t.Run("I6_email_verified_boolean", func(t *testing.T) {
		p, v := params("openid email")
		tk := e.exchange(e.browser().codeFor(p), v)
		if tk.id["email_verified"] != true {
			t.Errorf("email_verified %#v", tk.id["email_verified"])
		}
		_, ui := e.userinfo("get", tk.body["access_token"].(string))
		if ui["email_verified"] != true {
			t.Errorf("userinfo email_verified %#v", ui["email_verified"])
		}
	})

	t.Run("I7_email_always_synthetic", func(t *testing.T) {
		e.up.AutoApprove = "10002" // 李四 has no e-mail upstream
		defer func() { e.up.AutoApprove = "10001" }()
		p, v := params("openid email profile")
		tk := e.exchange(e.browser().codeFor(p), v)
		if tk.id["email"] != "lisi@dev.dingoidc.invalid" || tk.id["email_verified"] != true {
			t.Errorf("email %#v verified %#v", tk.id["email"], tk.id["email_verified"])
		}
	})

	t.Run("I8_ascii_preferred_username", func(t *testing.T) {
		p, v := params("openid profile")
		tk := e.exchange(e.browser().codeFor(p), v)
		if u, _ := tk.id["preferred_username"].(string); !regexp.MustCompile(`^[a-z0-9._-]+$`).MatchString(u) {
			t.Errorf("preferred_username %q", u)
		}
		if tk.id["name"] != "张三" {
			t.Errorf("name %v", tk.id["name"])
		}
	})

	t.Run("I9_groups_array", func(t *testing.T) {
		p, v := params("openid groups")
		tk := e.exchange(e.browser().codeFor(p), v)
		if g := strs(tk.id["groups"]); !slices.Equal(g, []string{"运维组", "admins"}) {
			t.Errorf("groups %#v", tk.id["groups"])
		}
		_, ui := e.userinfo("get", tk.body["access_token"].(string))
		if g := strs(ui["groups"]); len(g) != 2 {
			t.Errorf("userinfo groups %#v", ui["groups"])
		}
	})

	t.Run("I10_no_empty_claims", func(t *testing.T) {
		e.up.AutoApprove = "10002" // no nickname, no e-mail upstream
		defer func() { e.up.AutoApprove = "10001" }()
		p, v := params("openid profile email groups phone")
		tk := e.exchange(e.browser().codeFor(p), v)
		checkHygiene(t, "id token", tk.id)
		if _, ok := tk.id["nickname"]; ok {
			t.Errorf("nickname %#v for a person without one", tk.id["nickname"])
		}
		_, ui := e.userinfo("get", tk.body["access_token"].(string))
		checkHygiene(t, "userinfo", ui)
		if n := len(tk.body["id_token"].(string)); n > 3000 {
			t.Errorf("id token is %d bytes", n)
		}
	})

	// ---- 1.5 UserInfo ----

	t.Run("U1_get_and_post", func(t *testing.T) {
		l := app.login(e.browser())
		for _, how := range []string{"get", "post-header", "post-body"} {
			if resp, ui := e.userinfo(how, l.token.AccessToken); resp.StatusCode != http.StatusOK || ui["sub"] != l.idToken.Subject {
				t.Errorf("%s: %d %v", how, resp.StatusCode, ui)
			}
		}
	})

	t.Run("U2_json_2xx", func(t *testing.T) {
		l := app.login(e.browser())
		resp, _ := e.userinfo("get", l.token.AccessToken)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})

	t.Run("U3_sub_matches_id_token", func(t *testing.T) {
		l := app.login(e.browser())
		if _, ui := e.userinfo("get", l.token.AccessToken); ui["sub"] != l.idToken.Subject {
			t.Errorf("userinfo sub %v, id token %v", ui["sub"], l.idToken.Subject)
		}
	})

	t.Run("U4_same_claims_flat", func(t *testing.T) {
		l := app.login(e.browser())
		_, ui := e.userinfo("get", l.token.AccessToken)
		for k, v := range l.claims {
			switch k {
			case "iss", "aud", "azp", "exp", "iat", "auth_time", "nonce", "at_hash", "c_hash", "amr", "acr", "sid", "jti", "client_id":
				continue
			}
			a, _ := json.Marshal(v)
			b, _ := json.Marshal(ui[k])
			if string(a) != string(b) {
				t.Errorf("%s: id token %s, userinfo %s", k, a, b)
			}
		}
		for k, v := range ui {
			if _, nested := v.(map[string]any); nested {
				t.Errorf("userinfo %s is an object", k)
			}
		}
	})

	t.Run("U5_userinfo_after_every_login", func(t *testing.T) {
		b := e.browser()
		for range 2 { // a first login and an SSO one
			l := app.login(b)
			if _, err := app.provider.UserInfo(app.ctx, oauth2.StaticTokenSource(l.token)); err != nil {
				t.Fatalf("userinfo: %v", err)
			}
		}
	})

	t.Run("U6_emails_path_not_html", func(t *testing.T) {
		l := app.login(e.browser())
		req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo/emails", nil)
		req.Header.Set("Authorization", "Bearer "+l.token.AccessToken)
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		put, _ := http.NewRequest(http.MethodPut, e.issuer+"/userinfo", nil)
		if resp, err = e.ts.Client().Do(put); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("PUT /userinfo: %d", resp.StatusCode)
		}
		// Other unknown paths under the issuer: a 404 page, never a login.
		r2, body := e.browser().get(e.issuer + "/no/such/path")
		if r2.StatusCode != http.StatusNotFound || r2.Request.URL.Path != "/no/such/path" || strings.Contains(body, "/upstream/") {
			t.Errorf("unknown path: %d at %s", r2.StatusCode, r2.Request.URL)
		}
	})

	// ---- 1.6 Access tokens ----

	t.Run("AT1_jwt_access_token", func(t *testing.T) {
		l := rancher.login(e.browser())
		at := l.token.AccessToken
		h, claims := jwtParts(t, at)
		if h["alg"] != "RS256" || h["kid"] == nil {
			t.Errorf("header %v", h)
		}
		// What Rancher does: the ID-token verifier on the access token.
		tok, err := rancher.provider.Verifier(&oidc.Config{ClientID: "rancher"}).Verify(rancher.ctx, at)
		if err != nil {
			t.Fatalf("go-oidc verifier on the access token: %v", err)
		}
		if tok.Issuer != e.issuer || tok.Subject != l.idToken.Subject || !slices.Contains(tok.Audience, "rancher") {
			t.Errorf("access token %+v", tok)
		}
		num(t, claims, "exp")
		num(t, claims, "iat")

		// Apps that choose nothing get opaque access tokens (one signature
		// per login; docs/performance.md), which userinfo accepts.
		ol := app.login(e.browser())
		if strings.Count(ol.token.AccessToken, ".") == 2 {
			t.Errorf("an app with the default format got a JWT access token")
		}
		if resp, ui := e.userinfo("get", ol.token.AccessToken); resp.StatusCode != http.StatusOK || ui["sub"] != ol.idToken.Subject {
			t.Errorf("userinfo with an opaque token: %d %v", resp.StatusCode, ui)
		}
	})

	// ---- 1.7 Logout ----

	t.Run("L1_end_session", func(t *testing.T) {
		end := func(b *browser, q url.Values) *http.Response {
			t.Helper()
			resp, _ := b.get(e.issuer + "/end_session?" + q.Encode())
			return resp
		}
		// An expired hint still identifies the app.
		b := e.browser()
		app.login(b)
		resp := end(b, url.Values{"id_token_hint": {e.expiredIDToken()}, "post_logout_redirect_uri": {testLogout}, "state": {"a+b="}})
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != testLogout+"?state=a%2Bb%3D" {
			t.Errorf("expired hint: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		p, _ := params("openid")
		p.Set("prompt", "none")
		if q := b.redirect(p).Query(); q.Get("error") != "login_required" {
			t.Errorf("session survived logout: %v", q)
		}
		// Unregistered or query-modified targets: our page, no redirect.
		for _, target := range []string{"https://evil.example/", testLogout + "?x=1", testLogout + "/"} {
			b := e.browser()
			l := app.login(b)
			for _, q := range []url.Values{
				{"id_token_hint": {l.raw}, "post_logout_redirect_uri": {target}},
				{"client_id": {"app"}, "post_logout_redirect_uri": {target}},
				{"post_logout_redirect_uri": {target}},
			} {
				if resp := end(b, q); resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
					t.Errorf("%v: %d %q", q, resp.StatusCode, resp.Header.Get("Location"))
				}
			}
		}
		// A forged hint: no redirect either.
		l := app.login(e.browser())
		if resp := end(e.browser(), url.Values{"id_token_hint": {l.raw[:len(l.raw)-4] + "AAAA"}, "post_logout_redirect_uri": {testLogout}}); resp.StatusCode != http.StatusOK {
			t.Errorf("forged hint: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("L2_rp_logout_styles", func(t *testing.T) {
		l := app.login(e.browser())
		for name, q := range map[string]url.Values{
			"gitlab (uri only)":       {"post_logout_redirect_uri": {testLogout}},
			"grafana (hint appended)": {"id_token_hint": {l.raw}, "post_logout_redirect_uri": {testLogout}},
			"nextcloud (client_id)":   {"client_id": {"app"}, "post_logout_redirect_uri": {testLogout}},
			"jumpserver (both)":       {"id_token_hint": {l.raw}, "client_id": {"app"}, "post_logout_redirect_uri": {testLogout}, "state": {"s"}},
			"argocd (expired hint)":   {"id_token_hint": {e.expiredIDToken()}, "post_logout_redirect_uri": {testLogout}},
		} {
			b := e.browser()
			app.login(b)
			resp, page := b.get(e.issuer + "/end_session?" + q.Encode())
			if q.Get("id_token_hint") == "" {
				// No hint: the person confirms first (a cross-site GET must
				// not log anybody out).
				resp = b.confirmLogout(page)
			}
			want := testLogout
			if s := q.Get("state"); s != "" {
				want += "?state=" + s
			}
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != want {
				t.Errorf("%s: %d %q", name, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		// POST works as well (with a hint; without one it asks first).
		b := e.browser()
		hl := app.login(b)
		resp, err := b.hc.PostForm(e.issuer+"/end_session", url.Values{"id_token_hint": {hl.raw}, "post_logout_redirect_uri": {testLogout}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != testLogout {
			t.Errorf("POST: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}
