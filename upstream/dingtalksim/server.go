package dingtalksim

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/dingoidc/dingoidc/upstream/simkit"
)

// Server simulates the three DingTalk hosts dingoidc talks to, as one
// http.Handler: point the login, API and oapi host settings all at it (their
// paths do not collide). Wire formats follow docs/upstreams.md §2 (DingTalk).
//
// login.dingtalk.com (browser pages):
//
//	GET      /oauth2/auth      the QR page: a list of people to "scan" as
//	GET|POST /simulator/scan   the scan: the query of /oauth2/auth plus
//	                           unionId=… → 302 redirect_uri?authCode=…&state=…&code=…
//	GET|POST /simulator/cancel a refusal: the query of /oauth2/auth →
//	                           302 redirect_uri?error=access_denied&…&state=…
//	GET|POST /simulator/inapp  dd.getAuthCode({corpId}) (免登) stand-in:
//	                           corpId=…&unionId=… → {"code":"…"}
//
// api.dingtalk.com (errors: HTTP 4xx/5xx {"requestid","code","message"}):
//
//	POST /v1.0/oauth2/userAccessToken  authorization_code and refresh_token grants
//	POST /v1.0/oauth2/accessToken      app access token
//	GET  /v1.0/contact/users/me        the person; header x-acs-dingtalk-access-token
//
// oapi.dingtalk.com (HTTP 200 {"errcode","errmsg",…}; ?access_token=<app token>):
//
//	GET  /gettoken                     legacy app token (?appkey=…&appsecret=…)
//	POST /topapi/user/getbyunionid     {"unionid"}
//	POST /topapi/v2/user/get           {"userid","language"}
//	POST /topapi/v2/department/get     {"dept_id","language"}
//	POST /topapi/v2/user/getuserinfo   {"code"} (in-app code)
//
// Every app (AppKey) is registered in one corp; organisation calls made with
// its app token answer for that corp. App tokens are shared by both hosts
// (the api host's accessToken and the oapi host's gettoken issue the same
// token, renewed on every repeat call like DingTalk's).
//
// Choices where the real service is undocumented or unknown:
//   - The QR page answers an unknown client_id, a redirect_uri outside the
//     app's redirect domains, a response_type other than code or a scope
//     without openid with an HTTP 200 HTML error page (the real page is a
//     single-page app that renders its errors); the page carries
//     <meta name="dingtalk-simulator-error" content="<code>"> with code
//     invalidClientId, invalidRedirectUri, invalidResponseType or
//     invalidScope. It never redirects to an unvalidated redirect_uri.
//   - A redirect domain matches the redirect_uri's host name (any port), or
//     its host:port when the domain names a port; an entry given as a URL
//     counts by its host. No wildcards, no subdomains.
//   - Refusing at the page redirects to
//     redirect_uri?error=access_denied&error_description=…&state=….
//   - The token answer carries corpId only when scope includes corpid: the
//     corpId query parameter if the person is an internal member of it, else
//     the app's corp if they are, else their first corp (by corpId), else none.
//   - A code is bound to the app that asked for it; redeeming it with
//     another app's credentials answers 400
//     invalidParameter.authCode.notFound "不合法的临时授权码" (and leaves it),
//     as does an unknown or used code.
//   - Refresh tokens rotate: the one used stops working; a bad, used or
//     expired one answers 400 invalidRefreshToken. They last RefreshTTL.
//   - users/me returns mobile and stateCode only when the app also holds
//     Contact.User.mobile; empty fields are left out, as DingTalk does.
//   - Throttle makes calls answer as DingTalk over its rate limit: HTTP 403
//     Forbidden.AccessDenied.QpsLimitForApi on the api host, errcode 90002
//     on oapi.
//   - getbyunionid needs qyapi_get_member (else errcode 88, sub_code
//     60011); other oapi calls need only a valid app token. An external
//     contact (contact_type 1) is found by getbyunionid but not by user/get
//     (60121), and cannot get in-app codes. language is accepted and ignored.
//   - Bad parameters on oapi answer errcode 40035; an unknown department
//     60003; a bad in-app code 40078.
//   - An inactive member (active false) can still scan and use in-app login:
//     the simulator reports, dingoidc decides.
//   - Faults: Delay and ServerError touch the api and oapi hosts only (the
//     pages keep working); ServerError answers 500 unknownError on the api
//     host and a gateway's 502 HTML page on oapi. BadAuth fails app
//     credential checks (invalidClientIdOrSecret, 40096) but leaves tokens
//     already issued valid, as a rotated secret would. ExpireCodes makes
//     every authCode and in-app code invalid.
//   - api host, other failures: a missing mandatory field answers 400
//     Missing<field> ("clientId is mandatory for this action."), a body that
//     is not JSON 400 InvalidParameter, an unknown grantType 400
//     invalidGrantType, an unknown path 404 InvalidAction.NotFound.
//   - oapi bodies may be JSON (what the new SDKs send) or a form (the old
//     TOP SDKs); numbers may come as strings.
//
// The simulator is safe for concurrent use; live codes and tokens are kept
// in tables bounded by MaxEntries each.
type Server struct {
	now         func() time.Time
	codeTTL     time.Duration
	tokenTTL    time.Duration
	refreshTTL  time.Duration
	autoApprove string
	faults      *simkit.Faults

	apps   map[string]*App       // by AppKey
	corps  map[string]*corpState // by corpId
	people []*Person             // page order (fixture order)
	union  map[string]*Person    // by unionId
	mux    *http.ServeMux

	mu        sync.Mutex
	codes     ttlStore[grant]          // authCode → grant
	access    ttlStore[grant]          // user access token → grant
	refresh   ttlStore[grant]          // refresh token → grant
	inapp     ttlStore[inAppGrant]     // in-app code → person and corp
	appTokens map[string]appTokenEntry // AppKey → its current token
	appByTok  map[string]string        // app token → AppKey
	throttle  [2]int                   // api, oapi calls still to answer as throttled
}

// Options configure a DingTalk simulator. Apps, Corps and People
// left nil are taken from the embedded fixture (see Fixture).
type Options struct {
	Apps   map[string]App  // by AppKey
	Corps  map[string]Corp // by corpId
	People []Person

	CodeTTL    time.Duration    // authCode and in-app code lifetime; default 5 minutes
	TokenTTL   time.Duration    // user and app access tokens; default 7200 s
	RefreshTTL time.Duration    // refresh tokens; default 30 days
	Now        func() time.Time // default time.Now

	// AutoApprove, when set to a unionId, makes the QR page "scan" as that
	// person at once and redirect back, so a client that only follows
	// redirects completes logins.
	AutoApprove string

	// Faults are the misbehaviour knobs; nil gets a private healthy set
	// (see Server.Faults).
	Faults *simkit.Faults

	// MaxEntries bounds each table of live codes and tokens; when one is
	// full the entry closest to expiry is forgotten. Default 10000.
	MaxEntries int
}

// App is an app registered on the DingTalk open platform.
type App struct {
	Name      string `json:"name"` // shown on the QR page
	AppSecret string `json:"appSecret"`
	CorpID    string `json:"corpId"` // the corp the app is registered in
	// RedirectDomains are the callback domains: host names ("sso.example.com"),
	// host:port, or URLs (their host counts).
	RedirectDomains []string `json:"redirectDomains"`
	// Permissions granted to the app, e.g. "Contact.User.Read" (users/me),
	// "Contact.User.mobile" (mobile in users/me) and "qyapi_get_member"
	// (getbyunionid).
	Permissions []string `json:"permissions"`
}

// Corp is an organisation. Its members are the people whose Orgs
// name it. Department 1 is the root; if absent it is added with the corp's
// name.
type Corp struct {
	Name        string       `json:"name"`
	Departments []Department `json:"departments"`
}

// Department is one node of a corp's department tree.
type Department struct {
	ID       int64  `json:"dept_id"`
	Name     string `json:"name"`
	ParentID int64  `json:"parent_id"` // 0 for the root
}

// Person is a DingTalk account, as users/me reports it, with its
// memberships.
type Person struct {
	UnionID   string `json:"unionId"`
	OpenID    string `json:"openId"`
	Nick      string `json:"nick"`
	AvatarURL string `json:"avatarUrl"`
	Mobile    string `json:"mobile"`
	StateCode string `json:"stateCode"` // default "86"
	Email     string `json:"email"`     // personal e-mail, optional
	// Orgs are the person's memberships, by corpId. Empty: in no corp.
	Orgs map[string]Member `json:"orgs"`
}

// Member is a person's record in one corp's address book.
type Member struct {
	UserID      string  `json:"userid"`
	Name        string  `json:"name"`
	Email       string  `json:"email"`     // staff e-mail set by the admin, optional
	OrgEmail    string  `json:"org_email"` // enterprise mailbox, optional
	JobNumber   string  `json:"job_number"`
	Title       string  `json:"title"`
	DeptIDList  []int64 `json:"dept_id_list"`
	Active      bool    `json:"active"`
	Admin       bool    `json:"admin"`
	RoleList    []Role  `json:"role_list"`
	ContactType int     `json:"contact_type"` // 0 internal member, 1 external contact
}

// Role is one entry of a member's role_list.
type Role struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	GroupName string `json:"group_name"`
}

// corpState is a validated corp with its indexes.
type corpState struct {
	id    string
	name  string
	depts map[int64]Department
	users map[string]*Person // by userid
}

// grant is what a code or user token stands for.
type grant struct {
	appKey  string
	unionID string
	corpID  string // reported in the token answer; may be empty
}

// inAppGrant is what an in-app code stands for.
type inAppGrant struct {
	unionID string
	corpID  string
}

type appTokenEntry struct {
	token   string
	expires time.Time
}

var _ http.Handler = (*Server)(nil)

// New validates opts (every problem at once) and returns the
// simulator.
func New(opts Options) (*Server, error) {
	if opts.Apps == nil || opts.Corps == nil || opts.People == nil {
		fx, err := Fixture()
		if err != nil {
			return nil, err
		}
		if opts.Apps == nil {
			opts.Apps = fx.Apps
		}
		if opts.Corps == nil {
			opts.Corps = fx.Corps
		}
		if opts.People == nil {
			opts.People = fx.People
		}
	}
	d := &Server{
		now:         opts.Now,
		codeTTL:     cmp.Or(opts.CodeTTL, 5*time.Minute),
		tokenTTL:    cmp.Or(opts.TokenTTL, 7200*time.Second),
		refreshTTL:  cmp.Or(opts.RefreshTTL, 30*24*time.Hour),
		autoApprove: opts.AutoApprove,
		faults:      cmp.Or(opts.Faults, &simkit.Faults{}),
		apps:        map[string]*App{},
		corps:       map[string]*corpState{},
		union:       map[string]*Person{},
		appTokens:   map[string]appTokenEntry{},
		appByTok:    map[string]string{},
	}
	if opts.Now == nil {
		d.now = time.Now
	}
	limit := cmp.Or(opts.MaxEntries, 10000)
	d.codes.max, d.access.max, d.refresh.max, d.inapp.max = limit, limit, limit, limit

	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if opts.CodeTTL < 0 || opts.TokenTTL < 0 || opts.RefreshTTL < 0 || opts.MaxEntries < 0 {
		bad("negative TTL or MaxEntries")
	}

	for _, id := range slices.Sorted(maps.Keys(opts.Corps)) {
		c := opts.Corps[id]
		if id == "" {
			bad("corp with empty corpId")
		}
		if c.Name == "" {
			bad("corp %q: empty name", id)
		}
		dc := &corpState{id: id, name: c.Name, depts: map[int64]Department{}, users: map[string]*Person{}}
		for _, dep := range c.Departments {
			if dep.ID <= 0 {
				bad("corp %q: department id %d not positive", id, dep.ID)
				continue
			}
			if _, dup := dc.depts[dep.ID]; dup {
				bad("corp %q: department %d twice", id, dep.ID)
			}
			if dep.Name == "" {
				bad("corp %q: department %d: empty name", id, dep.ID)
			}
			dc.depts[dep.ID] = dep
		}
		if _, ok := dc.depts[1]; !ok {
			dc.depts[1] = Department{ID: 1, Name: c.Name}
		}
		for _, depID := range slices.Sorted(maps.Keys(dc.depts)) {
			if err := checkTree(dc.depts, depID); err != nil {
				bad("corp %q: department %d: %w", id, depID, err)
			}
		}
		d.corps[id] = dc
	}

	for _, key := range slices.Sorted(maps.Keys(opts.Apps)) {
		a := opts.Apps[key]
		if key == "" {
			bad("app with empty AppKey")
		}
		if a.AppSecret == "" {
			bad("app %q: empty AppSecret", key)
		}
		if _, ok := d.corps[a.CorpID]; !ok {
			bad("app %q: unknown corp %q", key, a.CorpID)
		}
		for _, dom := range a.RedirectDomains {
			if normDomain(dom) == "" {
				bad("app %q: empty redirect domain", key)
			}
		}
		a.RedirectDomains = slices.Clone(a.RedirectDomains)
		a.Permissions = slices.Clone(a.Permissions)
		d.apps[key] = &a
	}

	openIDs := map[string]bool{}
	for i := range opts.People {
		p := clonePerson(opts.People[i])
		switch {
		case p.UnionID == "":
			bad("person %d: empty unionId", i)
		case d.union[p.UnionID] != nil:
			bad("person %q: unionId twice", p.UnionID)
		}
		if p.OpenID == "" {
			bad("person %q: empty openId", p.UnionID)
		} else if openIDs[p.OpenID] {
			bad("person %q: openId %q twice", p.UnionID, p.OpenID)
		}
		openIDs[p.OpenID] = true
		if p.Nick == "" {
			bad("person %q: empty nick", p.UnionID)
		}
		p.StateCode = cmp.Or(p.StateCode, "86")
		for _, corpID := range slices.Sorted(maps.Keys(p.Orgs)) {
			m := p.Orgs[corpID]
			c := d.corps[corpID]
			if c == nil {
				bad("person %q: unknown corp %q", p.UnionID, corpID)
				continue
			}
			if m.UserID == "" {
				bad("person %q in corp %q: empty userid", p.UnionID, corpID)
			} else if c.users[m.UserID] != nil {
				bad("corp %q: userid %q twice", corpID, m.UserID)
			}
			if m.Name == "" {
				bad("person %q in corp %q: empty name", p.UnionID, corpID)
			}
			if m.ContactType != 0 && m.ContactType != 1 {
				bad("person %q in corp %q: contact_type %d not 0 or 1", p.UnionID, corpID, m.ContactType)
			}
			for _, dep := range m.DeptIDList {
				if _, ok := c.depts[dep]; !ok {
					bad("person %q in corp %q: unknown department %d", p.UnionID, corpID, dep)
				}
			}
			c.users[m.UserID] = p
		}
		d.union[p.UnionID] = p
		d.people = append(d.people, p)
	}
	if opts.AutoApprove != "" && d.union[opts.AutoApprove] == nil {
		bad("AutoApprove: unknown unionId %q", opts.AutoApprove)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("simulator: dingtalk options: %w", err)
	}
	d.routes()
	return d, nil
}

// routes lists every path the simulator serves.
func (d *Server) routes() {
	m := http.NewServeMux()
	// login.dingtalk.com
	m.HandleFunc("GET /oauth2/auth", d.handleAuth)
	m.HandleFunc("/simulator/scan", d.handleScan)
	m.HandleFunc("/simulator/cancel", d.handleCancel)
	m.HandleFunc("/simulator/inapp", d.handleInApp)
	m.HandleFunc(simkit.JSAPIPrefix, d.handleJSAPI)
	// api.dingtalk.com
	m.HandleFunc("POST /v1.0/oauth2/userAccessToken", d.api(d.handleUserAccessToken))
	m.HandleFunc("POST /v1.0/oauth2/accessToken", d.api(d.handleAppAccessToken))
	m.HandleFunc("GET /v1.0/contact/users/me", d.api(d.handleUsersMe))
	// oapi.dingtalk.com
	m.HandleFunc("GET /gettoken", d.oapiNoToken(d.handleGetToken))
	m.HandleFunc("POST /topapi/user/getbyunionid", d.oapi(d.handleGetByUnionID))
	m.HandleFunc("POST /topapi/v2/user/get", d.oapi(d.handleUserGet))
	m.HandleFunc("POST /topapi/v2/department/get", d.oapi(d.handleDepartmentGet))
	m.HandleFunc("POST /topapi/v2/user/getuserinfo", d.oapi(d.handleGetUserInfo))
	// Anything else: the api gateway's answer for an unknown action.
	m.HandleFunc("/", d.api(func(w http.ResponseWriter, r *http.Request) {
		apiErr(w, http.StatusNotFound, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
	}))
	d.mux = m
}

// ServeHTTP serves the login, api and oapi hosts' paths.
func (d *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.mux.ServeHTTP(w, r) }

// Faults returns the simulator's fault knobs (those of the options, or its
// private set).
func (d *Server) Faults() *simkit.Faults { return d.faults }

// faultState reads the knobs.
func (d *Server) faultState() (expireCodes, badAuth, serverError bool, delay time.Duration) {
	return d.faults.Snapshot()
}

// Throttle makes the next api calls to the api host and the next oapi
// calls to the oapi host answer as DingTalk does over its rate limit
// (HTTP 403 Forbidden.AccessDenied.QpsLimitForApi, errcode 90002); 0, 0
// stops it.
func (d *Server) Throttle(api, oapi int) {
	d.mu.Lock()
	d.throttle = [2]int{max(api, 0), max(oapi, 0)}
	d.mu.Unlock()
}

// Hosts, for throttled.
const (
	apiHost  = 0
	oapiHost = 1
)

// throttled counts down Throttle: true when this call to host is
// throttled.
func (d *Server) throttled(host int) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.throttle[host] == 0 {
		return false
	}
	d.throttle[host]--
	return true
}

// wait sleeps for the Delay fault; false if the request went away meanwhile.
func (d *Server) wait(r *http.Request) bool {
	_, _, _, delay := d.faultState()
	if delay <= 0 {
		return true
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// checkApp reports whether key/secret are a registered app's credentials
// (never under the BadAuth fault).
func (d *Server) checkApp(key, secret string) (*App, bool) {
	if _, badAuth, _, _ := d.faultState(); badAuth {
		return nil, false
	}
	a := d.apps[key]
	if a == nil || secret == "" || a.AppSecret != secret {
		return nil, false
	}
	return a, true
}

// appToken returns the app's token, renewing it if live (DingTalk returns
// the same token on a repeat call within its lifetime and extends it).
func (d *Server) appToken(key string) string {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.appTokens[key]
	if !ok || !now.Before(t.expires) {
		delete(d.appByTok, t.token)
		t.token = newToken()
		d.appByTok[t.token] = key
	}
	t.expires = now.Add(d.tokenTTL)
	d.appTokens[key] = t
	return t.token
}

// appForToken resolves a live app token.
func (d *Server) appForToken(token string) *App {
	if token == "" {
		return nil
	}
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	key, ok := d.appByTok[token]
	if !ok {
		return nil
	}
	if t := d.appTokens[key]; !now.Before(t.expires) {
		delete(d.appByTok, token)
		delete(d.appTokens, key)
		return nil
	}
	return d.apps[key]
}

// internal reports whether p is an internal member (contact_type 0) of corpID.
func internal(p *Person, corpID string) bool {
	m, ok := p.Orgs[corpID]
	return ok && m.ContactType == 0
}

// checkTree walks from id to the root, catching missing parents and cycles.
func checkTree(depts map[int64]Department, id int64) error {
	for steps := 0; ; steps++ {
		if steps > len(depts) {
			return errors.New("parent chain has a cycle")
		}
		dep := depts[id]
		if dep.ParentID == 0 {
			if dep.ID != 1 {
				return errors.New("only department 1 may be the root (parent_id 0)")
			}
			return nil
		}
		if _, ok := depts[dep.ParentID]; !ok {
			return fmt.Errorf("unknown parent %d", dep.ParentID)
		}
		id = dep.ParentID
	}
}

func clonePerson(p Person) *Person {
	orgs := make(map[string]Member, len(p.Orgs))
	for id, m := range p.Orgs {
		m.DeptIDList = slices.Clone(m.DeptIDList)
		m.RoleList = slices.Clone(m.RoleList)
		orgs[id] = m
	}
	p.Orgs = orgs
	return &p
}

// newToken is a fresh code or token: 32 lowercase hex, like DingTalk's.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails
	return hex.EncodeToString(b[:])
}

// writeJSON writes v with Chinese and & < > left as they are.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// ttlStore is a bounded table of expiring entries. Callers hold DingTalk.mu.
type ttlStore[T any] struct {
	m   map[string]ttlEntry[T]
	max int
}

type ttlEntry[T any] struct {
	v       T
	expires time.Time
}

func (s *ttlStore[T]) put(now time.Time, key string, v T, expires time.Time) {
	if s.m == nil {
		s.m = map[string]ttlEntry[T]{}
	}
	if len(s.m) >= s.max {
		for k, e := range s.m {
			if !now.Before(e.expires) {
				delete(s.m, k)
			}
		}
	}
	for len(s.m) >= s.max {
		var oldest string
		var at time.Time
		for k, e := range s.m {
			if oldest == "" || e.expires.Before(at) {
				oldest, at = k, e.expires
			}
		}
		delete(s.m, oldest)
	}
	s.m[key] = ttlEntry[T]{v: v, expires: expires}
}

// get returns a live entry, dropping it if expired.
func (s *ttlStore[T]) get(now time.Time, key string) (T, bool) {
	e, ok := s.m[key]
	if ok && !now.Before(e.expires) {
		delete(s.m, key)
		ok = false
	}
	if !ok {
		var zero T
		return zero, false
	}
	return e.v, true
}

func (s *ttlStore[T]) del(key string) { delete(s.m, key) }

func (s *ttlStore[T]) len() int { return len(s.m) }
