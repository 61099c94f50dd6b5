package idp

import (
	"net/http"
	"net/url"
	"time"

	"github.com/dingoidc/dingoidc/web"
)

// A message a person sees: the page title and text keys of web/messages.
type message struct{ title, text string }

var (
	msgNotFound       = message{"not_found_title", "not_found"}
	msgBadRequest     = message{"error_title", "bad_request"}
	msgRequestExpired = message{"error_title", "request_expired"}
	msgLoginInvalid   = message{"error_title", "login_invalid"}
	msgOtherBrowser   = message{"error_title", "other_browser"}
	msgNotAllowed     = message{"not_allowed_title", "not_allowed"}
	msgDisabled       = message{"not_allowed_title", "disabled"}
	msgUnavailable    = message{"unavailable_title", "unavailable"}
	msgCodeExpired    = message{"code_expired_title", "code_expired"}
	msgStorageDown    = message{"unavailable_title", "storage_unavailable"} // unavailable.go
)

// allMessages lists every message, for the test that each one exists.
var allMessages = []message{msgNotFound, msgRequestExpired, msgLoginInvalid, msgOtherBrowser,
	msgNotAllowed, msgDisabled, msgUnavailable, msgCodeExpired, msgMisconfigured, msgInAppCodeExpired, msgStorageDown, msgBadRequest}

func (s *Server) locale(r *http.Request, a *authRequest) string {
	var ui []string
	if a != nil {
		ui = a.Locales
	}
	return web.Locale(ui, r.Header.Get("Accept-Language"))
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p web.Page) {
	if err := s.web.Render(w, status, name, p); err != nil {
		s.log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		http.Error(w, http.StatusText(status), status)
	}
}

// displayName is what a person is told they are signing in to.
func displayName(c *client) string {
	if c == nil {
		return ""
	}
	if c.c.Name != "" {
		return c.c.Name
	}
	return c.c.ID
}

// clientName is the display name of a's client, "" when it cannot be read.
func (s *Server) clientName(r *http.Request, a *authRequest) string {
	if a == nil {
		return ""
	}
	c, err := s.clients.get(r.Context(), a.ClientID)
	if err != nil {
		return ""
	}
	return displayName(c)
}

// errorPage tells the person what went wrong when no auth request is known.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, m message) {
	s.errorPageFor(w, r, nil, status, m)
}

// errorPageFor is errorPage in a's language, naming a's client.
func (s *Server) errorPageFor(w http.ResponseWriter, r *http.Request, a *authRequest, status int, m message) {
	s.render(w, r, status, "error", web.Page{Locale: s.locale(r, a), Title: m.title, Error: m.text,
		Client: s.clientName(r, a), Data: map[string]any{"Message": m.text, "RequestID": RequestID(r.Context())}})
}

// retryPage: the scan code expired; one click starts a new scan.
func (s *Server) retryPage(w http.ResponseWriter, r *http.Request, a *authRequest, upID string) {
	s.retryPageWith(w, r, a, upID, msgCodeExpired)
}

// retryPageWith is retryPage saying m.
func (s *Server) retryPageWith(w http.ResponseWriter, r *http.Request, a *authRequest, upID string, m message) {
	if a.id == "" { // a request from the login cookie: seal it for the link
		var err error
		if a.id, err = s.seal.seal(purposeAuthRequest, a); err != nil {
			s.errorPage(w, r, http.StatusInternalServerError, msgUnavailable)
			return
		}
	}
	retry := s.prefix + "/login?" + url.Values{"id": {a.id}, "upstream": {upID}}.Encode()
	s.render(w, r, http.StatusBadRequest, "error", web.Page{Locale: s.locale(r, a), Title: m.title,
		Error: m.text, Client: s.clientName(r, a),
		Data: map[string]any{"Message": m.text, "Retry": retry, "RequestID": RequestID(r.Context())}})
}

type chooserItem struct{ ID, Name, URL string }

// chooserPage lets the person pick an upstream. extra (inapp=…) is kept on
// the links.
func (s *Server) chooserPage(w http.ResponseWriter, r *http.Request, a *authRequest, c *client, allowed []string, extra url.Values) {
	items := make([]chooserItem, 0, len(allowed))
	for _, id := range allowed {
		q := url.Values{"id": {a.id}, "upstream": {id}}
		for k, v := range extra {
			q[k] = v
		}
		items = append(items, chooserItem{ID: id, Name: s.upstreams[id].Name, URL: s.prefix + "/login?" + q.Encode()})
	}
	s.render(w, r, http.StatusOK, "chooser", web.Page{Locale: s.locale(r, a), Title: "chooser_title",
		Client: displayName(c), Data: map[string]any{"Upstreams": items}})
}

type embedPage struct {
	frame, origin, fullPage, state, callback, others string
}

// embedQRRefresh is how often the embedded QR is replaced by a fresh one.
const embedQRRefresh = 170 * time.Second

// embedPage shows the upstream's QR inside our page. Its CSP allows frames
// from the login host only and scripts from our own origin only.
func (s *Server) embedPage(w http.ResponseWriter, r *http.Request, a *authRequest, c *client, e embedPage) {
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-src "+e.origin+"; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	s.render(w, r, http.StatusOK, "embed", web.Page{Locale: s.locale(r, a), Title: "embed_title", Client: displayName(c), Data: map[string]any{
		"Frame": e.frame, "Origin": e.origin, "FullPage": e.fullPage, "State": e.state,
		"Callback": e.callback, "Others": e.others, "Script": s.prefix + "/static/embed.js",
		"Refresh": int(embedQRRefresh.Seconds()),
	}})
}

type formField struct{ Name, Value string }

// logoutConfirmPage asks the person to confirm a logout that came without
// an id_token_hint; the form repeats the request's parameters.
func (s *Server) logoutConfirmPage(w http.ResponseWriter, r *http.Request, token string, f url.Values, hintValid bool) {
	fields := []formField{{"confirm", token}}
	if !hintValid {
		// A forged or mismatched hint forbids the redirect after confirming too.
		fields = append(fields, formField{"hint", "invalid"})
	}
	for _, k := range []string{"post_logout_redirect_uri", "client_id", "state", "ui_locales"} {
		if v := f.Get(k); v != "" {
			fields = append(fields, formField{k, v})
		}
	}
	s.render(w, r, http.StatusOK, "logout", web.Page{Locale: web.Locale(f["ui_locales"], r.Header.Get("Accept-Language")), Title: "logout_title",
		Data: map[string]any{"Action": s.prefix + "/end_session", "Fields": fields}})
}

func (s *Server) loggedOutPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "loggedout", web.Page{Locale: s.locale(r, nil), Title: "logged_out_title"})
}
