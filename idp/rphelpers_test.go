package idp_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/dingoidc/dingoidc/idp/keys"
)

// Helpers for rp_test.go and conformance_test.go: requests built by hand,
// so a test controls every parameter the way a particular app sends it.

// params is a code-flow authorization request for client "app" with PKCE;
// it returns the parameters and the PKCE verifier.
func params(scope string) (url.Values, string) {
	v := oauth2.GenerateVerifier()
	return url.Values{
		"client_id":             {"app"},
		"redirect_uri":          {testRedirect},
		"response_type":         {"code"},
		"scope":                 {scope},
		"state":                 {"st-" + v[:6]},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(v)},
		"code_challenge_method": {"S256"},
	}, v
}

// redirect runs the browser through /authorize with p and returns the app
// redirect (fails when the answer is not one).
func (b *browser) redirect(p url.Values) *url.URL {
	b.e.t.Helper()
	resp, body := b.get(b.e.issuer + "/authorize?" + p.Encode())
	if resp.StatusCode != http.StatusFound {
		b.e.t.Fatalf("authorize ended with %d, not an app redirect: %.300s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		b.e.t.Fatal(err)
	}
	return loc
}

// codeFor runs an authorization request that must succeed and returns the
// code.
func (b *browser) codeFor(p url.Values) string {
	b.e.t.Helper()
	q := b.redirect(p).Query()
	if q.Get("code") == "" || q.Get("error") != "" {
		b.e.t.Fatalf("no code: %v", q)
	}
	if q.Get("state") != p.Get("state") {
		b.e.t.Fatalf("state %q, want %q", q.Get("state"), p.Get("state"))
	}
	return q.Get("code")
}

// tokens is a token endpoint answer.
type tokens struct {
	resp   *http.Response
	body   map[string]any
	id     map[string]any // ID token payload (signature checked separately)
	header map[string]any // ID token header
}

// exchange redeems code as client "app" with client_secret_basic.
func (e *env) exchange(code, verifier string) *tokens {
	e.t.Helper()
	resp, body := e.postForm("/oauth/token", tokenForm(code, verifier), "app", testSecret)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("token: %d %v", resp.StatusCode, body)
	}
	return parseTokens(e.t, resp, body)
}

func parseTokens(t testing.TB, resp *http.Response, body map[string]any) *tokens {
	t.Helper()
	tk := &tokens{resp: resp, body: body}
	raw, _ := body["id_token"].(string)
	if raw == "" {
		t.Fatalf("token response without id_token: %v", body)
	}
	tk.header, tk.id = jwtParts(t, raw)
	return tk
}

// jwtParts decodes a JWT's header and payload without checking anything.
func jwtParts(t testing.TB, raw string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS compact serialization: %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("JWT part %d: %v", i, err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatalf("JWT part %d: %v", i, err)
		}
	}
	return header, payload
}

// userinfo calls the userinfo endpoint; how is "get", "post-header" or
// "post-body".
func (e *env) userinfo(how, accessToken string) (*http.Response, map[string]any) {
	e.t.Helper()
	var req *http.Request
	switch how {
	case "get":
		req, _ = http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+accessToken)
	case "post-header":
		req, _ = http.NewRequest(http.MethodPost, e.issuer+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+accessToken)
	case "post-body":
		req, _ = http.NewRequest(http.MethodPost, e.issuer+"/userinfo", strings.NewReader(url.Values{"access_token": {accessToken}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp, m
}

// halfHash is at_hash/c_hash for RS256 (OIDC Core §3.1.3.6).
func halfHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(h[:16])
}

// signIDToken signs claims with the provider's current key, as the
// provider would (used for ID tokens the provider issued long ago).
func (e *env) signIDToken(claims map[string]any) string {
	e.t.Helper()
	sealer, err := keys.NewSealer(testMasterKey)
	if err != nil {
		e.t.Fatal(err)
	}
	sk, err := keys.NewManager(e.store, sealer, keys.Options{}).SigningKey(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: sk.Key(), KeyID: sk.ID()}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		e.t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		e.t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		e.t.Fatal(err)
	}
	return raw
}

// expiredIDToken is an ID token for the test person issued to "app" two
// hours ago and expired an hour ago (what Argo CD and Grafana replay).
func (e *env) expiredIDToken() string {
	now := time.Now()
	return e.signIDToken(map[string]any{
		"iss": e.issuer, "sub": "dev_10001", "aud": []string{"app"}, "azp": "app",
		"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix(),
	})
}

// num reads a JSON number claim; it fails when the claim is not a number.
func num(t testing.TB, m map[string]any, k string) int64 {
	t.Helper()
	f, ok := m[k].(float64)
	if !ok {
		t.Fatalf("%s = %#v, not a JSON number", k, m[k])
	}
	return int64(f)
}

// checkHygiene: no empty strings, nulls or "null" (I10).
func checkHygiene(t testing.TB, what string, m map[string]any) {
	t.Helper()
	for k, v := range m {
		switch x := v.(type) {
		case nil:
			t.Errorf("%s: %s is null", what, k)
		case string:
			if x == "" || x == "null" {
				t.Errorf("%s: %s = %q", what, k, x)
			}
		case []any:
			if len(x) == 0 {
				t.Errorf("%s: %s is an empty array", what, k)
			}
		}
	}
}
