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
	msgNotFound       = message{"error_title", "not_found"}
	msgRequestExpired = message{"error_title", "request_expired"}
	msgLoginInvalid   = message{"error_title", "login_invalid"}
	msgOtherBrowser   = message{"error_title", "other_browser"}
	msgNotAllowed     = message{"not_allowed_title", "not_allowed"}
	msgDisabled       = message{"not_allowed_title", "disabled"}
	msgUnavailable    = message{"unavailable_title", "unavailable"}
	msgCodeExpired    = message{"code_expired_title", "code_expired"}
)

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

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, m message) {
	s.render(w, r, status, "error", web.Page{Locale: s.locale(r, nil), Title: m.title,
		Data: map[string]any{"Message": m.text, "RequestID": RequestID(r.Context())}})
}

// retryPage: the scan code expired; one click starts a new scan.
func (s *Server) retryPage(w http.ResponseWriter, r *http.Request, a *authRequest, upID string) {
	retry := s.prefix + "/login?" + url.Values{"id": {a.id}, "upstream": {upID}}.Encode()
	s.render(w, r, http.StatusBadRequest, "error", web.Page{Locale: s.locale(r, a), Title: msgCodeExpired.title,
		Data: map[string]any{"Message": msgCodeExpired.text, "Retry": retry, "RequestID": RequestID(r.Context())}})
}

type chooserItem struct{ Name, URL string }

func (s *Server) chooserPage(w http.ResponseWriter, r *http.Request, a *authRequest, c *client, allowed []string) {
	items := make([]chooserItem, 0, len(allowed))
	for _, id := range allowed {
		items = append(items, chooserItem{
			Name: s.upstreams[id].Name,
			URL:  s.prefix + "/login?" + url.Values{"id": {a.id}, "upstream": {id}}.Encode(),
		})
	}
	name := c.c.Name
	if name == "" {
		name = c.c.ID
	}
	s.render(w, r, http.StatusOK, "chooser", web.Page{Locale: s.locale(r, a), Title: "chooser_title",
		Data: map[string]any{"Client": name, "Upstreams": items}})
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
	name := c.c.Name
	if name == "" {
		name = c.c.ID
	}
	s.render(w, r, http.StatusOK, "embed", web.Page{Locale: s.locale(r, a), Title: "embed_title", Data: map[string]any{
		"Client": name, "Frame": e.frame, "Origin": e.origin, "FullPage": e.fullPage, "State": e.state,
		"Callback": e.callback, "Others": e.others, "Script": s.prefix + "/static/embed.js",
		"Refresh": int(embedQRRefresh.Seconds()),
	}})
}

func (s *Server) loggedOutPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "loggedout", web.Page{Locale: s.locale(r, nil), Title: "logged_out_title"})
}
