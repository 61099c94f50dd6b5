package zhezhengding

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/dingoidc/dingoidc/upstream"
)

// DefaultJSAPIURL is the 浙政钉 (gdt) JSAPI script the in-app (免登) login
// page loads when Config.JSAPIURL is empty: 1.9.43, a version production
// pages load (the published package warns below 1.9.24; docs/upstreams.md
// §1, In-app login).
const DefaultJSAPIURL = "https://g.alicdn.com/gdt/jsapi/1.9.43/index.js"

var _ upstream.InApp = (*Provider)(nil)

// FromApp implements upstream.InApp: the 浙政钉 app's web view has
// TaurusApp in its User-Agent (and often DingTalk too).
func (p *Provider) FromApp(r *http.Request) bool {
	return strings.Contains(r.UserAgent(), "TaurusApp")
}

// InAppScript implements upstream.InApp: in-app login works when the
// in-app micro-app's pair (InAppKey) is configured. Its dd.getAuthCode
// answers code on mobile and auth_code on PC; the page sends either as
// auth_code, which Exchange redeems at dingtalk_app_user.json.
func (p *Provider) InAppScript() (scriptURL, corpID string, ok bool) {
	if p.inApp == nil {
		return "", "", false
	}
	return p.cfg.JSAPIURL, p.cfg.InAppCorpID, true
}

// validateInApp checks jsapi_url (an absolute http(s) URL of a script,
// query allowed) and inapp_corp_id.
func (c *Config) validateInApp(add func(key, format string, args ...any)) {
	if c.JSAPIURL != "" {
		u, err := url.Parse(c.JSAPIURL)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			add("jsapi_url", "%q must be an absolute https:// URL", c.JSAPIURL)
		case u.Scheme == "http" && !isLoopbackHost(u.Hostname()):
			// The script runs in the login page and sees the codes: plain
			// http would let anyone on the path inject it.
			add("jsapi_url", "%q must use https (http only on a loopback address)", c.JSAPIURL)
		case u.User != nil || u.Fragment != "":
			add("jsapi_url", "must not hold credentials or a fragment")
		}
	}
	if strings.ContainsFunc(c.InAppCorpID, isSpaceOrControl) {
		add("inapp_corp_id", "must not contain spaces or control characters")
	}
	if c.InAppCorpID != "" && c.InAppKey == "" {
		add("inapp_corp_id", "needs inapp_app_key (in-app login)")
	}
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
