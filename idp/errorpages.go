package idp

import (
	"net/http"
	"strings"

	"github.com/dingoidc/dingoidc/web"
)

// personPages turns the plain-text errors zitadel/oidc's op writes itself
// into the styled, localised error page with the request id.
//
// op has no option for this: op.AuthRequestError (pkg/op/error.go) answers
// with http.Error (400, text/plain, the English description) when it may
// not redirect: no client, unknown client, redirect_uri not registered, a
// request that does not parse. Everything op redirects (errors to a
// registered redirect_uri, the way to /login) is a 302 and passes through
// untouched; only a 4xx/5xx text/plain answer is replaced, before any of it
// reaches the browser.
func (s *Server) personPages(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pw := &plainErrorWriter{ResponseWriter: w}
		h.ServeHTTP(pw, r)
		if pw.status == 0 {
			return
		}
		hd := w.Header()
		hd.Del("Content-Type")
		hd.Del("Content-Length")
		m := msgBadRequest
		if pw.status >= 500 {
			m = msgUnavailable
		}
		var a *authRequest
		if r.Form != nil { // withRequestURI parsed it: the app's ui_locales apply
			if ui := strings.Fields(r.Form.Get("ui_locales")); len(ui) > 0 {
				a = &authRequest{Locales: ui}
			}
		}
		s.render(w, r, pw.status, "error", web.Page{Locale: s.locale(r, a), Title: m.title, Error: m.text,
			Data: map[string]any{"Message": m.text, "RequestID": RequestID(r.Context())}})
	})
}

// plainErrorWriter swallows an error answer written as plain text (by
// http.Error) and remembers its status; anything else passes through.
type plainErrorWriter struct {
	http.ResponseWriter
	status  int  // a swallowed error's status
	through bool // the answer is passed through
}

func (p *plainErrorWriter) WriteHeader(code int) {
	if p.status != 0 || p.through {
		return
	}
	if code >= 400 && strings.HasPrefix(p.Header().Get("Content-Type"), "text/plain") {
		p.status = code
		return
	}
	p.through = true
	p.ResponseWriter.WriteHeader(code)
}

func (p *plainErrorWriter) Write(b []byte) (int, error) {
	if p.status == 0 && !p.through {
		p.WriteHeader(http.StatusOK)
	}
	if p.status != 0 {
		return len(b), nil
	}
	return p.ResponseWriter.Write(b)
}

func (p *plainErrorWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }
