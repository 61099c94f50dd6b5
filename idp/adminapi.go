package idp

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dingoidc/dingoidc/idp/admin"
	"github.com/dingoidc/dingoidc/storage"
)

// The admin API (<issuer>/admin/api/v1, contract in docs/admin-api.md and
// the OpenAPI document adminapi_openapi.json): every route is listed once
// in adminRoutes with whether it writes; adminHandler authenticates
// (admin API token or console session, adminsession.go), checks the
// token's scope or the session's CSRF token on writes, and passes the
// principal, whose actor every write records in the audit log.

// adminAPIBase is the API's path under the issuer.
const adminAPIBase = "/admin/api/v1"

// adminRoute is one route of the admin API.
type adminRoute struct {
	method, path string // path under adminAPIBase, in ServeMux pattern syntax
	write        bool   // needs a write token or a session with its CSRF token
	public       bool   // no authentication (the OpenAPI document)
	h            func(w http.ResponseWriter, r *http.Request, p *adminPrincipal)
}

func (s *Server) adminRoutes() []adminRoute {
	return []adminRoute{
		{method: "GET", path: "/openapi.json", public: true, h: s.apiOpenAPI},
		{method: "GET", path: "/me", h: s.apiMe},
		{method: "GET", path: "/clients", h: s.apiListClients},
		{method: "POST", path: "/clients", write: true, h: s.apiCreateClient},
		{method: "GET", path: "/clients/{id}", h: s.apiGetClient},
		{method: "PUT", path: "/clients/{id}", write: true, h: s.apiUpdateClient},
		{method: "DELETE", path: "/clients/{id}", write: true, h: s.apiDeleteClient},
		{method: "POST", path: "/clients/{id}/secret", write: true, h: s.apiRotateClientSecret},
		{method: "GET", path: "/clients/{id}/setup", h: s.apiClientSetup},
		{method: "GET", path: "/users", h: s.apiListUsers},
		{method: "GET", path: "/users/{id}", h: s.apiGetUser},
		{method: "POST", path: "/users/{id}/disable", write: true, h: s.apiDisableUser},
		{method: "POST", path: "/users/{id}/enable", write: true, h: s.apiEnableUser},
		{method: "POST", path: "/users/{id}/revoke", write: true, h: s.apiRevokeUser},
		{method: "DELETE", path: "/users/{id}/grants/{grant_id}", write: true, h: s.apiRevokeUserGrant},
		{method: "GET", path: "/signins", h: s.apiListSignIns},
		{method: "GET", path: "/signins.csv", h: s.apiSignInsCSV},
		{method: "GET", path: "/audit", h: s.apiListAudit},
		{method: "GET", path: "/keys", h: s.apiListKeys},
		{method: "POST", path: "/keys/rotate", write: true, h: s.apiRotateKeys},
		{method: "GET", path: "/upstreams", h: s.apiListUpstreams},
	}
}

// AdminAPIRoutes lists the admin API's routes as "METHOD /path" (path
// under <issuer>/admin/api/v1, {params} as in OpenAPI), for the test that
// holds the OpenAPI document to the router.
func (s *Server) AdminAPIRoutes() []string {
	var out []string
	for _, rt := range s.adminRoutes() {
		out = append(out, rt.method+" "+rt.path)
	}
	return out
}

// mountAdminAPI registers the admin API and the console's login routes.
func (s *Server) mountAdminAPI(mux *http.ServeMux) {
	s.clients.builtin = map[string]*client{admin.ConsoleClientID: s.clients.wrap(s.consoleClient())}
	for _, rt := range s.adminRoutes() {
		mux.HandleFunc(rt.method+" "+adminAPIBase+rt.path, s.adminHandler(rt))
	}
	mux.HandleFunc(adminAPIBase+"/", func(w http.ResponseWriter, r *http.Request) {
		adminError(w, http.StatusNotFound, "not_found", "no such route in the admin API", "")
	})
	s.mountAdminSession(mux)
}

// adminPrincipal is who calls the admin API.
type adminPrincipal struct {
	Kind    string // "token" or "session"
	Subject string // the admin's subject, or "token:<id>"
	Name    string
	Scope   string // storage.ScopeRead or storage.ScopeWrite (a session writes)
	CSRF    string // the session's CSRF token
	Actor   string // for the audit log
}

// apiError is an admin API error answer.
type apiError struct {
	status      int
	code, desc  string
	field       string
	unavailable error // logged
}

func (e *apiError) Error() string { return e.code + ": " + e.desc }

func badInput(field, format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "invalid_request", desc: fmt.Sprintf(format, args...), field: field}
}

// adminError writes an error answer of the contract.
func adminError(w http.ResponseWriter, status int, code, desc, field string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="dingoidc admin API"`)
	}
	body := map[string]string{"error": code, "error_description": desc}
	if field != "" {
		body["field"] = field
	}
	writeAPIJSON(w, status, body)
}

func writeAPIJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// fail answers err: an *apiError as it says, a storage error as 404, 409
// or 503.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, storage.ErrNotFound):
		ae = &apiError{status: http.StatusNotFound, code: "not_found", desc: "not found"}
	case errors.Is(err, storage.ErrConflict):
		ae = &apiError{status: http.StatusConflict, code: "conflict", desc: "changed or created by someone else meanwhile; read it again"}
	default:
		s.log.ErrorContext(r.Context(), "admin API: database", "route", r.Pattern, "err", err)
		ae = &apiError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable", desc: "the database is unavailable; try again"}
	}
	adminError(w, ae.status, ae.code, ae.desc, ae.field)
}

// adminHandler authenticates, authorizes and runs one route.
func (s *Server) adminHandler(rt adminRoute) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if rt.public {
			rt.h(w, r, nil)
			return
		}
		p, err := s.adminAuth(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if rt.write {
			switch {
			case p.Kind == "token" && p.Scope != storage.ScopeWrite:
				adminError(w, http.StatusForbidden, "insufficient_scope", "this token may only read (scope read); writes need a token with scope write", "")
				return
			case p.Kind == "session" && !csrfMatches(r.Header.Get("X-CSRF-Token"), p.CSRF):
				adminError(w, http.StatusForbidden, "csrf", "missing or wrong X-CSRF-Token header (its value is csrf_token of GET /me)", "")
				return
			}
		}
		rt.h(w, r, p)
	}
}

func csrfMatches(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

var (
	errNoCredentials = &apiError{status: http.StatusUnauthorized, code: "unauthorized", desc: "sign in to the console or send Authorization: Bearer <admin API token>"}
	errBadToken      = &apiError{status: http.StatusUnauthorized, code: "invalid_token", desc: "the admin API token is unknown, expired or revoked"}
	errNotAdmin      = &apiError{status: http.StatusForbidden, code: "not_admin", desc: "this account is not (or no longer) an admin of dingoidc"}
)

// adminAuth finds the caller: a Bearer admin API token, else the console
// session, whose person must still be an admin (current config, current
// claims, not disabled).
func (s *Server) adminAuth(r *http.Request) (*adminPrincipal, error) {
	ctx := r.Context()
	now := s.now()
	if h := r.Header.Get("Authorization"); h != "" {
		raw, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || raw == "" {
			return nil, errBadToken
		}
		t, err := s.store.GetAdminTokenByHash(ctx, admin.HashSecret(raw), now)
		if errors.Is(err, storage.ErrNotFound) {
			return nil, errBadToken
		}
		if err != nil {
			return nil, err
		}
		if now.Sub(t.LastUsedAt) >= time.Minute { // last use to the minute: one write a minute at most
			if err := s.store.TouchAdminToken(ctx, t.ID, now); err != nil {
				s.log.WarnContext(ctx, "admin API: touch token", "token_id", t.ID, "err", err)
			}
		}
		return &adminPrincipal{Kind: "token", Subject: "token:" + t.ID, Name: t.Name, Scope: t.Scope, Actor: admin.TokenActor(t.Name)}, nil
	}
	sess, ok := s.adminSession(r)
	if !ok {
		return nil, errNoCredentials
	}
	u, err := s.store.GetUser(ctx, sess.Sub)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, errNotAdmin
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled || !s.cfg.Admin.isAdmin(u.ID, claimGroups(u.Claims)) {
		return nil, errNotAdmin
	}
	return &adminPrincipal{Kind: "session", Subject: u.ID, Name: claimString(u.Claims, "name"), Scope: storage.ScopeWrite, CSRF: sess.CSRF, Actor: admin.SessionActor(u.ID)}, nil
}

func claimString(raw []byte, name string) string {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	v, _ := m[name].(string)
	return v
}

func (s *Server) apiMe(w http.ResponseWriter, _ *http.Request, p *adminPrincipal) {
	writeAPIJSON(w, http.StatusOK, map[string]string{
		"subject": p.Subject, "name": p.Name, "kind": p.Kind, "scope": p.Scope, "csrf_token": p.CSRF,
	})
}

// maxAPIBody bounds a request body.
const maxAPIBody = 1 << 20

// decodeBody reads one JSON object into v, strictly: unknown fields, wrong
// types, trailing data and oversize bodies are 400 naming the field.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxAPIBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return badInput("", "the body must be one JSON object")
		}
		return nil
	}
	var te *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &te):
		return badInput(te.Field, "%s: wrong type (want %s)", te.Field, te.Type)
	case errors.As(err, &mbe):
		return badInput("", "the body is larger than %d bytes", maxAPIBody)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return badInput(f, "unknown field %q", f)
	case errors.Is(err, io.EOF):
		return badInput("", "the body is empty; a JSON object is required")
	}
	return badInput("", "malformed JSON: %v", err)
}

// audit records a write of the admin API; a failure is logged (the change
// is made).
func (s *Server) auditAPI(r *http.Request, p *adminPrincipal, action, target string, details any) {
	if err := admin.Audit(r.Context(), s.store, s.now(), p.Actor, action, target, details); err != nil {
		s.log.ErrorContext(r.Context(), "admin API: audit", "action", action, "target", target, "err", err)
	}
}

// page reads the cursor and limit query parameters.
func page(r *http.Request, def, max int) (cursor string, limit int, err error) {
	q := r.URL.Query()
	limit = def
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > max {
			return "", 0, badInput("limit", "limit must be a number from 1 to %d", max)
		}
		limit = n
	}
	return q.Get("cursor"), limit, nil
}

// idCursor parses a numeric cursor (sign-ins, audit): 0 when absent.
func idCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(c, 10, 64)
	if err != nil || n <= 0 {
		return 0, badInput("cursor", "cursor must be the next_cursor of a previous answer")
	}
	return n, nil
}

// timeParam parses an RFC 3339 time query parameter; zero when absent.
func timeParam(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, badInput(name, "%s must be an RFC 3339 time such as 2026-01-02T15:04:05Z", name)
	}
	return t, nil
}

// apiTime formats a time for the API: RFC 3339 UTC, null when zero.
func apiTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
