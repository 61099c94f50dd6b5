package dingtalk

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/dingoidc/dingoidc/upstream"
)

var _ upstream.Checker = (*Provider)(nil)

// checkUnionID is a unionId no person has: getbyunionid answers "not a
// member" (60121) when the app may look people up at all.
const checkUnionID = "dingoidcCheckNoSuchPersoniE"

// Check implements upstream.Checker: the login host answers, the app's
// token (client_id and its secret, the server's IP), and with corp_id the
// membership lookup's permission (qyapi_get_member). Contact.User.Read
// needs a person's token: the first login shows it.
func (p *Provider) Check(ctx context.Context, req upstream.CheckRequest) []upstream.CheckResult {
	out := []upstream.CheckResult{p.checkLoginHost(ctx, req)}
	tok := upstream.CheckResult{Name: "app token (client_id, client_secret)", Fatal: true}
	if _, err := p.tokens.get(ctx); err != nil {
		tok.Detail = err.Error()
		out = append(out, tok)
		return out
	}
	tok.OK, tok.Detail = true, "DingTalk issued a token"
	out = append(out, tok)
	if p.cfg.CorpID != "" {
		out = append(out, p.checkMembership(ctx))
	}
	out = append(out, upstream.CheckResult{Name: "Contact.User.Read", OK: true,
		Detail: "not checked: it needs a person's token (a login without it fails naming the permission)"})
	return out
}

func (p *Provider) checkLoginHost(ctx context.Context, req upstream.CheckRequest) upstream.CheckResult {
	r := upstream.CheckResult{Name: "login page", Fatal: true}
	u, err := p.LoginURL(ctx, upstream.LoginRequest{State: "dingoidc-check", RedirectURI: req.RedirectURI})
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	status, _, err := p.do(ctx, call{method: http.MethodGet, url: u})
	switch {
	case err != nil:
		r.Detail = fmt.Sprintf("login_host %s is unreachable from here: %v", p.cfg.LoginHost, err)
	case status >= 500:
		r.Detail = fmt.Sprintf("the login page answered HTTP %d", status)
	default:
		// DingTalk's page checks the callback domain in the browser.
		r.OK, r.Detail = true, "reachable (the callback domain is checked when a person scans)"
	}
	return r
}

func (p *Provider) checkMembership(ctx context.Context) upstream.CheckResult {
	r := upstream.CheckResult{Name: "membership lookup (qyapi_get_member)", Fatal: true}
	err := p.callOAPI(ctx, "/topapi/user/getbyunionid", map[string]string{"unionid": checkUnionID}, nil)
	var oe *OAPIError
	switch {
	case err == nil, errors.As(err, &oe) && oe.code() == oapiNotMember:
		r.OK, r.Detail = true, "allowed"
	default:
		err = p.oapiFailure("look up a unionid in corp "+p.cfg.CorpID, err)
		r.Detail = err.Error()
		r.Fatal = errors.Is(err, upstream.ErrMisconfigured) || !(errors.As(err, &oe) && oe.throttled())
	}
	return r
}
