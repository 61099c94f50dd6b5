package zzdsim

import (
	"time"

	"github.com/dingoidc/dingoidc/upstream/simkit"
)

// App is one app registered with the simulator, keyed by its
// app code (应用标识, the QR page's client_id).
type App struct {
	// AppKey and AppSecret are the scan-login app's pair: they sign the
	// token call and getuserinfo_bycode.
	AppKey    string
	AppSecret string
	// CallbackDomains are the redirect_uri domains the QR page accepts: a
	// host name ("sso.example.gov.cn", matching any port), a host:port
	// ("127.0.0.1:8080", matching that port only) or a URL whose host is
	// taken. Comparison is exact and case-insensitive; subdomains do not
	// match.
	CallbackDomains []string
	// InAppKey and InAppSecret are the optional pair of the app's in-app
	// (免登) micro-app, used for dingtalk_app_user.json.
	InAppKey    string
	InAppSecret string
	// ScanOrgAccess lets the scan-login pair call the organisation APIs
	// (/mozi/…); without it they answer 300037 没有组织的操作权限, as the
	// real gateway typically does (docs/upstreams.md §1).
	ScanOrgAccess bool
}

// Options configure New.
type Options struct {
	// Apps maps app code (e.g. "dingoidc_dingoa") to app. At least one.
	Apps map[string]App
	// People is the directory; nil loads DefaultPeople. It is
	// validated, kept and must not change afterwards.
	People *People
	// CodeTTL is the lifetime of scan and in-app codes (default 5m).
	CodeTTL time.Duration
	// TokenTTL is the lifetime of app access tokens (default 7200s).
	TokenTTL time.Duration
	// ClockWindow is how far X-Hmac-Auth-Timestamp may be from Now, either
	// way (default 5m). Nonces are remembered for at least twice as long.
	ClockWindow time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OmitEmbedState leaves state out of the embedded page's message
	// ({code} alone), as some real QR pages do (docs/upstreams.md §1); an
	// approval with omit_state=1 does so too.
	OmitEmbedState bool
	// AutoApprove, when non-zero, is the accountId that "scans" at once:
	// a valid auth.htm request is approved immediately (302, or the
	// postMessage page in embedMode), so a client that only follows
	// redirects completes logins.
	AutoApprove int64
	// Faults are the misbehaviour knobs; nil gets a private healthy set
	// (see Server.Faults).
	Faults *simkit.Faults
}
