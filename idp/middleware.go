package idp

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

type ctxKey int

const (
	ctxRawBasic ctxKey = iota
	ctxRequestID
	ctxRequestURI
)

// noStore marks token, userinfo and introspection answers uncacheable.
func noStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		h.ServeHTTP(w, r)
	})
}

func cacheFor(d time.Duration, h http.Handler) http.Handler {
	v := "public, max-age=" + strconv.Itoa(int(d.Seconds()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", v)
		h.ServeHTTP(w, r)
	})
}

// withRawBasic remembers the Basic credentials as sent, before op
// URL-decodes them, so clients that do not encode (T1) still authenticate.
func withRawBasic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, secret, ok := r.BasicAuth(); ok {
			r = r.WithContext(context.WithValue(r.Context(), ctxRawBasic, secret))
		}
		h.ServeHTTP(w, r)
	})
}

func rawBasicSecret(ctx context.Context) (string, bool) {
	s, ok := ctx.Value(ctxRawBasic).(string)
	return s, ok
}

// withRequestURI notes that an authorization request carries request_uri.
// op ignores the parameter, but OIDC Core §6.2 wants
// request_uri_not_supported from a provider that does not support it
// (discovery says request_uri_parameter_supported=false);
// CreateAuthRequest answers that once op has checked client and
// redirect_uri, so the error is redirected only to a registered URI.
// A form that does not parse is refused here: once parsed (even in error)
// a request would look parsed and empty to op.
func (s *Server) withRequestURI(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			s.errorPage(w, r, http.StatusBadRequest, msgLoginInvalid)
			return
		}
		if r.Form.Get("request_uri") != "" {
			r = r.WithContext(context.WithValue(r.Context(), ctxRequestURI, true))
		}
		h.ServeHTTP(w, r)
	})
}

func hasRequestURI(ctx context.Context) bool {
	b, _ := ctx.Value(ctxRequestURI).(bool)
	return b
}

// jsonNotFound answers paths below an API endpoint that do not exist
// (Grafana's <api_url>/emails, docs/relying-parties.md, U6) in JSON, not with an
// HTML page.
func jsonNotFound(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNotFound)
	_, _ = w.Write([]byte(`{"error":"not_found","error_description":"no such endpoint"}`))
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Allow", allow)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = fmt.Fprintf(w, `{"error":"invalid_request","error_description":"use %s"}`, allow)
	}
}

// securityHeaders: no framing of our pages, no referrer (codes in URLs must
// not leak), no MIME sniffing.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self' *; frame-ancestors 'none'; base-uri 'none'")
		h.ServeHTTP(w, r)
	})
}

var requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// RequestID returns the id of the request ctx belongs to.
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(ctxRequestID).(string)
	return s
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe gives every request an id, counts it, and logs one line without
// the query string (it carries codes and states).
func (s *Server) observe(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !requestIDRE.MatchString(id) {
			id = randomString(12)
		}
		w.Header().Set("X-Request-Id", id)
		// Our own handlers use op's verifiers, which read the issuer from ctx.
		ctx := op.ContextWithIssuer(context.WithValue(r.Context(), ctxRequestID, id), s.cfg.Issuer)
		ctx, note := withRouteNote(ctx)
		r = r.WithContext(ctx)
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		d := time.Since(start)
		route := note.route()
		s.metrics.request(route, sw.status, d)
		level := slog.LevelDebug
		if sw.status >= 500 {
			level = slog.LevelWarn
		}
		s.log.Log(r.Context(), level, "http request", "method", r.Method, "route", route, "status", sw.status, "duration_ms", float64(d.Microseconds())/1000)
	})
}

// LogHandler wraps a slog handler so every record made with a request's
// context carries its request_id, and no record carries a request's state,
// nonce or code: op logs the client's state with protocol errors
// (oidc.Error's LogValue), and these values let whoever reads the log
// finish or replay someone's login.
func LogHandler(h slog.Handler) slog.Handler { return ridHandler{h} }

type ridHandler struct{ slog.Handler }

func (h ridHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redact(a))
		return true
	})
	if id := RequestID(ctx); id != "" {
		out.AddAttrs(slog.String("request_id", id))
	}
	addPersonAttrs(ctx, &out)
	return h.Handler.Handle(ctx, out)
}

func (h ridHandler) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redact(a)
	}
	return ridHandler{h.Handler.WithAttrs(red)}
}
func (h ridHandler) WithGroup(n string) slog.Handler { return ridHandler{h.Handler.WithGroup(n)} }

// redactedKeys are never logged with their value, at any depth.
var redactedKeys = map[string]bool{"state": true, "nonce": true, "code": true, "session_state": true, "code_verifier": true}

func redact(a slog.Attr) slog.Attr {
	a.Value = a.Value.Resolve()
	if redactedKeys[strings.ToLower(a.Key)] {
		return slog.String(a.Key, "[redacted]")
	}
	if a.Value.Kind() == slog.KindGroup {
		g := a.Value.Group()
		red := make([]slog.Attr, len(g))
		for i, x := range g {
			red[i] = redact(x)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(red...)}
	}
	return a
}

// unavailableAs503 answers 503 instead of op's 4xx when the request met an
// unreachable database (unavailable.go) or the error is
// temporarily_unavailable, so clients retry instead of treating the request
// as bad; and 401 for a bad bearer token.
func unavailableAs503(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, mark := withMark(r)
		bw := &bufferedWriter{ResponseWriter: w}
		h.ServeHTTP(bw, r)
		status := bw.status
		if status == 0 {
			status = http.StatusOK
		}
		body := bw.body.Bytes()
		switch {
		case mark.hit.Load() || (status >= 400 && bytes.Contains(body, []byte(`"error":"temporarily_unavailable"`))):
			writeUnavailableJSON(w)
			return
		case status == http.StatusForbidden && bytes.Contains(body, []byte(`"error":"invalid_token"`)):
			// RFC 6750 §3.1: a bad token at userinfo is 401, not op's 403.
			status = http.StatusUnauthorized
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		}
		w.WriteHeader(status)
		_, _ = w.Write(bw.body.Bytes())
	})
}

// bufferedWriter holds a small answer (token endpoint JSON) until the
// handler is done.
type bufferedWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
