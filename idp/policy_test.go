package idp_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/dingoidc/dingoidc/idp"
	"github.com/dingoidc/dingoidc/storage"
)

// browserBehindProxy is a browser whose requests arrive through a reverse
// proxy (the test server's peer, 127.0.0.1, is a trusted proxy) that says
// it forwarded for ip, with the given User-Agent.
func (e *env) browserBehindProxy(ip, ua string) *browser {
	b := e.browser()
	base := b.hc.Transport
	b.hc.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("X-Forwarded-For", "198.51.100.99, "+ip) // the left one is the client's claim: never believed
		r.Header.Set("User-Agent", ua)
		return base.RoundTrip(r)
	})
	return b
}

// href finds the link with the given id on a page, resolved against the
// page's URL.
func href(t *testing.T, resp *http.Response, page, id string) string {
	t.Helper()
	m := regexp.MustCompile(`id="` + id + `" href="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no link #%s on the page: %.600s", id, page)
	}
	u, err := resp.Request.URL.Parse(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return u.String()
}

// TestAccessPolicyGroups is the end-to-end test of issue 10 items 4 and
// 5, on both backends: a client with allowed_groups admits a person in
// the group and refuses one outside it, at login (a scan, the SSO session,
// prompt=none) and at refresh (the person moved out of the group between
// logins: the fake upstream's people fixture changes); the refused person
// can switch account or go back to the app, which gets access_denied; and
// the sign-in log has a row for each kind of event, with the address the
// trusted proxy forwarded for and the user agent.
func TestAccessPolicyGroups(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			e := newEnv(t, be.open(t), func(e *env) { e.cfg.TrustedProxies = []string{"127.0.0.1/32", "::1"} })
			e.addClient(storage.Client{ID: "ops", Name: "运维平台", RedirectURIs: []string{testRedirect}, PostLogoutRedirectURIs: []string{testLogout},
				AllowedGroups: []string{"运维组", "值班组"}}, testSecret)
			ops, app := e.rp("ops", testSecret), e.rp("app", testSecret)
			const (
				zhangsanIP, lisiIP = "203.0.113.7", "2001:db8::42"
				zhangsanUA, lisiUA = "Mozilla/5.0 (Windows NT 10.0) 张三的浏览器", "Mozilla/5.0 (iPhone) DingTalk-less"
			)
			zhangsan := e.browserBehindProxy(zhangsanIP, zhangsanUA)
			lisi := e.browserBehindProxy(lisiIP, lisiUA)

			// 张三 (运维组) is admitted, by a scan and then through the SSO session.
			e.up.AutoApprove = "10001"
			zsOps := ops.login(zhangsan)
			if zsOps.token.RefreshToken == "" {
				t.Fatal("no refresh token")
			}
			scans := e.up.Exchanges
			app.login(zhangsan)
			if e.up.Exchanges != scans {
				t.Fatal("the second login scanned again instead of reusing the SSO session")
			}

			// 李四 (开发组) is refused: a page naming the app and the person.
			e.up.AutoApprove = "10002"
			authURL := ops.conf.AuthCodeURL("st-lisi", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
			resp, page := lisi.get(authURL)
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, `data-error="refused_policy_groups"`) ||
				!strings.Contains(page, `id="refused-app">运维平台<`) || !strings.Contains(page, `id="refused-person">李四<`) {
				t.Fatalf("refusal page: %d %.800s", resp.StatusCode, page)
			}
			// Going back: access_denied at the app's redirect_uri, with its state.
			back, _ := lisi.get(href(t, resp, page, "back-to-app"))
			loc, _ := url.Parse(back.Header.Get("Location"))
			if back.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), testRedirect+"?") ||
				loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "st-lisi" {
				t.Fatalf("back to the app: %d %q", back.StatusCode, back.Header.Get("Location"))
			}
			// Another account: a new scan, not the SSO session; 张三 scans and is admitted.
			e.up.AutoApprove = "10001"
			scans = e.up.Exchanges
			sw, _ := lisi.get(href(t, resp, page, "switch-account"))
			if sw.StatusCode != http.StatusFound || !strings.Contains(sw.Header.Get("Location"), "code=") || e.up.Exchanges != scans+1 {
				t.Fatalf("switch account: %d %q (scans %d → %d)", sw.StatusCode, sw.Header.Get("Location"), scans, e.up.Exchanges)
			}

			// 李四 signs in to an unrestricted app; the SSO session does not
			// get him into ops either, and prompt=none gets access_denied.
			lisi2 := e.browserBehindProxy(lisiIP, lisiUA)
			e.up.AutoApprove = "10002"
			app.login(lisi2)
			scans = e.up.Exchanges
			if resp, page := lisi2.get(ops.conf.AuthCodeURL("st2")); resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "refused_policy_groups") {
				t.Fatalf("SSO into ops: %d %.300s", resp.StatusCode, page)
			}
			if q := lisi2.authorize(ops.conf.AuthCodeURL("st3", oauth2.SetAuthURLParam("prompt", "none"))); q.Get("error") != "access_denied" || q.Get("state") != "st3" {
				t.Fatalf("prompt=none: %v", q)
			}
			if e.up.Exchanges != scans {
				t.Fatal("a refused SSO login scanned")
			}

			// Refresh: while 张三 is in the group it works.
			status, m := refresh(e, "ops", zsOps.token.RefreshToken)
			if status != http.StatusOK {
				t.Fatalf("refresh: %d %v", status, m)
			}
			rt := m["refresh_token"].(string)
			access := &oauth2.Token{AccessToken: m["access_token"].(string), TokenType: "Bearer"}
			// 张三 moves out of 运维组 upstream; his next login (to any app)
			// brings the new groups, and the ops grant ends at its refresh.
			e.up.People[0].Attributes["groups"] = []string{"admins"}
			e.up.AutoApprove = "10001"
			app.login(e.browserBehindProxy(zhangsanIP, zhangsanUA))
			status, m = refresh(e, "ops", rt)
			if status != http.StatusBadRequest || m["error"] != "invalid_grant" {
				t.Fatalf("refresh out of the group: %d %v, want invalid_grant", status, m)
			}
			if _, err := ops.provider.UserInfo(ops.ctx, oauth2.StaticTokenSource(access)); err == nil {
				t.Error("the refused grant's access token still works at userinfo: the grant was not revoked")
			}
			if status, m = refresh(e, "ops", rt); status != http.StatusBadRequest || m["error"] != "invalid_grant" {
				t.Errorf("second refresh: %d %v", status, m)
			}

			// Logout of 张三's first browser.
			q := url.Values{"id_token_hint": {zsOps.raw}, "post_logout_redirect_uri": {testLogout}}
			if resp, _ := zhangsan.get(e.issuer + "/end_session?" + q.Encode()); resp.StatusCode != http.StatusFound {
				t.Fatalf("end_session: %d", resp.StatusCode)
			}

			// The sign-in log.
			if err := e.srv.FlushSignIns(t.Context()); err != nil {
				t.Fatal(err)
			}
			events, err := e.store.ListSignIns(t.Context(), storage.SignInFilter{})
			if err != nil {
				t.Fatal(err)
			}
			type row struct{ user, client, result, reason, ip, ua string }
			var got []row
			for i := len(events) - 1; i >= 0; i-- { // oldest first
				ev := events[i]
				if ev.Upstream != "dev" || ev.Time.IsZero() || time.Since(ev.Time) > time.Hour {
					t.Errorf("event %+v: upstream or time", ev)
				}
				got = append(got, row{ev.UserID, ev.ClientID, ev.Result, ev.Reason, ev.ClientIP, ev.UserAgent})
			}
			want := []row{
				{"dev_10001", "ops", idp.SignInSuccess, "", zhangsanIP, zhangsanUA},
				{"dev_10001", "app", idp.SignInSSO, "", zhangsanIP, zhangsanUA},
				{"dev_10002", "ops", idp.SignInRefused, idp.ReasonPolicyGroups, lisiIP, lisiUA},
				{"dev_10001", "ops", idp.SignInSuccess, "", lisiIP, lisiUA}, // the other account, in 李四's browser
				{"dev_10002", "app", idp.SignInSuccess, "", lisiIP, lisiUA},
				{"dev_10002", "ops", idp.SignInRefused, idp.ReasonPolicyGroups, lisiIP, lisiUA}, // through the SSO session
				{"dev_10002", "ops", idp.SignInRefused, idp.ReasonPolicyGroups, lisiIP, lisiUA}, // prompt=none
				{"dev_10001", "app", idp.SignInSuccess, "", zhangsanIP, zhangsanUA},
				// The token endpoint is called by the app's server (here the
				// test's HTTP client, straight from 127.0.0.1).
				{"dev_10001", "ops", idp.SignInRefreshRefused, idp.ReasonPolicyGroups, "127.0.0.1", "Go-http-client/1.1"},
				{"dev_10001", "ops", idp.SignInLogout, "", zhangsanIP, zhangsanUA},
			}
			if len(got) != len(want) {
				t.Fatalf("sign-in log has %d events, want %d:\n%+v", len(got), len(want), got)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
				}
			}
			// The filters the console and API use find them.
			refused, err := e.store.ListSignIns(t.Context(), storage.SignInFilter{Result: idp.SignInRefused, ClientIP: lisiIP})
			if err != nil || len(refused) != 3 {
				t.Errorf("refusals from %s: %d %v", lisiIP, len(refused), err)
			}

			// The operator's log lines carry the address and user agent too.
			logs := e.logs.String()
			for _, line := range []string{"login completed", "login through the SSO session", "login refused by the client's access policy", "tokens refreshed",
				"refresh refused by the client's access policy; grant revoked", "logout: SSO session ended"} {
				if !regexp.MustCompile(`"msg":"` + regexp.QuoteMeta(line) + `"[^\n]*"client_ip":"[0-9a-f.:]+"[^\n]*"user_agent":"[^"]+"`).MatchString(logs) {
					t.Errorf("no log line %q with client_ip and user_agent", line)
				}
			}
			if strings.Contains(logs, "198.51.100.99") {
				t.Error("the address the client claimed (left of the trusted proxy's) was believed")
			}
		})
	}
}

// TestAccessPolicyTenants: allowed_tenants admits 浙政钉 accounts of the
// listed tenant (their tenant_id claim, from the simulator's people
// fixture) and refuses another tenant's; both backends run the groups
// test, this one runs on sqlite.
func TestAccessPolicyTenants(t *testing.T) {
	s := &sims{}
	e := newEnv(t, backends()[0].open(t), withSimulators(s, false, dtAppMain, dtSecretMain))
	e.addClient(storage.Client{ID: "zzdops", Name: "政务运维", RedirectURIs: []string{testRedirect}, Upstreams: []string{"zzd"},
		AllowedTenants: []string{"196729"}}, testSecret)
	app := e.rp("zzdops", testSecret)
	l := simLogin(t, app, e.browser(), "71453920") // 张伟, tenant 196729
	if l.claims["tenant_id"] != "196729" {
		t.Fatalf("tenant_id %v", l.claims["tenant_id"])
	}
	resp, page := scanAs(t, e.browser(), app.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "100135") // 周俊, tenant 12371
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, `data-error="refused_policy_tenants"`) || !strings.Contains(page, "政务运维") {
		t.Fatalf("other tenant: %d %.500s", resp.StatusCode, page)
	}
	if err := e.srv.FlushSignIns(t.Context()); err != nil {
		t.Fatal(err)
	}
	ev, err := e.store.ListSignIns(t.Context(), storage.SignInFilter{Result: idp.SignInRefused})
	if err != nil || len(ev) != 1 || ev[0].UserID != "zzd_100135" || ev[0].Reason != idp.ReasonPolicyTenants || ev[0].Upstream != "zzd" {
		t.Fatalf("refusal not logged: %+v %v", ev, err)
	}
}
