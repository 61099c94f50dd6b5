package zhezhengding

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/dingoidc/dingoidc/upstream"
)

// Login APIs.
const (
	scanUserPath  = "/rpc/oauth2/getuserinfo_bycode.json"
	inAppUserPath = "/rpc/oauth2/dingtalk_app_user.json"
)

// Provider is one Zhezhengding upstream. It is safe for concurrent use.
type Provider struct {
	cfg    Config
	logger *slog.Logger
	now    func() time.Time
	origin string // the login host's origin

	scan  *tokenSource // scan-login app
	inApp *tokenSource // in-app (免登) app; nil when not configured
	orgs  orgCache
}

var (
	_ upstream.Provider = (*Provider)(nil)
	_ upstream.Embedder = (*Provider)(nil)
)

// New makes a provider of a valid config, reading its secret files. hc makes the API calls (nil: a
// new client; per-call timeouts come from cfg.Timeout), logger receives
// warnings (nil: discarded), now is the clock (nil: time.Now).
func New(cfg Config, hc *http.Client, logger *slog.Logger, now func() time.Time) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("zhezhengding config: %w", err)
	}
	cfg, err := cfg.readSecretFiles()
	if err != nil {
		return nil, fmt.Errorf("zhezhengding config: %w", err)
	}
	cfg = cfg.withDefaults()
	if hc == nil {
		hc = &http.Client{}
	}
	// Every call carries the AppKey, a signature and (the token call) the
	// AppSecret: a redirect must never take them elsewhere
	// (docs/upstreams.md §1, Request signing).
	noRedirects := *hc
	noRedirects.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	hc = &noRedirects
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	// The caller scopes the logger with upstream=<id>.
	logger = logger.With("upstream_type", "zhezhengding")
	p := &Provider{
		cfg:    cfg,
		logger: logger,
		now:    now,
		origin: origin(cfg.LoginHost),
	}
	nonces := newNonceSource()
	newSource := func(app, key, secret string) *tokenSource {
		return &tokenSource{
			c: &client{
				hc: hc, base: cfg.APIHost, key: key, secret: secret,
				timeout: cfg.Timeout, offset: cfg.ClockOffset, now: now, nonces: nonces,
			},
			logger: logger,
			app:    app,
		}
	}
	p.scan = newSource("scan", cfg.AppKey, cfg.AppSecret)
	if cfg.InAppKey != "" {
		p.inApp = newSource("in-app", cfg.InAppKey, cfg.InAppSecret)
	}
	return p, nil
}

// origin is the origin of a valid host URL as a browser writes it in
// MessageEvent.origin: scheme://host[:port], lower case, no default port.
func origin(host string) string {
	u, _ := url.Parse(host) // checked by Validate
	h := strings.ToLower(u.Host)
	if p := u.Port(); (u.Scheme == "https" && p == "443") || (u.Scheme == "http" && p == "80") {
		h = strings.ToLower(u.Hostname())
		if strings.Contains(h, ":") {
			h = "[" + h + "]"
		}
	}
	return u.Scheme + "://" + h
}

// Type implements upstream.Provider.
func (p *Provider) Type() string { return "zhezhengding" }

// LoginURL implements upstream.Provider: the full-page QR login.
func (p *Provider) LoginURL(_ context.Context, req upstream.LoginRequest) (string, error) {
	return p.authURL(req, false), nil
}

// Embedded implements upstream.Embedder.
func (p *Provider) Embedded() bool { return p.cfg.Embed }

// FrameURL implements upstream.Embedder: the QR page with embedMode=true,
// whose postMessage({code, state}) comes from the login host's origin.
func (p *Provider) FrameURL(_ context.Context, req upstream.LoginRequest) (string, string, error) {
	return p.authURL(req, true), p.origin, nil
}

// authURL is {login}/oauth2/auth.htm with the parameters in the documented
// order.
func (p *Provider) authURL(req upstream.LoginRequest, embed bool) string {
	var b strings.Builder
	b.WriteString(p.cfg.LoginHost)
	b.WriteString("/oauth2/auth.htm?response_type=code&client_id=")
	b.WriteString(url.QueryEscape(p.cfg.AppCode))
	b.WriteString("&redirect_uri=")
	b.WriteString(url.QueryEscape(req.RedirectURI))
	b.WriteString("&scope=")
	b.WriteString(url.QueryEscape(p.cfg.Scope))
	b.WriteString("&authType=QRCODE")
	if embed {
		b.WriteString("&embedMode=true")
	}
	if req.State != "" {
		b.WriteString("&state=")
		b.WriteString(url.QueryEscape(req.State))
	}
	return b.String()
}

// DefaultClaims implements upstream.Provider. There is no email: the
// config maps a synthetic one (e.g. "{{.account}}@example.gov.cn").
func (p *Provider) DefaultClaims() map[string]string {
	return map[string]string{
		"name":               "{{.lastName}}",
		"nickname":           "{{.nickNameCn}}",
		"preferred_username": "{{.account}}",
		"employee_code":      "{{.employeeCode}}",
		"account_id":         "{{.accountId}}",
		"tenant_id":          "{{with .tenantId}}{{.}}{{else}}{{.realmId}}{{end}}",
		"tenant_name":        "{{with .tenantName}}{{.}}{{else}}{{.realmName}}{{end}}",
		"picture":            "{{.avatar}}",
		"groups":             "{{range .groups}}{{.}}\n{{end}}",
	}
}

// Exchange implements upstream.Provider. A callback with auth_code is an
// in-app (免登) login from dd.getAuthCode; otherwise code is a QR scan's.
func (p *Provider) Exchange(ctx context.Context, callback url.Values, _ string) (*upstream.Identity, error) {
	op, path, param, src, amr := "exchange scan code", scanUserPath, "code", p.scan, "qr"
	code := callback.Get("code")
	if ac := callback.Get("auth_code"); ac != "" {
		op, path, param, src, amr, code = "exchange in-app code", inAppUserPath, "auth_code", p.inApp, "app", ac
		if src == nil {
			return nil, fmt.Errorf("%s: %w: no in-app app (inapp_app_key) is configured [%w]", op, upstream.ErrUnavailable, upstream.ErrMisconfigured)
		}
	}
	if code == "" {
		return nil, fmt.Errorf("%s: %w: the callback has no code", op, upstream.ErrCodeInvalid)
	}
	if len(code) > 256 || strings.ContainsFunc(code, isSpaceOrControl) {
		return nil, fmt.Errorf("%s: %w: the callback's code is malformed", op, upstream.ErrCodeInvalid)
	}

	data, err := src.callWithToken(ctx, path, url.Values{param: {code}})
	if err != nil {
		if codeInvalid(err) {
			return nil, fmt.Errorf("%s: %w: %w", op, upstream.ErrCodeInvalid, err)
		}
		if refusedConfig(err) {
			return nil, fmt.Errorf("%s: %w: %w [%w]", op, upstream.ErrUnavailable, err, upstream.ErrMisconfigured)
		}
		return nil, fmt.Errorf("%s: %w: %w", op, upstream.ErrUnavailable, err)
	}
	u, err := parseUser(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s: %w", op, upstream.ErrUnavailable, path, err)
	}
	if len(p.cfg.AllowedTenants) > 0 && !slices.Contains(p.cfg.AllowedTenants, u.TenantID) {
		if u.TenantID == 0 {
			return nil, fmt.Errorf("%s: %w: account %s reports no tenant, and only tenants %v may log in",
				op, upstream.ErrNotAllowed, u.AccountID, p.cfg.AllowedTenants)
		}
		return nil, fmt.Errorf("%s: %w: tenant %d of account %s is not in allowed_tenants %v",
			op, upstream.ErrNotAllowed, u.TenantID, u.AccountID, p.cfg.AllowedTenants)
	}
	if p.cfg.Enrich && u.EmployeeCode != "" && u.TenantID != 0 {
		groups, err := p.groups(ctx, u.TenantID, u.EmployeeCode)
		switch {
		case err != nil:
			p.logger.Warn("organisations unavailable; logging in without groups",
				"account_id", u.AccountID, "tenant_id", u.TenantID, "pair", p.orgPair().app, "upstream_code", errorCode(err), "err", err)
		case len(groups) > 0:
			u.Attributes["groups"] = groups
		}
	}
	return &upstream.Identity{
		ExternalID: u.AccountID,
		Attributes: u.Attributes,
		AMR:        []string{amr},
	}, nil
}

// refusedConfig tells whether the gateway refused dingoidc's own
// configuration: the key pair (unknown apiKey, signature) or the clock of
// its signed timestamps.
func refusedConfig(err error) bool {
	var ge *GatewayError
	if !errors.As(err, &ge) {
		return false
	}
	s := strings.ToLower(ge.Code + " " + ge.Message)
	return signatureRefused(ge) || strings.Contains(s, "accesskey") || strings.Contains(s, "apikey")
}

// errorCode is the gateway's or the API's code in err ("" without one).
func errorCode(err error) string {
	var ae *APIError
	var ge *GatewayError
	switch {
	case errors.As(err, &ae):
		return ae.Code
	case errors.As(err, &ge):
		return ge.Code
	}
	return ""
}

// codeInvalid tells whether the gateway refused the login code as expired,
// unknown or used.
func codeInvalid(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	if ae.Code == CodeInvalidCode {
		return true
	}
	m := strings.ToLower(ae.Message)
	return strings.Contains(m, "code") && !strings.Contains(m, "token") &&
		containsAny(m, "失效", "不存在", "过期", "已使用", "expired", "invalid", "not exist", "used")
}

func containsAny(s string, subs ...string) bool {
	for _, x := range subs {
		if strings.Contains(s, x) {
			return true
		}
	}
	return false
}
