package idp

import (
	"net/http"
	"strings"
	"time"

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
		}
		status := http.StatusOK
		p.State, p.Account, status = s.consoleState(r)
		if err := c.Render(w, status, p); err != nil {
			s.log.ErrorContext(r.Context(), "render console", "err", err)
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		}
	}
	mux.HandleFunc("GET /admin", shell)
	mux.HandleFunc("GET /admin/{$}", shell)
	mux.Handle("GET /admin/static/{name}", cacheFor(time.Hour, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ct, ok := web.ConsoleAsset(r.PathValue("name"))
		if !ok {
			s.errorPage(w, r, http.StatusNotFound, msgNotFound)
			return
		}
		w.Header().Set("Content-Type", ct)
		_, _ = w.Write(b)
	})))
}

// consoleState says what the shell shows before its script runs: the
// script asks GET /admin/api/v1/me and draws the console, the sign-in
// page (401) or the refusal (403).
func (s *Server) consoleState(*http.Request) (web.ConsoleState, string, int) {
	return web.ConsoleApp, "", http.StatusOK
}
