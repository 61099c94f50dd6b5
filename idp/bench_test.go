package idp_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// benchEnv builds an env for a benchmark.
func benchEnv(b *testing.B, be backend) (*env, *rp) {
	b.Helper()
	// Benchmarks send thousands of logins from one address: far above
	// the per-IP rate limits, which are not what is measured.
	e := newEnv(b, be.open(b), func(e *env) { e.cfg.RateLimits.Disabled = true })
	app := e.rp("app", testSecret)
	app.conf.Scopes = []string{"openid", "profile", "email", "offline_access"}
	return e, app
}

// loginOnce runs authorize → upstream → callback → code → token → userinfo
// with plain HTTP requests (no go-oidc verification, which is the RP's cost).
func loginOnce(b testing.TB, e *env, app *rp, br *browser) (access, refresh string) {
	v := oauth2.GenerateVerifier()
	resp, err := br.hc.Get(app.conf.AuthCodeURL("state", oauth2.S256ChallengeOption(v)))
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		b.Fatalf("no code: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	m := exchange(b, e, tokenForm(loc.Query().Get("code"), v))
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+m["access_token"].(string))
	r2, err := e.ts.Client().Do(req)
	if err != nil || r2.StatusCode != http.StatusOK {
		b.Fatalf("userinfo: %v %v", err, r2)
	}
	io.Copy(io.Discard, r2.Body)
	r2.Body.Close()
	rt, _ := m["refresh_token"].(string)
	return m["access_token"].(string), rt
}

func exchange(b testing.TB, e *env, form url.Values) map[string]any {
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("app", testSecret)
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := jsonDecode(resp, &m); err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("token: %d %v %v", resp.StatusCode, m, err)
	}
	return m
}

// BenchmarkFirstLogin: a whole first login (new browser, upstream scan,
// user upsert, session, code, token, userinfo) over HTTPS.
func BenchmarkFirstLogin(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			e, app := benchEnv(b, be)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				loginOnce(b, e, app, e.browser())
			}
		})
		b.Run(be.name+"-parallel", func(b *testing.B) {
			e, app := benchEnv(b, be)
			b.ReportAllocs()
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					loginOnce(b, e, app, e.browser())
				}
			})
		})
	}
}

// BenchmarkCodeExchange: only the token request of a login.
func BenchmarkCodeExchange(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			e, app := benchEnv(b, be)
			br := e.browser()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				v := oauth2.GenerateVerifier()
				resp, err := br.hc.Get(app.conf.AuthCodeURL("state", oauth2.S256ChallengeOption(v)))
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				loc, _ := url.Parse(resp.Header.Get("Location"))
				b.StartTimer()
				exchange(b, e, tokenForm(loc.Query().Get("code"), v))
			}
		})
	}
}

// BenchmarkRefresh: refresh-token rotation, each iteration with the token
// the previous one returned.
func BenchmarkRefresh(b *testing.B) {
	for _, be := range backends() {
		b.Run(be.name, func(b *testing.B) {
			e, app := benchEnv(b, be)
			_, rt := loginOnce(b, e, app, e.browser())
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m := exchange(b, e, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
				rt = m["refresh_token"].(string)
			}
		})
	}
}
