package dingtalksim

import (
	"cmp"
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

// RevokeAppTokens drops every app token issued so far, as a reset app
// secret does: a call with one answers as with an unknown token.
func (d *Server) RevokeAppTokens() {
	d.mu.Lock()
	clear(d.appTokens)
	clear(d.appByTok)
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
