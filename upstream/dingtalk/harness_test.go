package dingtalk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/upstream/dingtalksim"
)

// Credentials of the simulator's app.
const (
	testClientID     = "dingoidc4test7kq2"
	testClientSecret = "s3cr3t-APP-secret-Zx81qLmN0pQrStUvWxYz"
	testCorpID       = "ding9f50b15bccd16741"
)

// fakePerson is one person of testdata/people.json: the captured answers
// of the three calls about them. The simulator's directory is made from
// them; a test that changes one has the tap answer the changed call with
// it instead of the simulator (shapes the simulator does not produce).
type fakePerson struct {
	Me           map[string]any  `json:"me"`
	GetByUnionID json.RawMessage `json:"getbyunionid"`
	UserGet      json.RawMessage `json:"user_get"`
}

// simDingTalk is upstream/dingtalksim (DingTalk's model: codes, user and
// app tokens, membership, profiles, departments), made from the captured
// people of testdata/, behind a tap that counts the calls, checks what
// must be sent, and applies the tests' changes: delays, server errors,
// users/me refused, and changed captured answers.
type simDingTalk struct {
	t   *testing.T
	sim *dingtalksim.Server
	srv *httptest.Server
	// login, api and oapi are the three hosts (one server).
	login, api, oapi *httptest.Server

	mu          sync.Mutex
	people      map[string]fakePerson // by key in people.json; tests change them
	orig        map[string]fakePerson
	issued      []string        // every code handed out
	calls       map[string]int  // path → count
	scanAs      string          // the login page always "scans" as zhangsan (AutoApprove)
	meForbidden bool            // users/me answers 403 (no Contact.User.Read)
	serverError map[string]bool // path → answer 500
	delay       map[string]time.Duration
}

func newFake(t *testing.T, now func() time.Time) *simDingTalk {
	t.Helper()
	f := &simDingTalk{t: t, calls: map[string]int{}, serverError: map[string]bool{}, delay: map[string]time.Duration{}}
	readJSON(t, "people.json", &f.people)
	f.orig = maps.Clone(f.people)
	opts := dingtalksim.Options{
		Apps: map[string]dingtalksim.App{testClientID: {
			Name: "dingoidc test", AppSecret: testClientSecret, CorpID: testCorpID,
			RedirectDomains: []string{"sso.example"},
			Permissions:     []string{"Contact.User.Read", "Contact.User.mobile", "qyapi_get_member"},
		}},
		Corps:       map[string]dingtalksim.Corp{testCorpID: {Name: "示例科技有限公司", Departments: departments(t)}},
		AutoApprove: f.unionID("zhangsan"),
		Now:         now,
	}
	known := map[int64]bool{}
	for _, d := range opts.Corps[testCorpID].Departments {
		known[d.ID] = true
	}
	for _, key := range []string{"zhangsan", "lisi", "wangwu", "zhaoliu", "sunqi"} {
		p := simPerson(t, f.people[key])
		if m, ok := p.Orgs[testCorpID]; ok {
			// The simulator knows only existing departments; the captured
			// profile (served for user/get) names a deleted one too.
			m.DeptIDList = slices.DeleteFunc(m.DeptIDList, func(id int64) bool { return !known[id] })
			p.Orgs[testCorpID] = m
		}
		opts.People = append(opts.People, p)
	}
	sim, err := dingtalksim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.sim = sim
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.login, f.api, f.oapi = f.srv, f.srv, f.srv
	t.Cleanup(f.srv.Close)
	return f
}

// simPerson is the simulator's record of a captured person.
func simPerson(t *testing.T, p fakePerson) dingtalksim.Person {
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	out := dingtalksim.Person{
		UnionID: str(p.Me, "unionId"), OpenID: str(p.Me, "openId"), Nick: str(p.Me, "nick"),
		AvatarURL: str(p.Me, "avatarUrl"), Mobile: str(p.Me, "mobile"), StateCode: str(p.Me, "stateCode"),
		Email: str(p.Me, "email"),
	}
	var by struct {
		ErrCode int `json:"errcode"`
		Result  struct {
			ContactType int    `json:"contact_type"`
			UserID      string `json:"userid"`
		} `json:"result"`
	}
	if err := json.Unmarshal(p.GetByUnionID, &by); err != nil || by.ErrCode != 0 {
		return out // in no corp
	}
	m := dingtalksim.Member{UserID: by.Result.UserID, ContactType: by.Result.ContactType, Active: true, Name: out.Nick}
	if len(p.UserGet) > 0 {
		var ug struct {
			Result struct {
				dingtalksim.Member
				Active bool `json:"active"`
			} `json:"result"`
		}
		if err := json.Unmarshal(p.UserGet, &ug); err != nil {
			t.Fatalf("user_get of %s: %v", out.UnionID, err)
		}
		m = ug.Result.Member
		m.Active, m.ContactType = ug.Result.Active, by.Result.ContactType
	}
	out.Orgs = map[string]dingtalksim.Member{testCorpID: m}
	return out
}

// departments is the captured department tree of testdata/departments.json.
func departments(t *testing.T) []dingtalksim.Department {
	var captured map[string]struct {
		Result dingtalksim.Department `json:"result"`
	}
	readJSON(t, "departments.json", &captured)
	var out []dingtalksim.Department
	for _, d := range captured {
		if d.Result.ID != 0 { // the captured "no such department" answers
			out = append(out, d.Result)
		}
	}
	return out
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

// config returns a provider config pointing at the simulator, restricted
// to the corp.
func (f *simDingTalk) config() Config {
	return Config{
		LoginHost: f.login.URL, APIHost: f.api.URL, OAPIHost: f.oapi.URL,
		ClientID: testClientID, ClientSecret: testClientSecret, CorpID: testCorpID, InApp: true,
		Timeout: 2 * time.Second,
	}
}

func (f *simDingTalk) unionID(person string) string {
	f.t.Helper()
	p, ok := f.orig[person] // a test may have changed the captured answers
	if !ok {
		f.t.Fatalf("no person %q in testdata/people.json", person)
	}
	u, _ := p.Me["unionId"].(string)
	return u
}

// issueCode returns a fresh auth code for person, as a scan would.
func (f *simDingTalk) issueCode(person string) string {
	f.t.Helper()
	q := url.Values{"redirect_uri": {"https://sso.example/cb"}, "response_type": {"code"}, "client_id": {testClientID},
		"scope": {"openid"}, "state": {"s"}, "prompt": {"consent"}, "unionId": {f.unionID(person)}}
	c := f.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(f.srv.URL + "/simulator/scan?" + q.Encode())
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || back.Query().Get("authCode") == "" {
		f.t.Fatalf("scan as %s: %s %q", person, resp.Status, resp.Header.Get("Location"))
	}
	return f.keep(back.Query().Get("authCode"))
}

// issueInAppCode returns a fresh in-app (免登) code for person, as
// dd.getAuthCode would inside the DingTalk app.
func (f *simDingTalk) issueInAppCode(person string) string {
	f.t.Helper()
	resp, err := f.srv.Client().PostForm(f.srv.URL+"/simulator/inapp", url.Values{"corpId": {testCorpID}, "unionId": {f.unionID(person)}})
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Code string `json:"code"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Code == "" {
		f.t.Fatalf("in-app code for %s: %s %v", person, resp.Status, err)
	}
	return f.keep(out.Code)
}

func (f *simDingTalk) keep(s string) string {
	f.mu.Lock()
	f.issued = append(f.issued, s)
	f.mu.Unlock()
	return s
}

// set changes the tap's knobs (or the captured people) under its lock.
func (f *simDingTalk) set(change func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change()
}

// revokeAppTokens makes DingTalk forget every app token (40014 next).
func (f *simDingTalk) revokeAppTokens() { f.sim.RevokeAppTokens() }

func (f *simDingTalk) count(path string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[path]
}

// allSecrets is every secret the harness knows: the app secret and each
// code it had issued (tokens are checked by the provider tests through
// the log's and errors' absence of codes and secrets).
func (f *simDingTalk) allSecrets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string{testClientSecret}, f.issued...)
}

// changed returns the changed captured answer for path, if a test changed
// one.
func (f *simDingTalk) changed(path string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for key, p := range f.people {
		o := f.orig[key]
		switch path {
		case "/v1.0/contact/users/me":
			a, _ := json.Marshal(p.Me)
			b, _ := json.Marshal(o.Me)
			if !bytes.Equal(a, b) {
				return a, true
			}
		case "/topapi/user/getbyunionid":
			if !bytes.Equal(p.GetByUnionID, o.GetByUnionID) {
				return p.GetByUnionID, true
			}
		case "/topapi/v2/user/get":
			if !bytes.Equal(p.UserGet, o.UserGet) {
				return p.UserGet, true
			}
		}
	}
	return nil, false
}

func (f *simDingTalk) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/simulator/") || strings.HasPrefix(r.URL.Path, "/oauth2/") {
		f.sim.ServeHTTP(w, r) // the login host's pages
		return
	}
	// Read the body first: only then does the server notice a client
	// that gave up.
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	f.mu.Lock()
	f.calls[r.URL.Path]++
	d, fail, forbidden := f.delay[r.URL.Path], f.serverError[r.URL.Path], f.meForbidden
	f.mu.Unlock()
	if d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/v1.0/") && r.Header.Get("Content-Type") != "application/json" {
		f.t.Errorf("%s: Content-Type %q", r.URL.Path, r.Header.Get("Content-Type"))
	}
	if r.URL.Path == "/topapi/v2/user/get" && !strings.Contains(string(body), `"language":"zh_CN"`) {
		f.t.Errorf("user/get without language zh_CN: %s", body)
	}
	switch {
	case fail:
		f.raw(w, http.StatusInternalServerError, testdata(f.t, "api_error_unknown.json"))
		return
	case forbidden && r.URL.Path == "/v1.0/contact/users/me":
		f.raw(w, http.StatusForbidden, testdata(f.t, "api_error_permission_denied.json"))
		return
	}
	b, ok := f.changed(r.URL.Path)
	if !ok && r.URL.Path != "/topapi/v2/user/get" {
		f.sim.ServeHTTP(w, r)
		return
	}
	// The simulator checks the call (token, parameters, membership); the
	// captured answer replaces its own: a changed one, or the captured
	// profile of user/get (richer than the simulator's, with a deleted
	// department).
	rec := httptest.NewRecorder()
	f.sim.ServeHTTP(rec, r)
	if !ok {
		var in struct {
			UserID string `json:"userid"`
		}
		json.Unmarshal(body, &in)
		if b, ok = f.capturedProfile(in.UserID); !ok || !strings.Contains(rec.Body.String(), `"errcode":0`) {
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes())
			return
		}
	}
	f.raw(w, http.StatusOK, b)
}

// capturedProfile is the captured user/get answer of userID.
func (f *simDingTalk) capturedProfile(userID string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.people {
		var ug struct {
			Result struct {
				UserID string `json:"userid"`
			} `json:"result"`
		}
		if json.Unmarshal(p.UserGet, &ug) == nil && ug.Result.UserID == userID && userID != "" {
			return p.UserGet, true
		}
	}
	return nil, false
}

func (f *simDingTalk) raw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
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

// harness is a provider talking to the simulator, logging at debug level
// into a buffer that is checked for secrets when the test ends. The
// simulator and the provider share the clock.
type harness struct {
	*simDingTalk
	p     *Provider
	clock *fakeClock
	logs  *syncBuffer
}

func newHarness(t *testing.T, mutate func(*Config)) *harness {
	t.Helper()
	clock := newClock()
	f := newFake(t, clock.Now)
	cfg := f.config()
	if mutate != nil {
		mutate(&cfg)
	}
	h := &harness{simDingTalk: f, clock: clock, logs: new(syncBuffer)}
	logger := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p, err := New(cfg, &http.Client{}, logger, h.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	h.p = p
	t.Cleanup(func() { h.noSecrets(t, "log", h.logs.String()) })
	return h
}

// noSecrets fails the test if s holds any secret the harness knows.
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

// TestCapturedAnswers: the captured error answers of testdata/ are read
// and classified as the provider must (the simulator's own answers are
// held to the same by the tests, which run against it).
func TestCapturedAnswers(t *testing.T) {
	for file, want := range map[string]string{
		"api_error_invalid_auth_code.json":      "code refused",
		"api_error_invalid_authentication.json": "other",
		"api_error_invalid_client.json":         "bad client",
		"api_error_missing_token.json":          "other",
		"api_error_permission_denied.json":      "permission",
		"api_error_unknown.json":                "other",
	} {
		status := http.StatusBadRequest
		switch want {
		case "permission":
			status = http.StatusForbidden
		}
		if file == "api_error_unknown.json" {
			status = http.StatusInternalServerError
		}
		ae := parseAPIError(status, testdata(t, file))
		got := "other"
		switch {
		case badClient(ae):
			got = "bad client"
		case codeRefused(ae):
			got = "code refused"
		case len(ae.RequiredScopes) > 0 && !ae.throttled():
			got = "permission"
		}
		if got != want || ae.RequestID == "" {
			t.Errorf("%s: %s (%+v), want %s", file, got, ae, want)
		}
	}
	for file, want := range map[string]int{
		"oapi_error_not_member.json":    oapiNotMember,
		"oapi_error_bad_appkey.json":    oapiBadAppKey,
		"oapi_error_no_permission.json": oapiNoPermission,
	} {
		var oe *OAPIError
		if err := parseOAPI(testdata(t, file), nil); !errors.As(err, &oe) || oe.code() != want {
			t.Errorf("%s: %v, want errcode %d", file, err, want)
		}
	}
	for _, file := range []string{"app_token.json", "user_access_token.json"} {
		var tok struct {
			AccessToken flexString `json:"accessToken"`
			ExpireIn    flexInt    `json:"expireIn"`
		}
		if err := json.Unmarshal(testdata(t, file), &tok); err != nil || tok.AccessToken == "" || tok.ExpireIn != 7200 {
			t.Errorf("%s: %+v %v", file, tok, err)
		}
	}
}
