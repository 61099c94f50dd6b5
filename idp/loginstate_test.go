package idp_test

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"golang.org/x/oauth2"

	"github.com/dingoidc/dingoidc/upstream"
)

// TestUpstreamStateSingleUseOnFailure: a failed code exchange ends the
// attempt: the same state and login cookie cannot drive another upstream
// call, even with a genuine code, and the error page's one click starts a
// new attempt that succeeds. An unreachable upstream keeps the state, so
// reloading the callback after the outage works.
func TestUpstreamStateSingleUseOnFailure(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	app := e.rp("app", testSecret)
	e.up.AutoApprove = ""
	cbURL := mustURL(e.issuer + "/login/dev/callback")

	// start begins a login in a new browser and returns it with the
	// upstream's state and redirect_uri.
	start := func() (*browser, string, string) {
		b := e.browser()
		resp, _ := b.get(app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		q := resp.Request.URL.Query()
		return b, q.Get("state"), q.Get("redirect_uri")
	}
	withCode := func(state, redirect, code string) string {
		return redirect + "?" + url.Values{"state": {state}, "code": {code}}.Encode()
	}

	b, state, redirect := start()
	cookies := b.hc.Jar.Cookies(cbURL)
	resp, body := b.get(withCode(state, redirect, "made-up-code"))
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `data-error="code_expired"`) {
		t.Fatalf("bogus code: %d %.300s", resp.StatusCode, body)
	}
	retry := regexp.MustCompile(`id="retry" href="([^"]+)"`).FindStringSubmatch(body)
	if retry == nil {
		t.Fatalf("no retry link: %.500s", body)
	}

	// The same state and cookie again, now with a genuine code: refused
	// before the upstream is asked.
	b.hc.Jar.SetCookies(cbURL, cookies)
	genuine, err := e.up.Approve("10001", state, redirect)
	if err != nil {
		t.Fatal(err)
	}
	resp, body = b.get(genuine)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `data-error="login_invalid"`) {
		t.Fatalf("state reused after a failed exchange: %d %.300s", resp.StatusCode, body)
	}
	if e.up.Exchanges != 0 {
		t.Errorf("the upstream was asked %d times with a used state", e.up.Exchanges)
	}

	// One click on the error page starts again; that attempt logs in.
	resp, _ = b.get(e.issuer + html.UnescapeString(retry[1]))
	q := resp.Request.URL.Query()
	cb, err := e.up.Approve("10001", q.Get("state"), q.Get("redirect_uri"))
	if err != nil {
		t.Fatal(err)
	}
	if v := b.authorize(cb); v.Get("code") == "" {
		t.Fatalf("new attempt after the retry link: %v", v)
	}

	// An unreachable upstream does not use the state up.
	b, state, redirect = start()
	cookies = b.hc.Jar.Cookies(cbURL)
	genuine, err = e.up.Approve("10002", state, redirect)
	if err != nil {
		t.Fatal(err)
	}
	e.up.FailNextExchange(fmt.Errorf("exchange code: %w: connection refused", upstream.ErrUnavailable))
	if resp, body := b.get(genuine); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("upstream outage: %d %.300s", resp.StatusCode, body)
	}
	b.hc.Jar.SetCookies(cbURL, cookies) // the reload of a kept login cookie
	if v := b.authorize(genuine); v.Get("code") == "" {
		t.Fatalf("reload after the outage: %v", v)
	}
}

// TestUpstreamStateConcurrentCallbacks: the same callback sent many times
// at once (a replayed state and cookie) logs in once, and every other copy
// is refused before the upstream is asked (login_invalid, not the
// upstream's code_expired).
func TestUpstreamStateConcurrentCallbacks(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	app := e.rp("app", testSecret)
	e.up.AutoApprove = ""
	b := e.browser()
	resp, _ := b.get(app.conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	q := resp.Request.URL.Query()
	cookies := b.hc.Jar.Cookies(mustURL(e.issuer + "/login/dev/callback"))
	cb, err := e.up.Approve("10001", q.Get("state"), q.Get("redirect_uri"))
	if err != nil {
		t.Fatal(err)
	}
	type answer struct {
		status int
		body   string
	}
	const n = 10
	answers := make(chan answer, n)
	hc := *e.ts.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, cb, nil)
			for _, c := range cookies {
				req.AddCookie(c)
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			answers <- answer{resp.StatusCode, string(body)}
		})
	}
	wg.Wait()
	close(answers)
	logins := 0
	for a := range answers {
		switch {
		case a.status == http.StatusFound:
			logins++
		case a.status != http.StatusBadRequest || !strings.Contains(a.body, `data-error="login_invalid"`):
			t.Errorf("a concurrent copy: %d %.200s", a.status, a.body)
		}
	}
	if logins != 1 {
		t.Errorf("%d of %d concurrent callbacks logged in, want 1", logins, n)
	}
}
