package zzdsim

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dingoidc/dingoidc/upstream/simkit"
)

// Server simulates the two Zhezhengding (浙政钉 / 专有钉钉) hosts as one
// http.Handler: point both login_host and api_host at it (their paths do
// not collide). Wire formats follow docs/upstreams.md §1 (Zhezhengding).
// Create it with
// New; it is safe for concurrent use.
//
// Login host (browser pages):
//
//	GET      /oauth2/auth.htm    the QR page: a fake QR code and the test
//	                             people to "scan" as; or "无权限访问"
//	GET|POST /simulator/approve  the scan: the query of auth.htm plus
//	                             account=<accountId> → 302
//	                             redirect_uri?code=…&state=…, or in
//	                             embedMode a page calling
//	                             window.parent.postMessage({code, state}, "*");
//	                             with omit_state=1 (or Options.OmitEmbedState)
//	                             the message is {code} alone, as real pages
//	                             that embed the QR may send it
//	GET|POST /simulator/inapp    dd.getAuthCode (免登) stand-in:
//	                             app=<in-app AppKey>&account=<accountId> →
//	                             {"code":"…","auth_code":"…"} (the same code)
//
// API host (HMAC-signed; HTTP 200 with the two-layer envelope):
//
//	GET|POST /gettoken.json
//	POST     /rpc/oauth2/getuserinfo_bycode.json     access_token, code
//	POST     /rpc/oauth2/dingtalk_app_user.json      access_token, auth_code
//	POST     /mozi/employee/listEmployeePositionsByEmployeeCode
//	POST     /mozi/organization/listOrganizationsByCodes
//	POST     /mozi/employee/getEmployeeByCode
//
// Choices where the real service is undocumented or unknown:
//   - auth.htm also answers "无权限访问" (HTTP 200) when response_type is
//     not code, scope not get_user_info, authType not QRCODE, or
//     redirect_uri not an absolute http(s) URL. It never redirects to an
//     unvalidated redirect_uri.
//   - A callback domain matches the redirect_uri's host name (any port), or
//     its host:port when the domain names a port; an entry given as a URL
//     counts by its host. No wildcards, no subdomains.
//   - In embedMode without a state, the posted object is {code} alone, as
//     the full page's redirect then has no state parameter.
//   - Codes are bound to the pair that may redeem them (the scan app's
//     AppKey, or the in-app AppKey for auth_code); redeeming one with
//     another pair's token answers 240111 and leaves it. A scan code is not
//     accepted by dingtalk_app_user.json, nor an auth_code by
//     getuserinfo_bycode.json.
//   - Tokens are per pair; a token of another pair, or none, is 240133.
//     A repeat gettoken within the lifetime returns the same token with the
//     remaining whole seconds as expiresIn (a number); it does not extend it.
//   - Gateway errors (no content): MissingParameter OPF-B001-05-16-0001
//     (apiKey, or an X-Hmac-Auth-* header other than IP and MAC, missing),
//     InvalidSignatureVersion -0002 (version not 1.0),
//     InvalidAccessKeyId.NotFound -0003 (unknown apiKey),
//     UnsupportedHTTPMethod -0004, InvalidTimeStamp.Format -0006,
//     InvalidTimeStamp.Expired -0007 (outside ClockWindow),
//     SignatureNonceUsed -0008 (nonce seen for this apiKey within
//     2×ClockWindow) and the captured SignatureDoesNotMatch -0009, also
//     for appkey/appsecret parameters of gettoken that do not match.
//     Checks run in that order; a nonce is recorded only once the signature
//     is good. POST parameters are read from the form body only.
//   - The mozi APIs need no access_token (the gateway signature
//     authenticates; a token sent is ignored). A missing or malformed
//     required parameter answers business error 400 ("tenantId不能为空").
//     listEmployeePositionsByEmployeeCode defaults employeePositionType to
//     EMPLOYEE_POSITION_MAIN and employeePositionStatus to A, as the SDK
//     documents; EMPLOYEE_POSITION_ALL lists adjunct positions too. An
//     unknown employee or organisation is left out (empty list), and
//     getEmployeeByCode answers success without data.
//   - openid (in-app) is derived from the in-app AppKey and accountId.
//   - Faults: Delay and ServerError touch the API host only (the pages keep
//     working); ServerError answers HTTP 502 with Tengine's HTML page.
//     ExpireCodes answers 240111 for every code (after the token check);
//     BadAuth fails every signature check with SignatureDoesNotMatch.
type Server struct {
	mux         *http.ServeMux
	now         func() time.Time
	codeTTL     time.Duration
	tokenTTL    time.Duration
	window      time.Duration
	autoApprove int64
	omitState   bool
	faults      *simkit.Faults

	apps     map[string]*App        // app code → app
	creds    map[string]*credential // AppKey (scan or in-app) → credential
	people   *People
	accounts map[int64]*Account
	tenants  map[int64]*Tenant

	requestSeq atomic.Uint32
	requestPID string // 5 hex digits of the requestId

	mu            sync.Mutex
	codes         map[string]issuedCode  // code → grant
	tokens        map[string]issuedToken // access token → token
	revoked       map[string]string      // revoked access token → its refusal
	credToken     map[string]string      // AppKey → its current access token
	nonces        [2]map[string]struct{} // current and previous generation
	nonceGenStart time.Time
	lastCodeSweep time.Time
}

var _ http.Handler = (*Server)(nil)

// credential is one AppKey/AppSecret pair.
type credential struct {
	appCode string
	key     string
	secret  string
	inApp   bool // the in-app (免登) pair
}

// issuedCode is an issued scan code or in-app auth_code.
type issuedCode struct {
	appKey    string // the pair that may redeem it
	accountID int64
	expires   time.Time
}

type issuedToken struct {
	appKey  string
	expires time.Time
}

// maxCodes bounds the outstanding codes; beyond it (after dropping the
// expired ones) new scans are refused.
const maxCodes = 100_000

// New validates opts and returns the simulator.
func New(opts Options) (*Server, error) {
	z := &Server{
		now:         opts.Now,
		codeTTL:     opts.CodeTTL,
		tokenTTL:    opts.TokenTTL,
		window:      opts.ClockWindow,
		autoApprove: opts.AutoApprove,
		omitState:   opts.OmitEmbedState,
		faults:      opts.Faults,
		people:      opts.People,
		apps:        map[string]*App{},
		creds:       map[string]*credential{},
		accounts:    map[int64]*Account{},
		tenants:     map[int64]*Tenant{},
		codes:       map[string]issuedCode{},
		tokens:      map[string]issuedToken{},
		revoked:     map[string]string{},
		credToken:   map[string]string{},
		nonces:      [2]map[string]struct{}{{}, {}},
		requestPID:  fmt.Sprintf("%05x", os.Getpid()&0xfffff),
	}
	if z.now == nil {
		z.now = time.Now
	}
	if z.codeTTL <= 0 {
		z.codeTTL = 5 * time.Minute
	}
	if z.tokenTTL <= 0 {
		z.tokenTTL = 7200 * time.Second
	}
	if z.window <= 0 {
		z.window = 5 * time.Minute
	}
	if z.faults == nil {
		z.faults = new(simkit.Faults)
	}
	if z.people == nil {
		p, err := DefaultPeople()
		if err != nil {
			return nil, err
		}
		z.people = p
	} else if err := z.people.validate(); err != nil {
		return nil, fmt.Errorf("zhezhengding simulator: people: %w", err)
	}
	for i := range z.people.Tenants {
		t := &z.people.Tenants[i]
		z.tenants[t.TenantID] = t
	}
	for i := range z.people.Accounts {
		a := &z.people.Accounts[i]
		z.accounts[a.AccountID] = a
	}

	var errs []error
	if len(opts.Apps) == 0 {
		errs = append(errs, errors.New("no apps"))
	}
	addCred := func(c *credential) {
		switch {
		case c.key == "" || c.secret == "":
			errs = append(errs, fmt.Errorf("app %q: key and secret are required", c.appCode))
		case z.creds[c.key] != nil:
			errs = append(errs, fmt.Errorf("app %q: AppKey %q is used twice", c.appCode, c.key))
		default:
			z.creds[c.key] = c
		}
	}
	for code, app := range opts.Apps {
		if code == "" {
			errs = append(errs, errors.New("an app has an empty app code"))
		}
		app.CallbackDomains = append([]string(nil), app.CallbackDomains...)
		if len(app.CallbackDomains) == 0 {
			errs = append(errs, fmt.Errorf("app %q: no callback domains", code))
		}
		for _, d := range app.CallbackDomains {
			if normalizeDomain(d) == "" {
				errs = append(errs, fmt.Errorf("app %q: bad callback domain %q", code, d))
			}
		}
		z.apps[code] = &app
		addCred(&credential{appCode: code, key: app.AppKey, secret: app.AppSecret})
		if app.InAppKey != "" || app.InAppSecret != "" {
			addCred(&credential{appCode: code, key: app.InAppKey, secret: app.InAppSecret, inApp: true})
		}
	}
	if z.autoApprove != 0 && z.accounts[z.autoApprove] == nil {
		errs = append(errs, fmt.Errorf("auto-approve: no account %d", z.autoApprove))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("zhezhengding simulator: %w", err)
	}
	z.routes()
	return z, nil
}

// routes lists every path the simulator serves.
func (z *Server) routes() {
	m := http.NewServeMux()
	// Login host.
	m.HandleFunc("GET /oauth2/auth.htm", z.authPage)
	m.HandleFunc("/simulator/approve", z.approve)
	m.HandleFunc("/simulator/inapp", z.inAppCode)
	m.HandleFunc(simkit.JSAPIPrefix, z.handleJSAPI)
	// API host.
	m.Handle("/gettoken.json", z.api(getOrPost, z.getToken))
	m.Handle("/rpc/oauth2/getuserinfo_bycode.json", z.api(post, z.userByScanCode))
	m.Handle("/rpc/oauth2/dingtalk_app_user.json", z.api(post, z.userByInAppCode))
	m.Handle("/mozi/employee/listEmployeePositionsByEmployeeCode", z.api(post, z.employeePositions))
	m.Handle("/mozi/organization/listOrganizationsByCodes", z.api(post, z.organizationsByCodes))
	m.Handle("/mozi/employee/getEmployeeByCode", z.api(post, z.employeeByCode))
	z.mux = m
}

// ServeHTTP serves both the login host's and the API host's paths. The
// Date header is the simulator's clock (Options.Now), as a gateway's is
// its own.
func (z *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Date", z.now().UTC().Format(http.TimeFormat))
	z.mux.ServeHTTP(w, r)
}

// Faults returns the simulator's fault knobs (those of the options, or
// its private set).
func (z *Server) Faults() *simkit.Faults { return z.faults }

// People returns the directory the simulator serves. Do not modify it.
func (z *Server) People() *People { return z.people }

// issueCode records a new single-use code for the pair appKey.
func (z *Server) issueCode(appKey string, accountID int64) (string, error) {
	code := randomHex(20)
	now := z.now()
	z.mu.Lock()
	defer z.mu.Unlock()
	if len(z.codes) >= maxCodes || now.Sub(z.lastCodeSweep) >= time.Minute {
		for c, g := range z.codes {
			if !now.Before(g.expires) {
				delete(z.codes, c)
			}
		}
		z.lastCodeSweep = now
	}
	if len(z.codes) >= maxCodes {
		return "", errors.New("too many outstanding codes")
	}
	z.codes[code] = issuedCode{appKey: appKey, accountID: accountID, expires: now.Add(z.codeTTL)}
	return code, nil
}

// redeemCode consumes code if appKey may redeem it and it has not expired.
func (z *Server) redeemCode(appKey, code string) (*Account, bool) {
	now := z.now()
	z.mu.Lock()
	defer z.mu.Unlock()
	g, ok := z.codes[code]
	if !ok || g.appKey != appKey {
		return nil, false
	}
	delete(z.codes, code)
	if !now.Before(g.expires) {
		return nil, false
	}
	return z.accounts[g.accountID], true
}

// appToken returns the pair's access token, issuing one when there is none
// or it expired, and its remaining lifetime in whole seconds.
func (z *Server) appToken(appKey string) (string, int64) {
	now := z.now()
	z.mu.Lock()
	defer z.mu.Unlock()
	if tok, ok := z.credToken[appKey]; ok {
		if left := int64(z.tokens[tok].expires.Sub(now) / time.Second); left > 0 {
			return tok, left
		}
		delete(z.tokens, tok)
	}
	tok := "app_" + randomHex(16)
	z.tokens[tok] = issuedToken{appKey: appKey, expires: now.Add(z.tokenTTL)}
	z.credToken[appKey] = tok
	return tok, int64(z.tokenTTL / time.Second)
}

// tokenRefusal returns "" when tok is a live access token of the pair
// appKey, else the business error answering it: 240133, or what
// RevokeTokens said for a revoked token.
func (z *Server) tokenRefusal(appKey, tok string) string {
	now := z.now()
	z.mu.Lock()
	defer z.mu.Unlock()
	t, ok := z.tokens[tok]
	switch {
	case ok && t.appKey == appKey && now.Before(t.expires):
		return ""
	case z.revoked[tok] != "":
		return z.revoked[tok]
	}
	return bizTokenInvalid
}

// RevokeTokens drops every app access token issued so far, as the real
// gateway does on its own (a reset app secret, a token store lost): the
// next token call issues a new one. A call with a revoked token answers
// code, "240133" (expired or unknown) or "250027" (accessToken not
// correct); both are seen from the real gateway (docs/upstreams.md §1).
func (z *Server) RevokeTokens(code string) {
	if code != bizTokenWrong {
		code = bizTokenInvalid
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	for tok := range z.tokens {
		z.revoked[tok] = code
	}
	clear(z.tokens)
	clear(z.credToken)
}

// useNonce records nonce for appKey and reports false if it was seen within
// the last 2×ClockWindow (at least). Nonces live in two generations
// rotated every 2×ClockWindow, so memory is bounded by the request rate.
func (z *Server) useNonce(appKey, nonce string) bool {
	now := z.now()
	key := appKey + "\x00" + nonce
	z.mu.Lock()
	defer z.mu.Unlock()
	if age := now.Sub(z.nonceGenStart); age >= 2*z.window || age < 0 {
		if age >= 4*z.window || age < 0 {
			z.nonces[1] = map[string]struct{}{}
		} else {
			z.nonces[1] = z.nonces[0]
		}
		z.nonces[0] = map[string]struct{}{}
		z.nonceGenStart = now
	}
	for _, gen := range z.nonces {
		if _, seen := gen[key]; seen {
			return false
		}
	}
	z.nonces[0][key] = struct{}{}
	return true
}

// requestID returns an id shaped like the gateway's: 8 hex digits of an IP
// address, the 13-digit time in ms, a 4-digit sequence, 5 hex digits.
func (z *Server) requestID() string {
	seq := 1000 + z.requestSeq.Add(1)%9000
	return "7f000001" + strconv.FormatInt(z.now().UnixMilli(), 10) + strconv.Itoa(int(seq)) + z.requestPID
}

// randomHex returns n random bytes as lowercase hex.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil { // crypto/rand does not fail on supported platforms
		panic(err)
	}
	return hex.EncodeToString(b)
}

// normalizeDomain turns a callback-domain entry into a lowercase host or
// host:port, or "" if it has none.
func normalizeDomain(d string) string {
	d = strings.TrimSpace(d)
	if i := strings.Index(d, "://"); i >= 0 {
		d = d[i+3:]
	}
	if i := strings.IndexAny(d, "/?#"); i >= 0 {
		d = d[:i]
	}
	return strings.ToLower(strings.TrimSuffix(d, "."))
}
