package idp

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/dingoidc/dingoidc/upstream"
)

// FuzzParseRefresh: refresh tokens from apps are parsed without panics;
// what parses formats back to itself.
func FuzzParseRefresh(f *testing.F) {
	for _, s := range []string{"g1.0.secret", "g.9223372036854775807.s", "a.-1.b", "..", "a..b", "a.1.", ".1.b", "a.1.b.c", "a.+1.b", "a.01.b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		id, gen, secret, ok := parseRefresh(tok)
		if !ok {
			return
		}
		if id == "" || secret == "" || gen < 0 || strings.Contains(id, ".") || strings.Contains(secret, ".") {
			t.Fatalf("parsed %q into %q %d %q", tok, id, gen, secret)
		}
		if again, g2, s2, ok := parseRefresh(formatRefresh(id, gen, secret)); !ok || again != id || g2 != gen || s2 != secret {
			t.Fatalf("round trip of %q fails", tok)
		}
	})
}

// FuzzParseTokenID: access token ids (inside opaque tokens and jti) parse
// without panics and round-trip.
func FuzzParseTokenID(f *testing.F) {
	for _, s := range []string{"g.0.1700000000", "g.1.-1", "..", "g.x.1", "g.0.99999999999999999999", "a.b.c.d", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		grant, exp, ok := parseTokenID(id)
		if !ok {
			return
		}
		if strings.Contains(grant, ".") {
			t.Fatalf("grant %q from %q", grant, id)
		}
		again, exp2, ok := parseTokenID(tokenID(grant, 0, exp))
		if !ok || again != grant || !exp2.Equal(exp) {
			t.Fatalf("round trip of %q fails", id)
		}
	})
}

// FuzzTokenRequestCredentials: a token request's Authorization header and
// body, as any client may send them, go through the rate limiter's client
// lookup and withRawBasic without panics, and the handler reads the body
// exactly as sent.
func FuzzTokenRequestCredentials(f *testing.F) {
	f.Add("Basic YXBwOnNlY3JldA==", "grant_type=authorization_code&code=x")
	f.Add("Basic YSUzQWI6cyUyNQ==", "")
	f.Add("Basic !!!", "client_id=app&client_secret=s")
	f.Add("Basic Og==", "client_id=%zz")
	f.Add("Bearer x", strings.Repeat("a", peekFormLimit+10))
	f.Add("", "client_id=app&client_id=other;x")
	f.Fuzz(func(t *testing.T, auth, body string) {
		if !utf8.ValidString(auth) || strings.ContainsAny(auth, "\r\n") {
			return // not a header value an HTTP server would pass on
		}
		r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", auth)
		_ = tokenClientID(r)
		var got []byte
		var secret string
		var hasSecret bool
		withRawBasic(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			got, _ = io.ReadAll(r.Body)
			secret, hasSecret = rawBasicSecret(r.Context())
		})).ServeHTTP(httptest.NewRecorder(), r)
		if !bytes.Equal(got, []byte(body)) {
			t.Fatalf("handler read %d bytes, %d were sent", len(got), len(body))
		}
		if _, s, ok := r.BasicAuth(); ok != hasSecret || s != secret {
			t.Fatalf("raw secret %q %v, BasicAuth says %q %v", secret, hasSecret, s, ok)
		}
	})
}

// FuzzClaimsMapping: arbitrary claim templates over arbitrary attributes
// either fail to compile with an error, or map without panics, within
// bounded time and output, into claims of the documented types.
func FuzzClaimsMapping(f *testing.F) {
	f.Add("name", `{{.name}}`, `{"name":"张三"}`)
	f.Add("groups", `{{range .depts}}{{.}}
{{end}}`, `{"depts":["a","b",""]}`)
	f.Add("email", `{{.mail | lower | trim}}`, `{"mail":" A@B.C "}`)
	f.Add("preferred_username", `{{ascii .name}}`, `{"name":"Zhāng 三"}`)
	f.Add("email_verified", `{{if .v}}true{{end}}`, `{"v":1}`)
	f.Add("x", `{{join "," .l}}`, `{"l":[1,null,{"a":2}]}`)
	f.Add("x", `{{range 100000000}}xxxxxxxx{{end}}`, `{}`)
	f.Add("x", `{{template "x"}}`, `{}`)
	f.Add("x", `{{define "y"}}{{template "y"}}{{end}}{{template "y"}}`, `{}`)
	f.Fuzz(func(t *testing.T, name, tmpl, attrsJSON string) {
		var attrs map[string]any
		if json.Unmarshal([]byte(attrsJSON), &attrs) != nil {
			return
		}
		m, err := newClaimsMapper(map[string]string{"name": "{{.name}}"}, map[string]string{name: tmpl})
		if err != nil {
			return
		}
		m.syntheticDomain = "dev.invalid"
		start := time.Now()
		out, err := m.Map(&upstream.Identity{ExternalID: "k1", Attributes: attrs})
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("mapping took %v", d)
		}
		if err != nil {
			return
		}
		for k, v := range out {
			switch x := v.(type) {
			case string:
				if len(x) > maxClaimBytes {
					t.Fatalf("claim %s of %d bytes", k, len(x))
				}
			case []string, bool:
			default:
				t.Fatalf("claim %s of type %T", k, v)
			}
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("claims do not encode: %v", err)
		}
	})
}
