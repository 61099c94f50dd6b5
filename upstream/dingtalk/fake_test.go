package dingtalk

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Credentials of the fake's app.
const (
	testClientID     = "dingoidc4test7kq2"
	testClientSecret = "s3cr3t-APP-secret-Zx81qLmN0pQrStUvWxYz"
	testCorpID       = "ding9f50b15bccd16741"
)

// fakePerson is one person of testdata/people.json: the captured answers
// of the three calls about them.
type fakePerson struct {
	Me           map[string]any  `json:"me"`
	GetByUnionID json.RawMessage `json:"getbyunionid"`
	UserGet      json.RawMessage `json:"user_get"`
}

// fakeDingTalk is a small stand-in for DingTalk's three hosts, answering
// with the captured JSON of testdata/ and DingTalk's error quirks.
type fakeDingTalk struct {
	t                      *testing.T
	login, api, oapi       *httptest.Server
	people                 map[string]fakePerson // by key in people.json
	depts                  map[string]json.RawMessage
	clientID, clientSecret string

	mu          sync.Mutex
	codes       map[string]string // auth code → person key; single use
	inAppCodes  map[string]string // in-app (免登) code → person key; single use
	userTokens  map[string]string // user token → person key
	appTokens   map[string]bool   // valid app tokens
	secrets     []string          // every code and token handed out
	calls       map[string]int    // path → count
	scanAs      string            // person the login page "scans" as
	meForbidden bool              // users/me answers 403 (no Contact.User.Read)
	serverError map[string]bool   // path → answer 500
	delay       map[string]time.Duration
	tokenExpire int // expireIn of app tokens (default 7200)
}

func newFake(t *testing.T) *fakeDingTalk {
	t.Helper()
	f := &fakeDingTalk{
		t: t, clientID: testClientID, clientSecret: testClientSecret,
		codes: map[string]string{}, inAppCodes: map[string]string{}, userTokens: map[string]string{}, appTokens: map[string]bool{},
		calls: map[string]int{}, serverError: map[string]bool{}, delay: map[string]time.Duration{},
		tokenExpire: 7200,
	}
	readJSON(t, "people.json", &f.people)
	readJSON(t, "departments.json", &f.depts)
	f.login = httptest.NewServer(http.HandlerFunc(f.serveLogin))
	f.api = httptest.NewServer(http.HandlerFunc(f.serveAPI))
	f.oapi = httptest.NewServer(http.HandlerFunc(f.serveOAPI))
	t.Cleanup(func() { f.login.Close(); f.api.Close(); f.oapi.Close() })
	return f
}

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	if err := json.Unmarshal(testdata(t, name), v); err != nil {
		t.Fatalf("testdata/%s: %v", name, err)
	}
}

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// config returns a provider config pointing at the fake, restricted to
// the corp.
func (f *fakeDingTalk) config() Config {
	return Config{
		LoginHost: f.login.URL, APIHost: f.api.URL, OAPIHost: f.oapi.URL,
		ClientID: testClientID, ClientSecret: testClientSecret, CorpID: testCorpID, InApp: true,
		Timeout: 2 * time.Second,
	}
}

func randomToken() string {
	return strings.ToLower(rand.Text())
}

// issueCode returns a fresh auth code for person, as a scan would.
func (f *fakeDingTalk) issueCode(person string) string {
	f.t.Helper()
	code := randomToken()
	f.mu.Lock()
	if _, ok := f.people[person]; !ok {
		f.mu.Unlock()
		f.t.Fatalf("no person %q in testdata/people.json", person)
	}
	f.codes[code] = person
	f.secrets = append(f.secrets, code)
	f.mu.Unlock()
	return code
}

// issueInAppCode returns a fresh in-app code for person, as
// dd.getAuthCode would inside the DingTalk app.
func (f *fakeDingTalk) issueInAppCode(person string) string {
	f.t.Helper()
	code := randomToken()
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.people[person]; !ok {
		f.t.Fatalf("no person %q in testdata/people.json", person)
	}
	f.inAppCodes[code] = person
	f.secrets = append(f.secrets, code)
	return code
}

// set changes the fake's knobs or people under its lock.
func (f *fakeDingTalk) set(change func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change()
}

// revokeAppTokens makes DingTalk forget every app token (40014 next).
func (f *fakeDingTalk) revokeAppTokens() {
	f.mu.Lock()
	clear(f.appTokens)
	f.mu.Unlock()
}

func (f *fakeDingTalk) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[path]
}

// allSecrets is every secret the fake knows: the app secret and each code
// and token it handed out.
func (f *fakeDingTalk) allSecrets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string{f.clientSecret}, f.secrets...)
}

// begin counts the call and applies the delay and server-error knobs; it
// reports whether the handler should go on.
func (f *fakeDingTalk) begin(w http.ResponseWriter, r *http.Request) bool {
	// Read the body first: only then does the server notice a client
	// that gave up.
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	f.mu.Lock()
	f.calls[r.URL.Path]++
	d, fail := f.delay[r.URL.Path], f.serverError[r.URL.Path]
	f.mu.Unlock()
	if d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return false
		}
	}
	if fail {
		f.raw(w, http.StatusInternalServerError, "api_error_unknown.json")
		return false
	}
	return true
}

func (f *fakeDingTalk) raw(w http.ResponseWriter, status int, file string) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	w.Write(testdata(f.t, file))
}

func (f *fakeDingTalk) json(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	json.NewEncoder(w).Encode(v)
}

// serveLogin is the QR page: it "scans" as f.scanAs and sends the browser
// back with authCode and code, like the simulator.
func (f *fakeDingTalk) serveLogin(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.URL.Path != "/oauth2/auth" || q.Get("client_id") != f.clientID || q.Get("response_type") != "code" ||
		q.Get("prompt") != "consent" || !strings.HasPrefix(q.Get("scope"), "openid") || q.Get("redirect_uri") == "" {
		http.Error(w, "bad login request", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	as := f.scanAs
	f.mu.Unlock()
	code := f.issueCode(as)
	cb, _ := url.Parse(q.Get("redirect_uri"))
	v := cb.Query()
	v.Set("authCode", code)
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	cb.RawQuery = v.Encode()
	http.Redirect(w, r, cb.String(), http.StatusFound)
}

func (f *fakeDingTalk) serveAPI(w http.ResponseWriter, r *http.Request) {
	if !f.begin(w, r) {
		return
	}
	var in map[string]string
	if r.Method == http.MethodPost {
		if r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want JSON", http.StatusUnsupportedMediaType)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, "bad JSON", http.StatusBadRequest)
			return
		}
	}
	switch r.Method + " " + r.URL.Path {
	case "POST /v1.0/oauth2/userAccessToken":
		if in["clientId"] != f.clientID || in["clientSecret"] != f.clientSecret {
			f.raw(w, http.StatusBadRequest, "api_error_invalid_client.json")
			return
		}
		if in["grantType"] != "authorization_code" {
			http.Error(w, "bad grantType", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		person, ok := f.codes[in["code"]]
		delete(f.codes, in["code"])
		f.mu.Unlock()
		if !ok {
			f.raw(w, http.StatusBadRequest, "api_error_invalid_auth_code.json")
			return
		}
		var out map[string]any
		readJSON(f.t, "user_access_token.json", &out)
		tok, refresh := randomToken(), randomToken()
		out["accessToken"], out["refreshToken"] = tok, refresh
		f.mu.Lock()
		f.userTokens[tok] = person
		f.secrets = append(f.secrets, tok, refresh)
		f.mu.Unlock()
		f.json(w, out)
	case "GET /v1.0/contact/users/me":
		tok := r.Header.Get("x-acs-dingtalk-access-token")
		f.mu.Lock()
		person, ok := f.userTokens[tok]
		forbidden, me := f.meForbidden, f.people[person].Me
		f.mu.Unlock()
		switch {
		case tok == "":
			f.raw(w, http.StatusBadRequest, "api_error_missing_token.json")
		case !ok:
			f.raw(w, http.StatusBadRequest, "api_error_invalid_authentication.json")
		case forbidden:
			f.raw(w, http.StatusForbidden, "api_error_permission_denied.json")
		default:
			f.json(w, me)
		}
	case "POST /v1.0/oauth2/accessToken":
		if in["appKey"] != f.clientID || in["appSecret"] != f.clientSecret {
			f.raw(w, http.StatusBadRequest, "api_error_invalid_client.json")
			return
		}
		var out map[string]any
		readJSON(f.t, "app_token.json", &out)
		tok := randomToken()
		f.mu.Lock()
		f.appTokens[tok] = true
		f.secrets = append(f.secrets, tok)
		out["accessToken"], out["expireIn"] = tok, f.tokenExpire
		f.mu.Unlock()
		f.json(w, out)
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"code":"InvalidAction.NotFound","requestid":"0000","message":"Specified api is not found, please check your url and method."}`)
	}
}

func (f *fakeDingTalk) serveOAPI(w http.ResponseWriter, r *http.Request) {
	if !f.begin(w, r) {
		return
	}
	f.mu.Lock()
	valid := f.appTokens[r.URL.Query().Get("access_token")]
	people := maps.Clone(f.people)
	f.mu.Unlock()
	if r.Method != http.MethodPost || !valid {
		f.raw(w, http.StatusOK, "oapi_error_bad_token.json")
		return
	}
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		f.json(w, map[string]any{"errcode": 40035, "errmsg": "缺少参数"})
		return
	}
	find := func(field string, get func(fakePerson) json.RawMessage) (json.RawMessage, bool) {
		for _, p := range people {
			b := get(p)
			var env struct {
				Result map[string]any `json:"result"`
			}
			json.Unmarshal(b, &env)
			if field == "unionid" && p.Me["unionId"] == in["unionid"] {
				return b, true
			}
			if field == "userid" && env.Result != nil && env.Result["userid"] == in["userid"] {
				return b, true
			}
		}
		return nil, false
	}
	switch r.URL.Path {
	case "/topapi/user/getbyunionid":
		b, ok := find("unionid", func(p fakePerson) json.RawMessage { return p.GetByUnionID })
		if !ok {
			f.raw(w, http.StatusOK, "oapi_error_not_member.json")
			return
		}
		w.Write(b)
	case "/topapi/v2/user/get":
		if in["language"] != "zh_CN" {
			f.t.Errorf("user/get without language zh_CN: %v", in)
		}
		b, ok := find("userid", func(p fakePerson) json.RawMessage { return p.UserGet })
		if !ok {
			f.raw(w, http.StatusOK, "oapi_error_not_member.json")
			return
		}
		w.Write(b)
	case "/topapi/v2/user/getuserinfo":
		code, _ := in["code"].(string)
		f.mu.Lock()
		key, ok := f.inAppCodes[code]
		delete(f.inAppCodes, code)
		f.mu.Unlock()
		if !ok {
			f.json(w, map[string]any{"errcode": 40078, "errmsg": "不存在的临时授权码"})
			return
		}
		p := people[key]
		var ug struct {
			Result map[string]any `json:"result"`
		}
		json.Unmarshal(p.UserGet, &ug)
		f.json(w, map[string]any{"errcode": 0, "errmsg": "ok", "request_id": "ab1cd2ef3gh4", "result": map[string]any{
			"userid": ug.Result["userid"], "unionid": p.Me["unionId"], "name": ug.Result["name"], "device_id": "0f0e0d0c", "sys": false, "sys_level": 0,
		}})
	case "/topapi/v2/department/get":
		id, _ := in["dept_id"].(float64)
		b, ok := f.depts[strconv.FormatInt(int64(id), 10)]
		if !ok {
			f.raw(w, http.StatusOK, "oapi_error_not_member.json")
			return
		}
		w.Write(b)
	default:
		f.json(w, map[string]any{"errcode": 22, "errmsg": "不存在的接口"})
	}
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// harness is a provider talking to a fake, logging at debug level into a
// buffer that is checked for secrets when the test ends.
type harness struct {
	*fakeDingTalk
	p     *Provider
	clock *fakeClock
	logs  *syncBuffer
}

func newHarness(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	f := newFake(t)
	cfg := f.config()
	if mutate != nil {
		mutate(&cfg)
	}
	h := &harness{fakeDingTalk: f, clock: newClock(), logs: new(syncBuffer)}
	logger := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := New(cfg, &http.Client{}, logger, h.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	h.p = p
	t.Cleanup(func() { h.noSecrets(t, "log", h.logs.String()) })
	return h
}

// noSecrets fails the test if s holds any secret the fake knows.
func (h *harness) noSecrets(t *testing.T, what, s string) {
	t.Helper()
	for _, x := range h.allSecrets() {
		if x != "" && strings.Contains(s, x) {
			t.Errorf("%s holds a secret (%.4s…):\n%s", what, x, s)
		}
	}
}

// signIn scans as person and exchanges the code.
func (h *harness) signIn(t *testing.T, person string) (map[string]any, error) {
	t.Helper()
	id, err := h.p.Exchange(t.Context(), url.Values{"authCode": {h.issueCode(person)}, "state": {"s"}}, "https://sso.example/cb")
	if err != nil {
		h.noSecrets(t, "error", fmt.Sprintf("%v %+v %#v", err, err, err))
		return nil, err
	}
	if id.ExternalID == "" || len(id.AMR) != 1 || id.AMR[0] != "qr" {
		t.Errorf("identity %+v", id)
	}
	if id.ExternalID != id.Attributes["unionId"] {
		t.Errorf("ExternalID %q, unionId %v", id.ExternalID, id.Attributes["unionId"])
	}
	return id.Attributes, nil
}

// httptestServer serves h for the test and returns its URL.
func httptestServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func slogJSON(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
