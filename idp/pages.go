package idp

import (
	"net/http"
	"net/url"

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

func (s *Server) loggedOutPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "loggedout", web.Page{Locale: s.locale(r, nil), Title: "logged_out_title"})
}
