package zhezhengding

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/upstream"
	"github.com/dingoidc/dingoidc/upstream/zzdsim"
)

// Test credentials of the simulator's app.
const (
	testAppCode     = "dingoidc_dingoa"
	testAppKey      = "dingoidc-Xk3mPq"
	testAppSecret   = "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tAbCd" // 40 alphanumerics
	testInAppKey    = "dingoidc_app-Zz9Yy8"
	testInAppSecret = "InAppS3cr3tInAppS3cr3tInAppS3cr3tInAppXy"
	testTenant      = 196729
	testCallback    = "https://sso.example.gov.cn/login/zzd/callback"
)

// The people of testdata/sim_people.json, by the captured answer each
// stands for.
var testPeople = map[string]int64{
	"getuserinfo_bycode.json":     90071992547409931,
	"getuserinfo_superadmin.json": 11000021,
	"dingtalk_app_user.json":      5550001,
}

// fault makes the gateway misbehave on one path ("" for every path): the
// simulator does not model these wire-level failures, so simGateway
// answers them itself.
type fault int

const (
	faultNone          fault = iota
	faultGateway             // the signature error envelope (captured)
	faultEchoGateway         // a gateway error quoting the string to sign (tokens, codes)
	faultStatus500           // HTTP 500 with a gateway-error body
	faultHTML502             // HTTP 502 with an HTML page
	faultHang                // no answer until the client gives up
	faultToken               // every token is refused (240133, captured)
	faultGarbage             // HTTP 200 with a JSON answer of the wrong shape
	faultSlow                // answer after a few milliseconds
	faultNonceUsed           // SignatureNonceUsed (-0008): another process took the nonce
	faultNonceUsedOnce       // faultNonceUsed for one call, then normal answers
)

// simGateway is upstream/zzdsim (the 浙政钉 model: signatures, app tokens,
// single-use codes, the people of testdata/sim_people.json) behind a tap
// that checks every request's wire format, records the calls and answers
// the faults above instead of the simulator.
type simGateway struct {
	t   *testing.T
	sim *zzdsim.Server
	srv *httptest.Server

	apps map[string]string // apiKey → secret

	mu             sync.Mutex
	nonces         map[string]bool
	calls          map[string]int                   // "apiKey path" and "path" → count
	issued         []string                         // every token and code handed out
	faults         map[string]fault                 // path ("" = all) → fault
	expiresIn      any                              // when set, the token answers' expiresIn (nil: the simulator's)
	rewriteExpires bool                             // expiresIn was set
	requestHeaders []http.Header                    // of every API request
	params         map[string][]map[string][]string // path → params of each call
}

func newSimGateway(t *testing.T, now func() time.Time) *simGateway {
	t.Helper()
	people, err := zzdsim.ParsePeople(readTestdata(t, "sim_people.json"))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := zzdsim.New(zzdsim.Options{
		Apps: map[string]zzdsim.App{testAppCode: {
			AppKey: testAppKey, AppSecret: testAppSecret, InAppKey: testInAppKey, InAppSecret: testInAppSecret,
			CallbackDomains: []string{"sso.example.gov.cn"}, ScanOrgAccess: true,
		}},
		People: people,
		Now:    now,
	})
	if err != nil {
		t.Fatal(err)
	}
	g := &simGateway{
		t: t, sim: sim,
		apps:   map[string]string{testAppKey: testAppSecret, testInAppKey: testInAppSecret},
		nonces: map[string]bool{},
		calls:  map[string]int{},
		faults: map[string]fault{},
		params: map[string][]map[string][]string{},
	}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newCode has the simulator's QR page approve a scan by the person of the
// captured answer file and returns the scan code.
func (g *simGateway) newCode(file string) string {
	g.t.Helper()
	q := url.Values{"response_type": {"code"}, "client_id": {testAppCode}, "redirect_uri": {testCallback},
		"scope": {"get_user_info"}, "authType": {"QRCODE"}, "state": {"st"}, "account": {fmt.Sprint(g.person(file))}}
	c := g.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(g.srv.URL + "/simulator/approve?" + q.Encode())
	if err != nil {
		g.t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		g.t.Fatalf("approve: %s %q", resp.Status, resp.Header.Get("Location"))
	}
	return g.keep(loc.Query().Get("code"))
}

// newAuthCode has the simulator's in-app stand-in issue an auth_code of
// the in-app pair for the person of the captured answer file.
func (g *simGateway) newAuthCode(file string) string {
	g.t.Helper()
	resp, err := g.srv.Client().PostForm(g.srv.URL+"/simulator/inapp", url.Values{"app": {testInAppKey}, "account": {fmt.Sprint(g.person(file))}})
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AuthCode string `json:"auth_code"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AuthCode == "" {
		g.t.Fatalf("in-app code: %s %v", resp.Status, err)
	}
	return g.keep(out.AuthCode)
}

func (g *simGateway) person(file string) int64 {
	id, ok := testPeople[file]
	if !ok {
		g.t.Fatalf("no test person for %s", file)
	}
	return id
}

func (g *simGateway) keep(secret string) string {
	g.mu.Lock()
	g.issued = append(g.issued, secret)
	g.mu.Unlock()
	return secret
}

func (g *simGateway) setFault(path string, f fault) {
	g.mu.Lock()
	g.faults[path] = f
	g.mu.Unlock()
}

// setExpiresIn makes the token answers say expiresIn v (nil: leave it out).
func (g *simGateway) setExpiresIn(v any) {
	g.mu.Lock()
	g.expiresIn, g.rewriteExpires = v, true
	g.mu.Unlock()
}

// revokeTokens has the simulator drop every token (answering 240133).
func (g *simGateway) revokeTokens() { g.sim.RevokeTokens("240133") }

func (g *simGateway) count(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[key]
}

// secrets are the app secrets and every token and code handed out: none
// may appear in an error or a log line.
func (g *simGateway) secrets() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := []string{testAppSecret, testInAppSecret}
	return append(s, g.issued...)
}

var (
	timestampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00$`)
	nonceRE     = regexp.MustCompile(`^\d{17}$`)
)

func (g *simGateway) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/simulator/") || strings.HasPrefix(r.URL.Path, "/oauth2/") {
		g.sim.ServeHTTP(w, r) // the login host's pages
		return
	}
	g.mu.Lock()
	f, ok := g.faults[r.URL.Path]
	if !ok {
		f = g.faults[""]
	}
	g.requestHeaders = append(g.requestHeaders, r.Header.Clone())
	g.mu.Unlock()

	// The client's wire format.
	var params map[string][]string
	switch r.Method {
	case http.MethodGet:
		params = r.URL.Query()
	case http.MethodPost:
		if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded; charset=UTF-8" {
			g.t.Errorf("%s: Content-Type %q", r.URL.Path, ct)
		}
		if r.URL.RawQuery != "" {
			g.t.Errorf("%s: POST with a query %q", r.URL.Path, r.URL.RawQuery)
		}
		body, _ := io.ReadAll(r.Body)
		form, err := url.ParseQuery(string(body))
		if err != nil {
			g.t.Errorf("%s: bad form: %v", r.URL.Path, err)
		}
		params = form
		r.Body = io.NopCloser(bytes.NewReader(body))
	default:
		g.t.Errorf("%s: method %s", r.URL.Path, r.Method)
	}
	key := r.Header.Get(HeaderAPIKey)
	ts, nonce := r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderNonce)
	if !timestampRE.MatchString(ts) {
		g.t.Errorf("%s: timestamp %q", r.URL.Path, ts)
	}
	if !nonceRE.MatchString(nonce) {
		g.t.Errorf("%s: nonce %q", r.URL.Path, nonce)
	}
	if v := r.Header.Get(HeaderVersion); v != "1.0" {
		g.t.Errorf("%s: version %q", r.URL.Path, v)
	}
	g.mu.Lock()
	if g.nonces[nonce] {
		g.t.Errorf("%s: nonce %s used twice", r.URL.Path, nonce)
	}
	g.nonces[nonce] = true
	g.calls[r.URL.Path]++
	g.calls[key+" "+r.URL.Path]++
	g.params[r.URL.Path] = append(g.params[r.URL.Path], params)
	g.mu.Unlock()

	switch f {
	case faultGateway:
		g.write(w, http.StatusOK, readTestdata(g.t, "gateway_signature.json"))
		return
	case faultEchoGateway:
		sts := StringToSign(r.Method, ts, nonce, r.URL.Path, params)
		body, _ := json.Marshal(map[string]any{
			"success": false, "Code": "OPF-B001-05-16-0009",
			"Message": "SignatureDoesNotMatch, server string to sign: " + sts + " secret " + g.apps[key],
		})
		g.write(w, http.StatusOK, body)
		return
	case faultStatus500:
		g.write(w, http.StatusInternalServerError,
			[]byte(`{"success":false,"Code":"ServiceUnavailable","Message":"backend unavailable","_RequestId":"r500"}`))
		return
	case faultHTML502:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
		return
	case faultHang:
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
			g.t.Errorf("%s: the client did not time out", r.URL.Path)
		}
		return
	case faultGarbage:
		g.write(w, http.StatusOK, []byte(`{"success":true,"content":{"success":true,"responseCode":"0","data":[1,2,3]}}`))
		return
	case faultToken:
		g.write(w, http.StatusOK, readTestdata(g.t, "error_240133.json"))
		return
	case faultSlow:
		time.Sleep(20 * time.Millisecond)
	case faultNonceUsed, faultNonceUsedOnce:
		if f == faultNonceUsedOnce {
			g.setFault(r.URL.Path, faultNone)
		}
		g.write(w, http.StatusOK, []byte(`{"success":false,"Code":"OPF-B001-05-16-0008","Message":"SignatureNonceUsed","_RequestId":"rnonce"}`))
		return
	}

	rec := httptest.NewRecorder()
	g.sim.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if r.URL.Path == tokenPath {
		body = g.tokenAnswer(body)
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.Code)
	w.Write(body)
}

// tokenAnswer records the token of a token answer and applies
// setExpiresIn.
func (g *simGateway) tokenAnswer(body []byte) []byte {
	var env map[string]any
	if json.Unmarshal(body, &env) != nil {
		return body
	}
	content, _ := env["content"].(map[string]any)
	data, _ := content["data"].(map[string]any)
	if data == nil {
		return body
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if tok, ok := data["accessToken"].(string); ok {
		g.issued = append(g.issued, tok)
	}
	if !g.rewriteExpires {
		return body
	}
	if g.expiresIn == nil {
		delete(data, "expiresIn")
	} else {
		data["expiresIn"] = g.expiresIn
	}
	out, err := json.Marshal(env)
	if err != nil {
		g.t.Fatal(err)
	}
	return out
}

func (g *simGateway) write(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	w.Write(body)
}

func firstOf(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// testClock is an injectable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2024, 1, 1, 4, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer collects log output from concurrent goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testEnv is a provider wired to the simulator, with its log. The
// simulator and the provider share the test clock.
type testEnv struct {
	p     *Provider
	gw    *simGateway
	clock *testClock
	logs  *syncBuffer
}

// newTestEnv makes a provider against a new simulator; edit changes the
// config. When the test ends, the log is checked for secrets.
func newTestEnv(t *testing.T, edit func(*Config)) *testEnv {
	t.Helper()
	clock := newTestClock()
	gw := newSimGateway(t, clock.Now)
	cfg := Config{
		LoginHost: "https://login.example.gov.cn",
		APIHost:   gw.srv.URL,
		AppCode:   testAppCode,
		AppKey:    testAppKey,
		AppSecret: testAppSecret,
		Timeout:   2 * time.Second,
	}
	if edit != nil {
		edit(&cfg)
	}
	env := &testEnv{gw: gw, clock: clock, logs: new(syncBuffer)}
	logger := slog.New(slog.NewTextHandler(env.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := New(cfg, gw.srv.Client(), logger, env.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	env.p = p
	t.Cleanup(func() { env.checkNoSecrets(t, "log", env.logs.String()) })
	return env
}

// checkNoSecrets fails if s holds a secret, token or code.
func (e *testEnv) checkNoSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, x := range e.gw.secrets() {
		if strings.Contains(s, x) {
			t.Errorf("%s contains the secret, a token or a code %q:\n%s", what, x, s)
		}
	}
}

// exchange logs in with a scan code.
func (e *testEnv) exchange(t *testing.T, code string) (*upstream.Identity, error) {
	t.Helper()
	return e.p.Exchange(t.Context(), map[string][]string{"code": {code}, "state": {"st"}}, testCallback)
}

func (e *testEnv) String() string { return fmt.Sprintf("provider against %s", e.gw.srv.URL) }

// TestCapturedEnvelopes: every captured answer in testdata/ parses as the
// kind it is (the simulator's answers are held to the same parser by the
// provider tests, which run against it).
func TestCapturedEnvelopes(t *testing.T) {
	for file, want := range map[string]string{
		"getuserinfo_bycode.json":     "data",
		"getuserinfo_superadmin.json": "data",
		"dingtalk_app_user.json":      "data",
		"positions.json":              "list",
		"organizations.json":          "list",
		"gettoken.json":               "data",
		"gettoken_string.json":        "data",
		"error_240111.json":           "api 240111",
		"error_240133.json":           "api 240133",
		"gateway_signature.json":      "gateway OPF-B001-05-16-0009",
	} {
		data, err := ParseEnvelope(readTestdata(t, file))
		var ae *APIError
		var ge *GatewayError
		got := ""
		switch {
		case errors.As(err, &ae):
			got = "api " + ae.Code
		case errors.As(err, &ge):
			got = "gateway " + ge.Code
		case err != nil:
			got = err.Error()
		case len(data) > 0 && data[0] == '[':
			got = "list"
		case len(data) > 0 && data[0] == '{':
			got = "data"
		}
		if got != want {
			t.Errorf("%s: %s, want %s", file, got, want)
		}
	}
}
