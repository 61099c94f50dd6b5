package zhezhengding

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/upstream"
)

// Test credentials of the fake gateway.
const (
	testAppCode     = "dingoidc_dingoa"
	testAppKey      = "dingoidc-Xk3mPq"
	testAppSecret   = "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tAbCd" // 40 alphanumerics
	testInAppKey    = "dingoidc_app-Zz9Yy8"
	testInAppSecret = "InAppS3cr3tInAppS3cr3tInAppS3cr3tInAppXy"
	testTenant      = 196729
)

// fault makes the fake misbehave on one path ("" for every path).
type fault int

const (
	faultNone        fault = iota
	faultGateway           // the signature error envelope
	faultEchoGateway       // a gateway error quoting the string to sign (tokens, codes)
	faultStatus500         // HTTP 500 with a gateway-error body
	faultHTML502           // HTTP 502 with an HTML page
	faultHang              // no answer until the client gives up
	faultToken             // every token is refused (240133)
	faultGarbage           // HTTP 200 with a JSON answer of the wrong shape
	faultSlow              // answer after a few milliseconds
)

// fakeGateway speaks the Zhezhengding gateway's wire format: it checks
// every request's headers and signature with Sign and answers the
// envelopes of docs/upstreams.md from testdata/.
type fakeGateway struct {
	t   *testing.T
	srv *httptest.Server

	apps map[string]string // apiKey → secret

	mu             sync.Mutex
	nonces         map[string]bool
	calls          map[string]int                   // "apiKey path" and "path" → count
	tokens         map[string]string                // valid token → apiKey
	issued         []string                         // every token ever issued
	codes          map[string]string                // scan code → testdata file
	authCodes      map[string]string                // in-app auth_code → testdata file
	faults         map[string]fault                 // path ("" = all) → fault
	expiresIn      any                              // expiresIn of the token answers
	orgNames       map[string]string                // organizationCode → name
	requestHeaders []http.Header                    // of every request
	params         map[string][]map[string][]string // path → params of each call
}

func newFakeGateway(t *testing.T) *fakeGateway {
	t.Helper()
	g := &fakeGateway{
		t:         t,
		apps:      map[string]string{testAppKey: testAppSecret, testInAppKey: testInAppSecret},
		nonces:    map[string]bool{},
		calls:     map[string]int{},
		tokens:    map[string]string{},
		codes:     map[string]string{},
		authCodes: map[string]string{},
		faults:    map[string]fault{},
		expiresIn: 7200,
		orgNames:  map[string]string{},
		params:    map[string][]map[string][]string{},
	}
	var orgs struct {
		Content struct {
			Data []struct{ OrganizationCode, OrganizationName string }
		}
	}
	if err := json.Unmarshal(readTestdata(t, "organizations.json"), &orgs); err != nil {
		t.Fatal(err)
	}
	for _, o := range orgs.Content.Data {
		g.orgNames[o.OrganizationCode] = o.OrganizationName
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

// newCode registers a fresh 40-hex scan code for the person in file.
func (g *fakeGateway) newCode(file string) string {
	c := randomHex(20)
	g.mu.Lock()
	g.codes[c] = file
	g.mu.Unlock()
	return c
}

// newAuthCode registers a fresh in-app auth_code for the person in file.
func (g *fakeGateway) newAuthCode(file string) string {
	c := randomHex(16)
	g.mu.Lock()
	g.authCodes[c] = file
	g.mu.Unlock()
	return c
}

func (g *fakeGateway) setFault(path string, f fault) {
	g.mu.Lock()
	g.faults[path] = f
	g.mu.Unlock()
}

// revokeTokens makes every issued token unknown (240133).
func (g *fakeGateway) revokeTokens() {
	g.mu.Lock()
	clear(g.tokens)
	g.mu.Unlock()
}

func (g *fakeGateway) count(key string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[key]
}

// secrets are the strings no error or log line may contain.
func (g *fakeGateway) secrets() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := []string{testAppSecret, testInAppSecret}
	s = append(s, g.issued...)
	for c := range g.codes {
		s = append(s, c)
	}
	for c := range g.authCodes {
		s = append(s, c)
	}
	return s
}

var (
	timestampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00$`)
	nonceRE     = regexp.MustCompile(`^\d{17}$`)
)

func (g *fakeGateway) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	f, ok := g.faults[r.URL.Path]
	if !ok {
		f = g.faults[""]
	}
	g.requestHeaders = append(g.requestHeaders, r.Header.Clone())
	g.mu.Unlock()

	// The gateway's checks.
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
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := r.ParseForm(); err != nil {
			g.t.Errorf("%s: bad form: %v", r.URL.Path, err)
		}
		params = r.PostForm
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
	secret, known := g.apps[key]
	if !known || r.Header.Get(HeaderSignature) != Sign(secret, r.Method, ts, nonce, r.URL.Path, params) {
		g.write(w, http.StatusOK, readTestdata(g.t, "gateway_signature.json"))
		return
	}

	switch f {
	case faultGateway:
		g.write(w, http.StatusOK, readTestdata(g.t, "gateway_signature.json"))
		return
	case faultEchoGateway:
		sts := StringToSign(r.Method, ts, nonce, r.URL.Path, params)
		body, _ := json.Marshal(map[string]any{
			"success": false, "Code": "OPF-B001-05-16-0009",
			"Message": "SignatureDoesNotMatch, server string to sign: " + sts + " secret " + secret,
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
	case faultSlow:
		time.Sleep(20 * time.Millisecond)
	}

	switch r.URL.Path {
	case tokenPath:
		g.serveToken(w, key, params)
	case scanUserPath:
		g.serveUser(w, key, params, "code", g.codes, f)
	case inAppUserPath:
		g.serveUser(w, key, params, "auth_code", g.authCodes, f)
	case positionsPath: // signed, no access_token
		if firstOf(params["employeeCode"]) == "" || firstOf(params["tenantId"]) == "" {
			g.t.Errorf("positions without employeeCode or tenantId: %v", params)
		}
		g.write(w, http.StatusOK, readTestdata(g.t, "positions.json"))
	case organizationsPath:
		if firstOf(params["tenantId"]) == "" {
			g.t.Errorf("organizations without tenantId: %v", params)
		}
		var orgs []map[string]string
		for _, c := range params["organizationCodes"] {
			if n, ok := g.orgNames[c]; ok {
				orgs = append(orgs, map[string]string{"organizationCode": c, "organizationName": n, "parentCode": "GO_root"})
			}
		}
		g.write(w, http.StatusOK, envelopeOK(orgs))
	default:
		http.NotFound(w, r)
	}
}

func firstOf(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func (g *fakeGateway) serveToken(w http.ResponseWriter, key string, params map[string][]string) {
	if k := firstOf(params["appkey"]); k != "" && k != key {
		g.t.Errorf("gettoken: appkey %q for apiKey %q", k, key)
	}
	if s := firstOf(params["appsecret"]); s != "" && s != g.apps[key] {
		g.t.Errorf("gettoken: wrong appsecret for %q", key)
	}
	tok := "app_" + randomHex(16)
	g.mu.Lock()
	g.tokens[tok] = key
	g.issued = append(g.issued, tok)
	exp := g.expiresIn
	g.mu.Unlock()
	g.write(w, http.StatusOK, envelopeOK(map[string]any{"accessToken": tok, "expiresIn": exp}))
}

func (g *fakeGateway) tokenOK(key string, params map[string][]string, f fault) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return f != faultToken && g.tokens[firstOf(params["access_token"])] == key
}

func (g *fakeGateway) serveUser(w http.ResponseWriter, key string, params map[string][]string, name string, codes map[string]string, f fault) {
	if !g.tokenOK(key, params, f) {
		g.write(w, http.StatusOK, readTestdata(g.t, "error_240133.json"))
		return
	}
	g.mu.Lock()
	file, ok := codes[firstOf(params[name])]
	delete(codes, firstOf(params[name])) // single use
	g.mu.Unlock()
	if !ok {
		g.write(w, http.StatusOK, readTestdata(g.t, "error_240111.json"))
		return
	}
	g.write(w, http.StatusOK, readTestdata(g.t, file))
}

func (g *fakeGateway) write(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	w.Write(body)
}

// envelopeOK wraps data in a success envelope.
func envelopeOK(data any) []byte {
	b, err := json.Marshal(map[string]any{
		"success": true,
		"content": map[string]any{
			"success": true, "data": data, "requestId": randomHex(8),
			"responseMessage": "OK", "responseCode": "0", "bizErrorCode": "0",
		},
		"bizErrorCode": "0",
	})
	if err != nil {
		panic(err)
	}
	return b
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

// testEnv is a provider wired to a fake gateway, with its log.
type testEnv struct {
	p     *Provider
	gw    *fakeGateway
	clock *testClock
	logs  *syncBuffer
}

// newTestEnv makes a provider against a new fake gateway; edit changes
// the config. When the test ends, the log is checked for secrets.
func newTestEnv(t *testing.T, edit func(*Config)) *testEnv {
	t.Helper()
	gw := newFakeGateway(t)
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
	env := &testEnv{gw: gw, clock: newTestClock(), logs: new(syncBuffer)}
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
	return e.p.Exchange(t.Context(), map[string][]string{"code": {code}, "state": {"st"}}, "https://sso.example.gov.cn/login/zzd/callback")
}

func (e *testEnv) String() string { return fmt.Sprintf("provider against %s", e.gw.srv.URL) }
