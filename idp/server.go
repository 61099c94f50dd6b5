package idp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/cors"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/dingoidc/dingoidc/idp/clientip"
	"github.com/dingoidc/dingoidc/idp/keys"
	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/upstream"
	"github.com/dingoidc/dingoidc/web"
)

// Server is the OpenID Provider: zitadel/oidc's op with dingoidc's storage
// adapter, login flow and operational endpoints.
type Server struct {
	cfg        Config
	store      storage.Store
	keys       *keys.Manager
	log        *slog.Logger
	now        func() time.Time
	provider   *op.Provider
	crypto     op.Crypto
	seal       *sealer
	cookieKey  []byte
	refreshKey []byte
	clients    *clientCache
	upstreams  map[string]*upstreamEntry
	order      []string // upstream ids in config order
	prefix     string   // issuer path, "" or "/sso"
	secure     bool     // https issuer: Secure cookies
	discovery  []byte
	metrics    *Metrics
	web        *web.Renderer
	handler    http.Handler
	clientIP   *clientip.Resolver // trusted_proxies: who the person is
	limits     *rateLimiters      // nil: rate limits disabled (ratelimit.go)
	draining   atomic.Bool        // shutting down: /readyz is 503 (SetDraining)
	health     upstreamHealth     // last exchange per upstream (upstreamhealth.go)
	signIns    *signInQueue       // the sign-in log's writer (signinlog.go)
	logo       []byte             // branding (branding.go)
	logoType   string
	logoETag   string

	// respondCompleted answers a completed login (complete, callback.go);
	// tests replace it to reach the /authorize/callback route.
	respondCompleted func(w http.ResponseWriter, r *http.Request, a *authRequest)
}

type upstreamEntry struct {
	UpstreamConfig
	mapper *claimsMapper
}

// New builds the provider. It does not start background jobs; see Run.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg.SetDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.Store == nil || deps.Keys == nil {
		return nil, errors.New("idp: store and keys are required")
	}
	s := &Server{
		cfg:     cfg,
		store:   deps.Store,
		keys:    deps.Keys,
		log:     deps.Logger,
		now:     deps.Now,
		metrics: deps.Metrics,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.metrics == nil {
		s.metrics = NewMetrics()
	}
	s.metrics.watchStore(s.store)
	s.clientIP, _ = clientip.New(cfg.TrustedProxies) // validated above
	s.limits = newRateLimiters(cfg.RateLimits, s.now)
	iss, _ := url.Parse(cfg.Issuer)
	s.prefix = strings.TrimSuffix(iss.Path, "/")
	s.secure = iss.Scheme == "https"

	var err error
	if s.web, err = web.New(); err != nil {
		return nil, err
	}
	if err := s.setBranding(cfg.Branding); err != nil {
		return nil, err
	}
	s.signIns = newSignInQueue(deps.Store, s.log, cfg.SignInLog)
	if s.seal, err = newSealer(keys.Derive(cfg.MasterKey, "auth-requests")); err != nil {
		return nil, err
	}
	ck := keys.Derive(cfg.MasterKey, "cookie")
	s.cookieKey = ck[:]
	rk := keys.Derive(cfg.MasterKey, "refresh")
	s.refreshKey = rk[:]
	s.crypto = op.NewAES256GCMCrypto(keys.Derive(cfg.MasterKey, "op-crypto"), "dingoidc-1")

	s.upstreams = map[string]*upstreamEntry{}
	for _, u := range cfg.Upstreams {
		m, err := newClaimsMapper(u.Provider.DefaultClaims(), u.Claims)
		if m != nil {
			m.syntheticDomain = u.ID + ".invalid" // RFC 2606: never deliverable, never someone's
		}
		if err != nil {
			return nil, fmt.Errorf("upstream %s: %w", u.ID, err)
		}
		s.upstreams[u.ID] = &upstreamEntry{UpstreamConfig: u, mapper: m}
		s.order = append(s.order, u.ID)
	}

	s.clients = &clientCache{
		store: deps.Store,
		ttl:   10 * time.Second,
		now:   s.now,
		wrap: func(c storage.Client) *client {
			f := c.AccessTokenFormat
			if f == "" {
				f = cfg.DefaultAccessTokenFormat
			}
			return &client{c: c, loginURL: s.prefix + "/login", idTTL: cfg.IDTokenTTL, format: f}
		},
	}

	opts := []op.Option{
		op.WithCrypto(s.crypto),
		op.WithCORSOptions(nil), // CORS is applied by routes(), restricted to registered apps
	}
	if iss.Scheme == "http" {
		opts = append(opts, op.WithAllowInsecure())
	}
	s.provider, err = op.NewProvider(&op.Config{
		CodeMethodS256:        true,
		AuthMethodPost:        true,
		GrantTypeRefreshToken: true,
		SupportedUILocales:    []language.Tag{language.SimplifiedChinese, language.English},
		SupportedScopes:       supportedScopes,
	}, opStorage{s}, op.StaticIssuer(cfg.Issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("idp: create provider: %w", err)
	}
	if s.discovery, err = s.discoveryDocument(); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

var supportedScopes = []string{"openid", "profile", "email", "phone", ScopeGroups, "offline_access"}

// Handler serves everything: the OIDC endpoints, login pages, operations.
func (s *Server) Handler() http.Handler { return s.handler }

// Provider exposes op's provider (tests use its verifiers).
func (s *Server) Provider() *op.Provider { return s.provider }

// routes lists every route in one place.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	opHandler := s.provider

	mux.HandleFunc("GET /.well-known/openid-configuration", s.handleDiscovery)
	mux.Handle("GET /authorize", s.pageUnavailable(s.loginInline(s.personPages(s.withRequestURI(opHandler)))))
	mux.Handle("POST /authorize", s.pageUnavailable(s.loginInline(s.personPages(s.withRequestURI(opHandler)))))
	// Logins complete without this hop now (complete, callback.go); a
	// replica of an older version still sends browsers here during a
	// rolling upgrade.
	mux.Handle("GET /authorize/callback", s.pageUnavailable(s.personPages(s.checkBrowser(opHandler))))
	mux.Handle("POST /oauth/token", noStore(s.tokenGuard(true, unavailableAs503(withRawBasic(opHandler)))))
	mux.Handle("POST /oauth/introspect", noStore(s.tokenGuard(false, unavailableAs503(withRawBasic(opHandler)))))
	mux.Handle("POST /revoke", noStore(s.tokenGuard(false, unavailableAs503(withRawBasic(opHandler)))))
	mux.Handle("GET /userinfo", noStore(unavailableAs503(opHandler)))
	mux.Handle("POST /userinfo", noStore(unavailableAs503(opHandler)))
	mux.HandleFunc("/userinfo/", jsonNotFound)
	mux.Handle("GET /keys", cacheFor(5*time.Minute, opHandler))
	mux.Handle("GET /end_session", s.pageUnavailable(http.HandlerFunc(s.handleEndSession)))
	mux.Handle("POST /end_session", s.pageUnavailable(http.HandlerFunc(s.handleEndSession)))
	mux.HandleFunc("/oauth/token", methodNotAllowed("POST"))
	mux.HandleFunc("/oauth/introspect", methodNotAllowed("POST"))
	mux.HandleFunc("/revoke", methodNotAllowed("POST"))
	mux.HandleFunc("/userinfo", methodNotAllowed("GET, POST"))
	s.mountLegacyAPI(mux)

	mux.Handle("GET /login", s.pageUnavailable(http.HandlerFunc(s.handleLogin)))
	mux.Handle("GET /login/{upstream}/callback", s.pageUnavailable(s.personPages(http.HandlerFunc(s.handleUpstreamCallback))))
	mux.Handle("POST /login/{upstream}/callback", s.pageUnavailable(s.personPages(http.HandlerFunc(s.handleUpstreamCallback))))
	s.mountPolicy(mux) // refusal's way back, branding logo

	mux.Handle("GET /static/", s.staticFiles())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.Handle("GET /metrics", s.metricsEndpoint())
	s.mountAdminAPI(mux) // adminapi.go, adminsession.go
	s.mountConsole(mux)  // console.go
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusNotFound, msgNotFound)
	})

	c := cors.New(cors.Options{
		AllowOriginRequestFunc: func(r *http.Request, origin string) bool {
			if !corsPaths[r.URL.Path] {
				return false
			}
			return s.clients.allowedOrigin(r.Context(), origin)
		},
		AllowedMethods:   []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:   []string{"Authorization", "Content-Type"},
		AllowCredentials: false,
		MaxAge:           600,
	})
	var h http.Handler = c.Handler(securityHeaders(s.rateLimit(notePattern(mux))))
	if s.prefix != "" {
		h = http.StripPrefix(s.prefix, h)
	}
	h = s.limitBody(h)
	return s.clientIP.Middleware(withUserAgent(s.observe(h)))
}

// corsPaths are the endpoints a browser app (SPA) calls directly.
var corsPaths = map[string]bool{
	"/.well-known/openid-configuration": true, "/keys": true, "/oauth/token": true,
	"/userinfo": true, "/revoke": true,
}

func (s *Server) handleDiscovery(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(s.discovery)
}

// discoveryDocument advertises exactly what works (docs/relying-parties.md, D3–D7).
func (s *Server) discoveryDocument() ([]byte, error) {
	iss := s.cfg.Issuer
	claims := []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "azp", "amr", "at_hash", "c_hash",
		"name", "nickname", "preferred_username", "picture", "email", "email_verified", "phone_number", "groups"}
	for _, id := range s.order {
		for name := range s.upstreams[id].mapper.templates {
			if !slices.Contains(claims, name) {
				claims = append(claims, name)
			}
		}
	}
	doc := map[string]any{
		"issuer":                                        iss,
		"authorization_endpoint":                        iss + "/authorize",
		"token_endpoint":                                iss + "/oauth/token",
		"userinfo_endpoint":                             iss + "/userinfo",
		"jwks_uri":                                      iss + "/keys",
		"end_session_endpoint":                          iss + "/end_session",
		"revocation_endpoint":                           iss + "/revoke",
		"introspection_endpoint":                        iss + "/oauth/introspect",
		"scopes_supported":                              supportedScopes,
		"response_types_supported":                      []string{"code"},
		"response_modes_supported":                      []string{"query"},
		"grant_types_supported":                         []string{"authorization_code", "refresh_token"},
		"subject_types_supported":                       []string{"public"},
		"id_token_signing_alg_values_supported":         []string{"RS256"},
		"token_endpoint_auth_methods_supported":         []string{"client_secret_basic", "client_secret_post"},
		"revocation_endpoint_auth_methods_supported":    []string{"client_secret_basic", "client_secret_post"},
		"introspection_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
		"code_challenge_methods_supported":              []string{"S256"},
		"claims_supported":                              claims,
		"claims_parameter_supported":                    false,
		"request_parameter_supported":                   false,
		"request_uri_parameter_supported":               false,
		"ui_locales_supported":                          []string{"zh-CN", "en"},
	}
	return json.MarshalIndent(doc, "", "  ")
}

func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "readiness: database unreachable", "err", err)
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// Run does the background work until ctx ends: key maintenance and the
// deletion of expired rows.
func (s *Server) Run(ctx context.Context, gcEvery time.Duration) {
	go s.keys.Run(ctx, time.Minute)
	t := time.NewTicker(gcEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.collectGarbage(ctx)
		}
	}
}

func (s *Server) collectGarbage(ctx context.Context) {
	s.pruneSignIns(ctx)
	n, err := s.store.DeleteExpired(ctx, s.now())
	if err != nil {
		s.log.WarnContext(ctx, "delete expired rows", "err", err)
		return
	}
	if n > 0 {
		s.log.InfoContext(ctx, "deleted expired rows", "rows", n)
	}
}

// audit appends an audit event; failures are logged, never fatal.
func (s *Server) audit(ctx context.Context, actor, action, target string, details map[string]any) {
	b, _ := json.Marshal(details)
	if err := s.store.AppendAudit(ctx, &storage.AuditEvent{Time: s.now().UTC(), Actor: actor, Action: action, Target: target, Details: b}); err != nil {
		s.log.WarnContext(ctx, "append audit event", "action", action, "err", err)
	}
}

// upstreamFor returns a configured upstream.
func (s *Server) upstreamFor(id string) (*upstreamEntry, upstream.Provider, bool) {
	u, ok := s.upstreams[id]
	if !ok {
		return nil, nil, false
	}
	return u, u.Provider, true
}
