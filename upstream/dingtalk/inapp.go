package dingtalk

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/dingoidc/dingoidc/upstream"
)

// oapiBadInAppCode is getuserinfo's answer to an in-app code that is
// unknown, expired or used ("不存在的临时授权码").
const oapiBadInAppCode = 40078

// FromApp implements upstream.InApp: DingTalk's web view says DingTalk in
// its User-Agent ("AliApp(DingTalk/7.6.0)"). 浙政钉's app, built on
// DingTalk, says so too, but also TaurusApp: such a request is not ours.
func (p *Provider) FromApp(r *http.Request) bool {
	ua := r.UserAgent()
	return strings.Contains(ua, "DingTalk") && !strings.Contains(ua, "TaurusApp")
}

// InAppScript implements upstream.InApp: in-app login needs the
// organisation (CorpID), whose code dd.getAuthCode asks for.
func (p *Provider) InAppScript() (scriptURL, corpID string, ok bool) {
	if !p.cfg.InApp || p.cfg.CorpID == "" {
		return "", "", false
	}
	return p.cfg.JSAPIURL, p.cfg.CorpID, true
}

// exchangeInApp redeems the code of dd.getAuthCode({corpId}) (DingTalk's
// in-app login, 免登): {oapi}/topapi/v2/user/getuserinfo with the app
// token names the person, who then goes through the same membership and
// profile checks as after a scan. The identity's AMR is ["app"].
func (p *Provider) exchangeInApp(ctx context.Context, code string) (*upstream.Identity, error) {
	const op = "exchange in-app code"
	switch {
	case !p.cfg.InApp:
		// Never redeem an in-app code on an upstream that did not enable
		// in-app login: a code harvested from a person's app must not log
		// them in here.
		return nil, fmt.Errorf("%s: %w: in-app login is not enabled (inapp: true)", op, upstream.ErrCodeInvalid)
	case p.cfg.CorpID == "":
		return nil, fmt.Errorf("%s: %w: in-app login needs corp_id", op, upstream.ErrUnavailable)
	case len(code) > maxCodeLen || hasSpaceOrControl(code):
		return nil, fmt.Errorf("%s: %w: malformed auth_code", op, upstream.ErrCodeInvalid)
	}
	var out struct {
		UserID  flexString `json:"userid"`
		UnionID flexString `json:"unionid"`
		Name    flexString `json:"name"`
	}
	err := p.callOAPI(ctx, "/topapi/v2/user/getuserinfo", map[string]string{"code": code}, &out)
	var oe *OAPIError
	if errors.As(err, &oe) && oe.code() == oapiBadInAppCode {
		return nil, fmt.Errorf("%s: %w: %w", op, upstream.ErrCodeInvalid, oe)
	}
	if err != nil {
		return nil, p.oapiFailure(op, err)
	}
	unionID := clean(string(out.UnionID))
	if unionID == "" {
		return nil, fmt.Errorf("%s: %w: %w: no unionid", op, upstream.ErrUnavailable, errShape)
	}
	attrs := map[string]any{"unionId": unionID}
	if n := clean(string(out.Name)); n != "" {
		attrs["name"] = n
	}
	if err := p.member(ctx, unionID, attrs); err != nil {
		return nil, err
	}
	if u := p.usernameFor(ctx, attrs); u != "" {
		attrs["username"] = u
	}
	return &upstream.Identity{ExternalID: unionID, Attributes: attrs, AMR: []string{"app"}}, nil
}

// checkScriptURL accepts an absolute https URL (http on a loopback
// address), with a path and query but no user info or fragment.
func checkScriptURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %q", s)
	}
	switch {
	case u.Host == "" || u.User != nil || u.Fragment != "":
		return fmt.Errorf("want an absolute https URL of a script, got %q", s)
	case u.Scheme == "https", u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("want https (http only for loopback), got %q", s)
}
