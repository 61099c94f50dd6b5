package dingtalk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"text/template"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/dingoidc/dingoidc/upstream"
)

// Provider is one DingTalk upstream. It is safe for concurrent use.
type Provider struct {
	cfg      Config
	hc       *http.Client
	log      *slog.Logger
	now      func() time.Time
	username *template.Template // nil without UsernameTemplate

	tokens tokenCache         // the app token of the old API
	depts  deptCache          // department names
	sf     singleflight.Group // department fetches
}

var (
	_ upstream.Provider = (*Provider)(nil)
	_ upstream.InApp    = (*Provider)(nil)
)

// New returns a provider for cfg, which must be valid (see Validate),
// reading its client_secret_file.
// hc makes the calls (nil: a default client); redirects are not followed,
// since requests carry secrets. logger and now may be nil.
func New(cfg Config, hc *http.Client, logger *slog.Logger, now func() time.Time) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("dingtalk config: %w", err)
	}
	if cfg.ClientSecretFile != "" {
		s, err := upstream.ReadSecretFile(cfg.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("dingtalk config: client_secret_file: %w", err)
		}
		cfg.ClientSecret, cfg.ClientSecretFile = s, ""
	}
	cfg = cfg.withDefaults()
	if hc == nil {
		hc = &http.Client{}
	}
	c := *hc
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	p := &Provider{cfg: cfg, hc: &c, log: logger, now: now}
	if cfg.UsernameTemplate != "" {
		t, err := parseUsernameTemplate(cfg.UsernameTemplate)
		if err != nil { // Validate parsed it already
			return nil, fmt.Errorf("dingtalk config: username_template: %w", err)
		}
		p.username = t
	}
	p.tokens = tokenCache{fetch: p.fetchAppToken, now: now, log: logger}
	if cfg.CorpID == "" {
		logger.Warn("dingtalk upstream without corp_id: any DingTalk user can log in")
	}
	return p, nil
}

// Type implements upstream.Provider.
func (p *Provider) Type() string { return "dingtalk" }

// LoginURL implements upstream.Provider: DingTalk's QR page, which sends
// the browser back to req.RedirectURI with authCode and state.
func (p *Provider) LoginURL(_ context.Context, req upstream.LoginRequest) (string, error) {
	if req.RedirectURI == "" || req.State == "" {
		return "", errors.New("dingtalk login url: redirect uri and state are required")
	}
	scope := "openid"
	preselect := p.cfg.PreselectCorp && p.cfg.CorpID != ""
	if preselect {
		scope = "openid corpid"
	}
	// The order and the %20 follow DingTalk's documentation.
	params := [][2]string{
		{"redirect_uri", req.RedirectURI},
		{"response_type", "code"},
		{"client_id", p.cfg.ClientID},
		{"scope", scope},
		{"state", req.State},
		{"prompt", "consent"},
	}
	if preselect {
		params = append(params, [2]string{"corpId", p.cfg.CorpID})
	}
	var b strings.Builder
	b.WriteString(p.cfg.LoginHost + "/oauth2/auth")
	for i, kv := range params {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(kv[0] + "=" + strings.ReplaceAll(url.QueryEscape(kv[1]), "+", "%20"))
	}
	return b.String(), nil
}

// maxCodeLen bounds the auth code accepted from a callback.
const maxCodeLen = 512

// Exchange implements upstream.Provider: it turns the callback's authCode
// (or code) into the person, and with a CorpID checks their membership
// and reads their org profile. A callback with auth_code is an in-app
// (免登) login instead (see exchangeInApp).
func (p *Provider) Exchange(ctx context.Context, callback url.Values, _ string) (*upstream.Identity, error) {
	if e := callback.Get("error"); e != "" {
		return nil, fmt.Errorf("dingtalk callback: %w (error %q)", upstream.ErrDenied, clean(e))
	}
	if ac := callback.Get("auth_code"); ac != "" {
		return p.exchangeInApp(ctx, ac)
	}
	code := callback.Get("authCode")
	if code == "" {
		code = callback.Get("code")
	}
	switch {
	case code == "":
		return nil, fmt.Errorf("dingtalk callback: %w: no authCode", upstream.ErrDenied)
	case len(code) > maxCodeLen || hasSpaceOrControl(code):
		return nil, fmt.Errorf("dingtalk callback: %w: malformed authCode", upstream.ErrCodeInvalid)
	}

	userToken, corpID, err := p.userAccessToken(ctx, code)
	if err != nil {
		return nil, err
	}
	m, err := p.me(ctx, userToken)
	if err != nil {
		return nil, err
	}
	attrs := map[string]any{}
	set := func(k string, v flexString) {
		if s := string(v); s != "" {
			attrs[k] = s
		}
	}
	set("nick", m.Nick)
	set("avatarUrl", m.AvatarURL)
	set("mobile", m.Mobile)
	set("stateCode", m.StateCode)
	set("openId", m.OpenID)
	set("unionId", m.UnionID)
	set("personal_email", m.Email)
	unionID := string(m.UnionID)

	if p.cfg.CorpID != "" {
		if err := p.member(ctx, unionID, attrs); err != nil {
			return nil, err
		}
	} else if corpID != "" {
		attrs["corp_id"] = corpID // the organisation chosen on the login page
	}
	if u := p.usernameFor(ctx, attrs); u != "" {
		attrs["username"] = u
	}
	return &upstream.Identity{ExternalID: unionID, Attributes: attrs, AMR: []string{"qr"}}, nil
}

// userAccessToken exchanges the auth code for the person's access token
// (and the corp chosen on the login page, if any).
func (p *Provider) userAccessToken(ctx context.Context, code string) (token, corpID string, err error) {
	const op = "exchange auth code"
	var out struct {
		AccessToken  flexString `json:"accessToken"`
		RefreshToken flexString `json:"refreshToken"`
		ExpireIn     flexInt    `json:"expireIn"`
		CorpID       flexString `json:"corpId"`
	}
	err = p.callAPI(ctx, call{
		method: http.MethodPost,
		url:    p.cfg.APIHost + "/v1.0/oauth2/userAccessToken",
		body: map[string]string{
			"clientId":     p.cfg.ClientID,
			"clientSecret": p.cfg.ClientSecret,
			"code":         code,
			"grantType":    "authorization_code",
		},
		secrets: []string{p.cfg.ClientSecret, code},
	}, &out)
	var ae *APIError
	if errors.As(err, &ae) && codeRefused(ae) {
		return "", "", fmt.Errorf("%s: %w: %w", op, upstream.ErrCodeInvalid, ae)
	}
	if err != nil {
		return "", "", p.apiFailure(op, "", err)
	}
	if out.AccessToken == "" {
		return "", "", fmt.Errorf("%s: %w: %w: no accessToken", op, upstream.ErrUnavailable, errShape)
	}
	return string(out.AccessToken), clean(string(out.CorpID)), nil
}

// permUserRead is the app permission /v1.0/contact/users/me needs.
const permUserRead = "Contact.User.Read"

// me reads the person the user token belongs to.
func (p *Provider) me(ctx context.Context, userToken string) (*me, error) {
	const op = "get current user"
	c := call{
		method:  http.MethodGet,
		url:     p.cfg.APIHost + "/v1.0/contact/users/me",
		header:  http.Header{"X-Acs-Dingtalk-Access-Token": {userToken}},
		secrets: []string{userToken},
	}
	body, err := p.callAPIRaw(ctx, c)
	if err != nil {
		return nil, p.apiFailure(op, permUserRead, err)
	}
	m, err := parseUser(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", op, upstream.ErrUnavailable, err)
	}
	return m, nil
}

// usernameFor returns the `username` attribute: the org userid when it is
// ASCII-safe, else the UsernameTemplate's result when that is ASCII-safe,
// else "".
func (p *Provider) usernameFor(ctx context.Context, attrs map[string]any) string {
	if id, _ := attrs["userid"].(string); usernameOf(id) != "" {
		return usernameOf(id)
	}
	if p.username == nil {
		return ""
	}
	var buf bytes.Buffer
	if err := p.username.Execute(&buf, attrs); err != nil {
		p.log.WarnContext(ctx, "username_template failed; no preferred_username", "err", err)
		return ""
	}
	s := strings.TrimSpace(strings.ReplaceAll(buf.String(), "<no value>", ""))
	if s == "" {
		return ""
	}
	if u := usernameOf(s); u != "" {
		return u
	}
	p.log.WarnContext(ctx, "username_template result is not ASCII-safe ([a-z0-9._-]); no preferred_username")
	return ""
}
