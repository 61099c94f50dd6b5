package idp_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/dingoidc/dingoidc/idp"
	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/upstream"
)

// adminEnv is a provider whose admins are the group "admins" (person 10001
// of the simulator is in it, 10002 is not), with a read and a write admin
// API token.
type adminEnv struct {
	*env
	readToken, writeToken string
	seq                   atomic.Int64
	oapi                  routers.Router
}

func withAdmins(e *env) { e.cfg.Admin = idp.AdminConfig{Groups: []string{"admins"}} }

func newAdminEnv(t *testing.T, st storage.Store) *adminEnv {
	t.Helper()
	a := &adminEnv{env: newEnv(t, st, withAdmins)}
	a.readToken = a.token("reader", storage.ScopeRead)
	a.writeToken = a.token("writer", storage.ScopeWrite)
	doc, err := openapi3.NewLoader().LoadFromData(idp.AdminOpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("OpenAPI document invalid: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: a.issuer + "/admin/api/v1"}}
	if a.oapi, err = gorillamux.NewRouter(doc); err != nil {
		t.Fatal(err)
	}
	return a
}

func (a *adminEnv) token(name, scope string) string {
	a.t.Helper()
	raw := fmt.Sprintf("tok-%s-%d", name, time.Now().UnixNano())
	h := sha256.Sum256([]byte(raw))
	err := a.store.CreateAdminToken(a.t.Context(), &storage.AdminToken{
		ID: name, Name: name, Hash: h[:], Scope: scope, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour),
	})
	if err != nil {
		a.t.Fatal(err)
	}
	return raw
}

// caller is one role of the matrix.
type caller struct {
	name   string
	bearer string
	b      *browser // with a console session
	csrf   string
}

// adminBrowser logs person in to the console through the simulator (the
// ordinary scan login) and returns the browser with its session.
func (a *adminEnv) adminBrowser(person string) *caller {
	a.t.Helper()
	a.up.AutoApprove = person
	b := a.browser()
	resp, _ := b.get(a.issuer + "/admin/login")
	if resp.Request.URL.Path != "/admin" {
		a.t.Fatalf("console login for %s ended at %s (%d)", person, resp.Request.URL, resp.StatusCode)
	}
	c := &caller{name: "session-" + person, b: b}
	r, body := a.do(c, "GET", "/me", "", nil)
	if r.StatusCode == http.StatusOK {
		var me map[string]string
		_ = json.Unmarshal(body, &me)
		c.csrf = me["csrf_token"]
	}
	return c
}

// do sends one admin API request as c and returns the answer, after
// checking request and answer against the OpenAPI document.
func (a *adminEnv) do(c *caller, method, path, body string, hdr http.Header) (*http.Response, []byte) {
	a.t.Helper()
	u := a.issuer + "/admin/api/v1" + path
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	hc := a.ts.Client()
	if c != nil {
		if c.bearer != "" {
			req.Header.Set("Authorization", "Bearer "+c.bearer)
		}
		if c.b != nil {
			hc = c.b.hc
			if c.csrf != "" && req.Header.Get("X-CSRF-Token") == "" && hdr.Get("X-No-CSRF") == "" {
				req.Header.Set("X-CSRF-Token", c.csrf)
			}
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	a.checkOpenAPI(req, body, resp, out)
	return resp, out
}

// checkOpenAPI validates the request and the answer against the document.
func (a *adminEnv) checkOpenAPI(req *http.Request, body string, resp *http.Response, out []byte) {
	a.t.Helper()
	r2 := req.Clone(context.Background())
	r2.Body = io.NopCloser(strings.NewReader(body))
	route, params, err := a.oapi.FindRoute(r2)
	if err != nil {
		if resp.StatusCode == http.StatusNotFound {
			return
		}
		a.t.Errorf("%s %s: not in the OpenAPI document: %v", req.Method, req.URL.Path, err)
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: r2, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if resp.StatusCode < 400 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			a.t.Errorf("%s %s: request does not match the document: %v", req.Method, req.URL.Path, err)
		}
	}
	rin := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(out)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), rin); err != nil {
		a.t.Errorf("%s %s → %d: answer does not match the document: %v\n%s", req.Method, req.URL.Path, resp.StatusCode, err, out)
	}
}

// fixtures make fresh objects, so that every request of the matrix finds
// what it acts on.
func (a *adminEnv) newClient() string {
	id := fmt.Sprintf("c%d", a.seq.Add(1))
	a.addClient(storage.Client{ID: id, Name: id, RedirectURIs: []string{"https://" + id + ".example.test/cb"}}, testSecret)
	return id
}

func (a *adminEnv) newUser() string {
	n := a.seq.Add(1)
	u, err := a.store.UpsertUser(a.t.Context(), &storage.User{ID: fmt.Sprintf("dev_u%d", n), Upstream: "dev",
		ExternalID: fmt.Sprintf("u%d", n), Claims: []byte(`{"name":"用户"}`), CreatedAt: time.Now(), UpdatedAt: time.Now(), LastLoginAt: time.Now()})
	if err != nil {
		a.t.Fatal(err)
	}
	return u.ID
}

func (a *adminEnv) newGrant(userID string) string {
	n := a.seq.Add(1)
	h := sha256.Sum256([]byte(fmt.Sprint("code", n)))
	g := &storage.Grant{ID: fmt.Sprintf("g%d", n), ClientID: "app", UserID: userID, Scopes: []string{"openid"},
		AuthTime: time.Now(), CodeHash: h[:], CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	if _, err := a.store.CreateGrant(a.t.Context(), g); err != nil {
		a.t.Fatal(err)
	}
	return g.ID
}

// request builds a valid request for a route pattern with fresh fixtures.
func (a *adminEnv) request(route string) (method, path, body string) {
	method, pattern, _ := strings.Cut(route, " ")
	path = pattern
	if strings.Contains(path, "/clients/{id}") {
		path = strings.Replace(path, "{id}", a.newClient(), 1)
	}
	if strings.Contains(path, "/users/{id}") {
		u := a.newUser()
		path = strings.Replace(path, "{id}", u, 1)
		path = strings.Replace(path, "{grant_id}", a.newGrant(u), 1)
	}
	switch {
	case strings.HasSuffix(pattern, "/setup"):
		path += "?app=grafana"
	case route == "POST /clients":
		body = fmt.Sprintf(`{"id":"n%d","name":"新应用","redirect_uris":["https://n.example.test/cb"],"allowed_groups":["运维组"]}`, a.seq.Add(1))
	case route == "PUT /clients/{id}":
		body = `{"name":"改名","redirect_uris":["https://changed.example.test/cb"],"upstreams":["dev"],"legacy_api":true}`
	}
	return method, path, body
}

// TestAdminAPIRoles: every route with every role — none, read token, write
// token, admin session (with and without CSRF), non-admin session.
// On PostgreSQL the client routes run through the same matrix.
func TestAdminAPIRoles(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			only := ""
			if be.name == "postgres" {
				only = "/clients"
			}
			testAdminRoles(t, be.open(t), only)
		})
	}
}

func testAdminRoles(t *testing.T, st storage.Store, only string) {
	a := newAdminEnv(t, st)
	adminC := a.adminBrowser("10001")
	if adminC.csrf == "" {
		t.Fatal("admin session has no CSRF token")
	}
	nonAdmin := a.adminBrowserRefused("10002")
	roles := []*caller{
		{name: "none"},
		{name: "read", bearer: a.readToken},
		{name: "write", bearer: a.writeToken},
		{name: "bad-token", bearer: "nope"},
		adminC,
		nonAdmin,
	}
	var routes []string
	for _, r := range a.srv.AdminAPIRoutes() {
		if strings.Contains(r, only) {
			routes = append(routes, r)
		}
	}
	if len(routes) < 7 {
		t.Fatalf("only %d routes", len(routes))
	}
	for _, route := range routes {
		write := !strings.HasPrefix(route, "GET ")
		public := route == "GET /openapi.json"
		for _, c := range roles {
			method, path, body := a.request(route)
			resp, out := a.do(c, method, path, body, nil)
			var want int // 0: any 2xx
			switch {
			case public:
			case c.name == "none", c.name == "bad-token":
				want = http.StatusUnauthorized
			case c == nonAdmin:
				want = http.StatusForbidden
			case c.name == "read" && write:
				want = http.StatusForbidden
			}
			got := resp.StatusCode
			if want == 0 && (got < 200 || got > 299) || want != 0 && got != want {
				t.Errorf("%s as %s: %d, want %v: %s", route, c.name, got, orAny2xx(want), out)
			}
			if want == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s as %s: 401 without WWW-Authenticate: Bearer", route, c.name)
			}
			if want != 0 && !json.Valid(out) {
				t.Errorf("%s as %s: error is not JSON: %s", route, c.name, out)
			}
		}
		if write && !public {
			// A session write without the CSRF header is refused.
			method, path, body := a.request(route)
			resp, out := a.do(adminC, method, path, body, http.Header{"X-No-Csrf": {"1"}, "X-Csrf-Token": {"wrong"}})
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(out), "csrf") {
				t.Errorf("%s with a wrong CSRF token: %d %s", route, resp.StatusCode, out)
			}
		}
	}
	// Every write is audited with its actor.
	evs, err := a.store.ListAuditFiltered(t.Context(), storage.AuditFilter{Actor: "admin-api:token:writer"})
	if err != nil || len(evs) < 4 {
		t.Fatalf("token writes audited: %d, %v", len(evs), err)
	}
	evs, _ = a.store.ListAuditFiltered(t.Context(), storage.AuditFilter{Actor: "admin:" + adminC.subject(a)})
	if len(evs) < 4 {
		t.Fatalf("session writes audited: %d", len(evs))
	}
}

func orAny2xx(want int) any {
	if want == 0 {
		return "2xx"
	}
	return want
}

func (c *caller) subject(a *adminEnv) string {
	_, body := a.do(c, "GET", "/me", "", nil)
	var me map[string]string
	_ = json.Unmarshal(body, &me)
	return me["subject"]
}

// adminBrowserRefused: a non-admin's console login ends on a refusal and
// leaves no session; the browser then carries a forged-free cookie jar.
func (a *adminEnv) adminBrowserRefused(person string) *caller {
	a.t.Helper()
	a.up.AutoApprove = person
	b := a.browser()
	resp, _ := b.get(a.issuer + "/admin/login")
	if resp.StatusCode != http.StatusForbidden || resp.Request.URL.Path != "/admin/callback" {
		a.t.Fatalf("non-admin console login: %d at %s", resp.StatusCode, resp.Request.URL)
	}
	// Give the non-admin a real session cookie (as if they had been an
	// admin when logging in): the API must still refuse them.
	a.env.cfg.Admin = idp.AdminConfig{Groups: []string{"admins", "开发组"}}
	other := a.addReplica(a.store)
	a.use(len(a.replicas) - 1)
	resp, _ = b.get(a.issuer + "/admin/login")
	a.use(0)
	_ = other
	if resp.Request.URL.Path != "/admin" {
		a.t.Fatalf("login on the permissive replica ended at %s", resp.Request.URL)
	}
	return &caller{name: "session-nonadmin", b: b, csrf: "x"}
}

// TestAdminDemoted: an admin loses access at the next request when the
// config no longer lists them (a replica with the new config), when their
// groups change, or when they are disabled.
func TestAdminDemoted(t *testing.T) {
	a := newAdminEnv(t, backends()[0].open(t))
	c := a.adminBrowser("10001")
	sub := c.subject(a)
	if r, _ := a.do(c, "GET", "/clients", "", nil); r.StatusCode != 200 {
		t.Fatalf("admin: %d", r.StatusCode)
	}
	// Config without the admin (a restart with the edited file).
	a.env.cfg.Admin = idp.AdminConfig{Subjects: []string{"someone-else"}}
	a.addReplica(a.store)
	a.use(1)
	if r, out := a.do(c, "GET", "/clients", "", nil); r.StatusCode != http.StatusForbidden {
		t.Fatalf("demoted in config: %d %s", r.StatusCode, out)
	}
	a.use(0)
	// Groups changed upstream (seen at the next login anywhere).
	u, err := a.store.GetUser(t.Context(), sub)
	if err != nil {
		t.Fatal(err)
	}
	u.Claims = []byte(`{"name":"张三","groups":["运维组"]}`)
	u.LastLoginAt = time.Now()
	if _, err := a.store.UpsertUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if r, _ := a.do(c, "GET", "/me", "", nil); r.StatusCode != http.StatusForbidden {
		t.Fatalf("left the admin group: %d", r.StatusCode)
	}
	// Disabled.
	c2 := a.adminBrowser("10001") // the login restores the groups
	if r, _ := a.do(c2, "GET", "/me", "", nil); r.StatusCode != 200 {
		t.Fatalf("admin again: %d", r.StatusCode)
	}
	if err := a.store.SetUserDisabled(t.Context(), sub, true, time.Now()); err != nil {
		t.Fatal(err)
	}
	if r, _ := a.do(c2, "GET", "/me", "", nil); r.StatusCode != http.StatusForbidden {
		t.Fatalf("disabled admin: %d", r.StatusCode)
	}
	// Logout clears the session.
	resp, err := c2.b.hc.Post(a.issuer+"/admin/logout", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if r, _ := a.do(c2, "GET", "/me", "", nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("after logout: %d", r.StatusCode)
	}
}

// TestAdminAPIOpenAPIRoutes: the document lists exactly the router's routes.
func TestAdminAPIOpenAPIRoutes(t *testing.T) {
	a := newAdminEnv(t, backends()[0].open(t))
	doc, err := openapi3.NewLoader().LoadFromData(idp.AdminOpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	var inDoc []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			inDoc = append(inDoc, method+" "+path)
		}
	}
	router := a.srv.AdminAPIRoutes()
	slices.Sort(inDoc)
	slices.Sort(router)
	if !slices.Equal(inDoc, router) {
		t.Fatalf("routes differ:\ndocument: %v\nrouter:   %v", inDoc, router)
	}
	// The served document is the same, as JSON.
	resp, body := a.do(nil, "GET", "/openapi.json", "", nil)
	served, err := openapi3.NewLoader().LoadFromData(body)
	if resp.StatusCode != 200 || err != nil || served.Paths.Len() != doc.Paths.Len() {
		t.Fatalf("served document: %d %v", resp.StatusCode, err)
	}
}

// TestAdminAPIBadInput: malformed or invalid bodies are 400 naming the
// field, and nothing is written.
func TestAdminAPIBadInput(t *testing.T) {
	a := newAdminEnv(t, backends()[0].open(t))
	w := &caller{name: "write", bearer: a.writeToken}
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("g%d", i)
	}
	manyJSON, _ := json.Marshal(many)
	cases := []struct{ body, field string }{
		{`{"id":"x1",`, ""},
		{`{"id":"x1","redirect_uris":["https://x.example/cb"],"colour":"red"}`, "colour"},
		{`{"id":"x1","redirect_uris":["/relative"]}`, "redirect_uris"},
		{`{"id":"x1","redirect_uris":"https://x.example/cb"}`, "redirect_uris"},
		{`{"id":"app","redirect_uris":["https://x.example/cb"]}`, "id"},
		{`{"id":"dingoidc-admin","redirect_uris":["https://x.example/cb"]}`, "id"},
		{`{"id":"x1","redirect_uris":["https://x.example/cb"],"allowed_groups":` + string(manyJSON) + `}`, "allowed_groups"},
		{`{"id":"x1","redirect_uris":["https://x.example/cb"],"upstreams":["nowhere"]}`, "upstreams"},
		{`{"id":"x1","redirect_uris":["https://x.example/cb"]} {}`, ""},
	}
	before, _ := a.store.ListClients(t.Context())
	for _, tc := range cases {
		req, _ := http.NewRequest("POST", a.issuer+"/admin/api/v1/clients", strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer "+a.writeToken)
		resp, err := a.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		want := http.StatusBadRequest
		if resp.StatusCode != want || e["field"] != tc.field || e["error_description"] == "" {
			t.Errorf("%s: %d %v, want %d naming %q", tc.body, resp.StatusCode, e, want, tc.field)
		}
	}
	after, _ := a.store.ListClients(t.Context())
	if len(after) != len(before) {
		t.Fatalf("bad input wrote clients: %d → %d", len(before), len(after))
	}
	if evs, _ := a.store.ListAuditFiltered(t.Context(), storage.AuditFilter{Actor: "admin-api:token:writer"}); len(evs) != 0 {
		t.Fatalf("bad input audited: %d", len(evs))
	}
	// Static clients are read-only.
	if err := a.store.CreateClient(t.Context(), &storage.Client{ID: "fromfile", Name: "f", RedirectURIs: []string{"https://f.example/cb"}, Static: true, CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if r, out := a.do(w, "DELETE", "/clients/fromfile", "", nil); r.StatusCode != http.StatusConflict || !strings.Contains(string(out), "config file") {
		t.Fatalf("delete static: %d %s", r.StatusCode, out)
	}
}

// TestAdminAPIConcurrentUpdates: PUTs with the same If-Match: one wins,
// the others get 409, and the winner's change is what is stored.
func TestAdminAPIConcurrentUpdates(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			a := newAdminEnv(t, be.open(t))
			w := &caller{name: "write", bearer: a.writeToken}
			id := a.newClient()
			r, _ := a.do(w, "GET", "/clients/"+id, "", nil)
			tag := r.Header.Get("ETag")
			if tag == "" {
				t.Fatal("no ETag")
			}
			const n = 8
			codes := make([]int, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					body := fmt.Sprintf(`{"name":"writer %d","redirect_uris":["https://x.example/cb"]}`, i)
					req, _ := http.NewRequest("PUT", a.issuer+"/admin/api/v1/clients/"+id, strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+a.writeToken)
					req.Header.Set("If-Match", tag)
					resp, err := a.ts.Client().Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					codes[i] = resp.StatusCode
				}()
			}
			wg.Wait()
			winner := -1
			for i, c := range codes {
				switch c {
				case 200:
					if winner >= 0 {
						t.Fatalf("two winners: %v", codes)
					}
					winner = i
				case 409:
				default:
					t.Fatalf("status %d: %v", c, codes)
				}
			}
			if winner < 0 {
				t.Fatalf("no winner: %v", codes)
			}
			c, _ := a.store.GetClient(t.Context(), id)
			if c.Name != fmt.Sprintf("writer %d", winner) {
				t.Fatalf("stored %q, winner was %d", c.Name, winner)
			}
			// The client routes on this backend, end to end.
			a.clientRoundTrip(w)
		})
	}
}

// clientRoundTrip creates, reads, updates, rotates, sets up and deletes a
// client through the API.
func (a *adminEnv) clientRoundTrip(w *caller) {
	t := a.t
	r, out := a.do(w, "POST", "/clients", `{"name":"Grafana","redirect_uris":["https://grafana.corp.test/login/generic_oauth"]}`, nil)
	var c map[string]any
	_ = json.Unmarshal(out, &c)
	id, _ := c["id"].(string)
	secret, _ := c["secret"].(string)
	if r.StatusCode != 201 || id == "" || len(secret) != 43 {
		t.Fatalf("create: %d %s", r.StatusCode, out)
	}
	h := sha256.Sum256([]byte(secret))
	if sc, _ := a.store.GetClient(t.Context(), id); !bytes.Equal(sc.SecretHash, h[:]) {
		t.Fatal("stored hash is not the secret's")
	}
	if _, out := a.do(w, "GET", "/clients", "", nil); strings.Contains(string(out), secret) {
		t.Fatal("list shows a secret")
	}
	r, out = a.do(w, "GET", "/clients/"+id+"/setup?app=grafana", "", nil)
	var setup struct{ Text string }
	_ = json.Unmarshal(out, &setup)
	for _, want := range []string{"client_id = " + id, "auth_url = " + a.issuer + "/authorize", "https://grafana.corp.test"} {
		if !strings.Contains(setup.Text, want) {
			t.Errorf("grafana setup lacks %q:\n%s", want, setup.Text)
		}
	}
	if strings.Contains(setup.Text, "sso.example.gov.cn") || strings.Contains(setup.Text, "grafana.example.gov.cn") {
		t.Errorf("setup keeps the guide's example addresses:\n%s", setup.Text)
	}
	r, _ = a.do(w, "GET", "/clients/"+id, "", nil)
	tag := r.Header.Get("ETag")
	r, out = a.do(w, "PUT", "/clients/"+id, `{"name":"Grafana 2","redirect_uris":["https://grafana.corp.test/login/generic_oauth"],"allowed_groups":["运维组"]}`, http.Header{"If-Match": {tag}})
	if r.StatusCode != 200 || r.Header.Get("ETag") == tag {
		t.Fatalf("update: %d %s", r.StatusCode, out)
	}
	if r, _ := a.do(w, "PUT", "/clients/"+id, `{"name":"stale","redirect_uris":["https://g.example/cb"]}`, http.Header{"If-Match": {tag}}); r.StatusCode != 409 {
		t.Fatalf("stale If-Match: %d", r.StatusCode)
	}
	r, out = a.do(w, "POST", "/clients/"+id+"/secret", "", nil)
	if r.StatusCode != 200 || strings.Contains(string(out), secret) {
		t.Fatalf("rotate: %d %s", r.StatusCode, out)
	}
	if r, _ := a.do(w, "DELETE", "/clients/"+id, "", nil); r.StatusCode != 204 {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	if r, _ := a.do(w, "GET", "/clients/"+id, "", nil); r.StatusCode != 404 {
		t.Fatalf("after delete: %d", r.StatusCode)
	}
}

// TestAdminAPIPeopleAndLogs: search, person detail with the grant of a
// real login, revoke, sign-in log paging and CSV, upstream health.
func TestAdminAPIPeopleAndLogs(t *testing.T) {
	a := newAdminEnv(t, backends()[0].open(t))
	w := &caller{name: "write", bearer: a.writeToken}
	rp := a.rp("app", testSecret)
	a.up.AutoApprove = "10002"
	rp.login(a.browser())
	r, out := a.do(w, "GET", "/users?q=lisi", "", nil)
	var users struct {
		Items []struct{ ID, Name string }
	}
	_ = json.Unmarshal(out, &users)
	if r.StatusCode != 200 || len(users.Items) != 1 || users.Items[0].Name != "李四" {
		t.Fatalf("search: %d %s", r.StatusCode, out)
	}
	uid := users.Items[0].ID
	_, out = a.do(w, "GET", "/users/"+url.PathEscape(uid), "", nil)
	var u struct {
		Grants []struct {
			ID         string
			ClientName string `json:"client_name"`
		}
		Sessions []struct{ ID string }
	}
	_ = json.Unmarshal(out, &u)
	if len(u.Grants) != 1 || u.Grants[0].ClientName != "测试应用" || len(u.Sessions) != 1 {
		t.Fatalf("person: %s", out)
	}
	if r, _ := a.do(w, "DELETE", "/users/"+uid+"/grants/"+u.Grants[0].ID, "", nil); r.StatusCode != 204 {
		t.Fatalf("revoke grant: %d", r.StatusCode)
	}
	if r, _ := a.do(w, "DELETE", "/users/other/grants/"+u.Grants[0].ID, "", nil); r.StatusCode != 404 {
		t.Fatalf("grant of another person: %d", r.StatusCode)
	}
	if r, _ := a.do(w, "POST", "/users/"+uid+"/revoke", "", nil); r.StatusCode != 204 {
		t.Fatalf("revoke all: %d", r.StatusCode)
	}
	_, out = a.do(w, "GET", "/users/"+uid, "", nil)
	_ = json.Unmarshal(out, &u)
	if len(u.Grants) != 0 || len(u.Sessions) != 0 {
		t.Fatalf("after revoke: %s", out)
	}
	// Sign-in log: 5 events, pages of 2.
	var evs []storage.SignInEvent
	for i := range 5 {
		evs = append(evs, storage.SignInEvent{Time: time.Now(), UserID: uid, ClientID: "app", Result: "success", ClientIP: "10.0.0.1", UserAgent: fmt.Sprintf("=cmd|%d", i)})
	}
	if err := a.store.AppendSignIns(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	var seen []string
	cursor := ""
	for range 5 {
		_, out = a.do(w, "GET", "/signins?limit=2&user="+url.QueryEscape(uid)+"&cursor="+cursor, "", nil)
		var p struct {
			Items      []struct{ ID string }
			NextCursor string `json:"next_cursor"`
		}
		_ = json.Unmarshal(out, &p)
		for _, it := range p.Items {
			seen = append(seen, it.ID)
		}
		if cursor = p.NextCursor; cursor == "" {
			break
		}
	}
	if len(seen) < 5 {
		t.Fatalf("paged %d sign-ins: %v", len(seen), seen)
	}
	if r, _ := a.do(w, "GET", "/signins?from=yesterday", "", nil); r.StatusCode != 400 {
		t.Fatalf("bad from: %d", r.StatusCode)
	}
	r, out = a.do(w, "GET", "/signins.csv?ip=10.0.0.1", "", nil)
	if r.StatusCode != 200 || !bytes.HasPrefix(out, []byte("\uFEFFid,time,")) || bytes.Count(out, []byte("\n")) != 6 || !bytes.Contains(out, []byte("'=cmd|0")) {
		t.Fatalf("csv: %d %q", r.StatusCode, out)
	}
	_, out = a.do(w, "GET", "/upstreams", "", nil)
	var ups struct {
		Items []struct {
			ID          string
			LastSuccess *time.Time `json:"last_success"`
		}
	}
	_ = json.Unmarshal(out, &ups)
	if len(ups.Items) != 1 || ups.Items[0].LastSuccess == nil {
		t.Fatalf("upstreams: %s", out)
	}
	// A failed exchange is reported with its kind.
	a.up.FailNextExchange(fmt.Errorf("outage: %w", upstream.ErrUnavailable))
	b := a.browser()
	b.get(a.issuer + "/authorize?" + url.Values{"client_id": {"app"}, "redirect_uri": {testRedirect}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"s1234567"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}.Encode())
	_, out = a.do(w, "GET", "/upstreams", "", nil)
	if !strings.Contains(string(out), `"last_failure_kind":"unavailable"`) {
		t.Fatalf("upstream failure not reported: %s", out)
	}
	_, out = a.do(w, "GET", "/audit?action=user.revoke", "", nil)
	if !strings.Contains(string(out), `"actor":"admin-api:token:writer"`) {
		t.Fatalf("audit: %s", out)
	}
}

// TestAdminConsoleLoginUnderPath: with an issuer path (/sso) the console
// login, its cookies and the API all live under it.
func TestAdminConsoleLoginUnderPath(t *testing.T) {
	e := newEnv(t, backends()[0].open(t), withAdmins, func(e *env) { e.cfg.Issuer += "/sso" })
	a := &adminEnv{env: e}
	b := a.browser()
	resp, _ := b.get(a.issuer + "/admin/login")
	if resp.Request.URL.Path != "/sso/admin" {
		t.Fatalf("console login ended at %s (%d)", resp.Request.URL, resp.StatusCode)
	}
	u, _ := url.Parse(a.issuer + "/admin/api/v1/me")
	var session *http.Cookie
	for _, c := range b.hc.Jar.Cookies(u) {
		if c.Name == "__Host-dingoidc_admin" {
			session = c
		}
	}
	if session == nil {
		t.Fatalf("no __Host- session cookie for %s", u)
	}
	r, err := b.hc.Get(a.issuer + "/admin/api/v1/me")
	if err != nil {
		t.Fatal(err)
	}
	var me map[string]string
	_ = json.NewDecoder(r.Body).Decode(&me)
	r.Body.Close()
	if r.StatusCode != 200 || me["kind"] != "session" || me["csrf_token"] == "" || me["subject"] == "" {
		t.Fatalf("me: %d %v", r.StatusCode, me)
	}
	// The code was redeemed once: the console's grant is the person's.
	grants, _ := a.store.ListUserGrants(t.Context(), me["subject"], time.Now())
	if len(grants) != 1 || grants[0].ClientID != "dingoidc-admin" {
		t.Fatalf("grants: %+v", grants)
	}
	// A replayed callback (same state, code used) is refused.
	r, err = b.hc.Get(a.issuer + "/admin/callback?code=x&state=y")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusBadRequest {
		t.Fatalf("callback without its login cookie: %d", r.StatusCode)
	}
}

// TestAdminAPIDatabaseDown: a database error is 503 JSON, not a 500 or a
// refusal.
func TestAdminAPIDatabaseDown(t *testing.T) {
	a := newAdminEnv(t, backends()[0].open(t))
	w := &caller{name: "write", bearer: a.writeToken}
	if r, _ := a.do(w, "GET", "/clients", "", nil); r.StatusCode != 200 {
		t.Fatalf("before: %d", r.StatusCode)
	}
	a.store.Close()
	r, out := a.do(w, "GET", "/clients", "", nil)
	var e map[string]string
	if r.StatusCode != http.StatusServiceUnavailable || json.Unmarshal(out, &e) != nil || e["error"] != "temporarily_unavailable" {
		t.Fatalf("database down: %d %s", r.StatusCode, out)
	}
}
