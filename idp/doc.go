// Package idp is the OpenID Provider: zitadel/oidc's op package does the
// protocol, this package supplies its storage adapter, the QR-scan login and
// the operational endpoints. docs/architecture.md has the whole picture and
// the database statements each step costs.
//
// Login (authorization code flow):
//
//  1. /authorize: op checks the request and calls CreateAuthRequest
//     (opstorage.go), which stores nothing: the request is sealed into its
//     own ID (authrequest.go, seal.go) and op answers with a redirect to
//     /login, which loginInline (logininline.go) holds back to run step 2
//     in the same request: one round trip fewer.
//  2. /login (login.go) reuses the SSO session when it satisfies prompt,
//     max_age and id_token_hint, answers prompt=none, shows the chooser or
//     the in-app page (pages.go, inapp.go), or starts an upstream: a signed
//     state goes to DingTalk or 浙政钉, a login cookie binds it to this
//     browser (cookies.go).
//  3. /login/{upstream}/callback (callback.go) checks state and cookie,
//     claims the state (one code exchange per state, loginstate.go),
//     asks the upstream for the identity, maps its claims (claims.go),
//     saves the user and the SSO session and completes the request: a new
//     sealed ID carrying subject, auth time, session and browser.
//     Where a login completes, by a scan or the SSO session (complete,
//     callback.go), the client's access policy admits or refuses the
//     person and the sign-in log records it (policy.go, signinlog.go).
//  4. In the same request op issues the code, which is the completed
//     sealed request encrypted again, and sends the browser to the app.
//     (Older versions redirected through /authorize/callback first;
//     that route stays for rolling upgrades, guarded by checkBrowser,
//     cookies.go, which lets a completed request through only in the
//     browser that started it.)
//
// Tokens:
//
//   - Code exchange (tokens.go): AuthRequestByCode opens the code; redeem
//     creates the grant in one statement that also consumes the code, so a
//     second use fails and revokes what the first issued.
//   - Refresh (refresh.go): rotating refresh tokens whose next secret is
//     derived from the presented one, so concurrent refreshes and retries
//     within RefreshGrace get the same answer; a family ends RefreshMaxTTL
//     after the scan.
//   - Userinfo and introspection (opstorage.go, tokens.go): liveGrant finds
//     the grant behind an access token and checks it is still live.
//   - Logout (logout.go): end_session ends the SSO session in this browser
//     and revokes its grants; it returns only to a registered
//     post_logout_redirect_uri.
//
// Legacy DingTalk SSO API (legacy.go): /dingtalk/authorize turns the old
// service's request into an authorization request marked Legacy, so the
// login above runs unchanged; the upstream returns through
// /dingtalk/callback, and /dingtalk/token and /dingtalk/userinfo reuse
// redeem, rotate and liveGrant.
//
// Around them: signinlog.go queues sign-in events and writes them in
// batches, branding.go puts the organisation's name, logo and colour on
// the pages, clients.go caches registered apps (and answers CORS),
// adminapi*.go serve the admin API (docs/admin-api.md) and
// adminsession.go the console's login through this provider,
// middleware.go holds the HTTP wrappers, metrics*.go the Prometheus
// registry (routes, logins, tokens, upstream API calls, database pool),
// ratelimit.go the token buckets in front of login, callback and token
// endpoint, config.go the Config with its defaults and rules, and keys/
// the signing keys.
package idp
