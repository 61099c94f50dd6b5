package zhezhengding

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dingoidc/dingoidc/upstream"
)

var _ upstream.Checker = (*Provider)(nil)

// Clock skews the check reports: beyond clockFatal the gateway refuses
// signed calls (it rejects timestamps off by minutes), beyond clockWarn it
// soon may.
const (
	clockWarn  = 30 * time.Second
	clockFatal = 2 * time.Minute
)

// Check implements upstream.Checker: the login page's answer to
// dingoidc's callback (无权限访问 when its domain is not registered for
// app_code), each key pair's app token, the gateway's clock against
// ours, and with enrich the organisation lookups' permission.
func (p *Provider) Check(ctx context.Context, req upstream.CheckRequest) []upstream.CheckResult {
	out := []upstream.CheckResult{p.checkLoginPage(ctx, req)}
	out = append(out, p.checkToken(ctx, "app token (scan-login pair app_key)", p.scan))
	if p.inApp != nil {
		out = append(out, p.checkToken(ctx, "app token (in-app pair inapp_app_key)", p.inApp))
	}
	out = append(out, p.checkClock(ctx))
	if p.cfg.Enrich {
		out = append(out, p.checkOrgs(ctx))
	}
	return out
}

func (p *Provider) checkLoginPage(ctx context.Context, req upstream.CheckRequest) upstream.CheckResult {
	r := upstream.CheckResult{Name: "login page (app_code, callback domain)", Fatal: true}
	u, err := p.LoginURL(ctx, upstream.LoginRequest{State: "dingoidc-check", RedirectURI: req.RedirectURI})
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	status, body, _, err := p.get(ctx, u)
	switch {
	case err != nil:
		r.Detail = fmt.Sprintf("login_host %s is unreachable from here: %v", p.cfg.LoginHost, err)
	case strings.Contains(body, "无权限访问"):
		r.Detail = fmt.Sprintf("the login page refuses app_code %q with redirect_uri %s (无权限访问): register the domain %s "+
			"as the app's callback domain, and check app_code (the 应用标识, not the AppKey)", p.cfg.AppCode, req.RedirectURI, hostOf(req.RedirectURI))
	case status != http.StatusOK:
		r.Detail = fmt.Sprintf("the login page answered HTTP %d", status)
	default:
		r.OK, r.Detail = true, "the QR page accepts app_code and dingoidc's callback"
	}
	return r
}

func (p *Provider) checkToken(ctx context.Context, name string, s *tokenSource) upstream.CheckResult {
	r := upstream.CheckResult{Name: name, Fatal: true}
	if _, _, err := s.fetch(ctx); err != nil {
		r.Detail = err.Error()
		if refusedConfig(err) {
			r.Detail += ": the key pair (or the clock) is wrong"
		}
		return r
	}
	r.OK, r.Detail = true, "the gateway issued a token"
	return r
}

// checkClock compares the gateway's Date header with this server's clock
// (plus clock_offset).
func (p *Provider) checkClock(ctx context.Context) upstream.CheckResult {
	r := upstream.CheckResult{Name: "clock (gateway against ours, clock_offset)"}
	_, _, hdr, err := p.get(ctx, p.cfg.APIHost+tokenPath)
	if err != nil {
		r.Fatal, r.Detail = true, fmt.Sprintf("api_host %s is unreachable from here: %v", p.cfg.APIHost, err)
		return r
	}
	theirs, err := http.ParseTime(hdr.Get("Date"))
	if err != nil {
		r.OK, r.Detail = true, "not checked: the gateway sends no Date header"
		return r
	}
	ours := p.now().Add(p.cfg.ClockOffset)
	skew := theirs.Sub(ours).Round(time.Second)
	abs := skew
	if abs < 0 {
		abs = -abs
	}
	switch {
	case abs > clockFatal:
		r.Fatal = true
		r.Detail = fmt.Sprintf("the gateway's clock is %s from ours (with clock_offset %s): it refuses such signatures; "+
			"fix this server's clock, or set clock_offset to %s", skew, p.cfg.ClockOffset, (p.cfg.ClockOffset + skew).Round(time.Second))
	case abs > clockWarn:
		r.Detail = fmt.Sprintf("the gateway's clock is %s from ours (with clock_offset %s); consider clock_offset %s",
			skew, p.cfg.ClockOffset, (p.cfg.ClockOffset + skew).Round(time.Second))
	default:
		r.OK, r.Detail = true, fmt.Sprintf("within %s of the gateway's", abs)
	}
	return r
}

// checkOrgs probes the organisation lookups with an organisation code that
// does not exist: a permission error (300037) is answered all the same.
func (p *Provider) checkOrgs(ctx context.Context) upstream.CheckResult {
	r := upstream.CheckResult{Name: "organisation lookups (enrich, pair " + p.orgPair().app + ")"}
	if len(p.cfg.AllowedTenants) == 0 {
		r.OK, r.Detail = true, "not checked: the probe needs a tenant (allowed_tenants)"
		return r
	}
	_, err := p.orgPair().c.call(ctx, http.MethodPost, organizationsPath, url.Values{
		"organizationCodes": {"GO_dingoidc_check"},
		"tenantId":          {strconv.FormatInt(p.cfg.AllowedTenants[0], 10)},
	})
	if err != nil {
		r.Detail = err.Error() + ": people will log in without groups"
		if p.inApp == nil {
			r.Detail += "; real integrations use the in-app pair (inapp_app_key) here"
		}
		return r
	}
	r.OK, r.Detail = true, "allowed"
	return r
}

// get fetches u without following redirects and returns the status, the
// start of the body and the headers.
func (p *Provider) get(ctx context.Context, u string) (int, string, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, "", nil, err
	}
	resp, err := p.scan.c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(b), resp.Header, nil
}

func hostOf(u string) string {
	if x, err := url.Parse(u); err == nil {
		return x.Hostname()
	}
	return u
}
