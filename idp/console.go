package idp

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/web"
)

// The admin console (README.md, "Console"): <issuer>/admin and /admin/
// serve one HTML shell, /admin/static/ its script and style sheet
// (web/console/). The shell's script draws every page from the admin API
// (adminapi.go) with the console session that /admin/login sets
// (adminsession.go); its pages are client-side routes after the "#", so no
// path under /admin other than these is the console's.

// consoleCSP is the shell's policy: script and style from this server
// only (no inline script or style attribute), API calls to this server.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// mountConsole registers the console's shell and assets.
func (s *Server) mountConsole(mux *http.ServeMux) {
	c, err := web.NewConsole()
	if err != nil {
		panic(err) // the files are embedded; web's tests parse them
	}
	shell := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", consoleCSP)
		p := web.ConsolePage{
			Locale: web.Locale(strings.Fields(r.URL.Query().Get("ui_locales")), r.Header.Get("Accept-Language")),
			Base:   s.prefix,
			Brand:  s.web.Brand(),
		}
		var status int
		p.State, p.Account, status = s.consoleState(r)
		if err := c.Render(w, status, p); err != nil {
			s.log.ErrorContext(r.Context(), "render console", "err", err)
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		}
	}
	mux.HandleFunc("GET /admin", shell)
	mux.HandleFunc("GET /admin/{$}", shell)
	mux.Handle("GET /admin/static/{name}", cacheFor(time.Hour, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") == "brand.css" {
			css := web.ConsoleBrandCSS(s.web.Brand())
			if css == "" {
				s.errorPage(w, r, http.StatusNotFound, msgNotFound)
				return
			}
			w.Header().Set("Content-Type", "text/css; charset=utf-8")
			_, _ = w.Write([]byte(css))
			return
		}
		b, ct, ok := web.ConsoleAsset(r.PathValue("name"))
		if !ok {
			s.errorPage(w, r, http.StatusNotFound, msgNotFound)
			return
		}
		w.Header().Set("Content-Type", ct)
		_, _ = w.Write(b)
	})))
}

// consoleState says what the shell shows before its script runs: nobody
// signed in to the console: the sign-in page; a console session whose
// person is no longer an admin (demoted in the config, disabled): the
// refusal naming the account, 403; an admin: the console, whose script
// then works through the API (which checks the person again on every
// request). A database failure leaves the decision to the script, which
// shows the API's 503.
func (s *Server) consoleState(r *http.Request) (web.ConsoleState, string, int) {
	sess, ok := s.adminSession(r)
	if !ok {
		return web.ConsoleSignIn, "", http.StatusOK
	}
	u, err := s.store.GetUser(r.Context(), sess.Sub)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return web.ConsoleRefused, sess.Sub, http.StatusForbidden
	case err != nil:
		s.log.WarnContext(r.Context(), "console: read the admin", "user_id", sess.Sub, "err", err)
		return web.ConsoleApp, "", http.StatusOK
	case u.Disabled || !s.cfg.Admin.isAdmin(u.ID, claimGroups(u.Claims)):
		account := u.ID
		if name := claimString(u.Claims, "name"); name != "" {
			account = name + " (" + u.ID + ")"
		}
		return web.ConsoleRefused, account, http.StatusForbidden
	}
	return web.ConsoleApp, "", http.StatusOK
}
