package idp_test

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestMisconfiguredPage: an upstream refusing dingoidc's configuration
// shows the "misconfigured" page with the request id to quote, in both
// languages' words, not "try again later" (issue 15 item 9).
func TestMisconfiguredPage(t *testing.T) {
	e, s := newSimEnv(t, false, dtAppMain, dtSecretMain)
	s.zzd.Faults().BadAuth(true)
	resp, body := scanAs(t, e.browser(), e.rp("zzdapp", testSecret).conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "71453920")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `data-error="misconfigured"`) ||
		!strings.Contains(body, `id="request-id"`) || strings.Contains(body, "稍后再试") {
		t.Fatalf("%d %.600s", resp.StatusCode, body)
	}
}

// TestCallbackReloadAfterOutage: after the upstream was unreachable, the
// login cookie is kept, so reloading the callback tries again (and logs
// in once the upstream is back) instead of claiming the login was
// completed or started in another browser (issue 15 item 9).
func TestCallbackReloadAfterOutage(t *testing.T) {
	e, s := newSimEnv(t, false, dtAppMain, dtSecretMain)
	b := e.browser()
	s.zzd.Faults().ServerError(true)
	resp, body := scanAs(t, b, e.rp("zzdapp", testSecret).conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "71453920")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `data-error="unavailable"`) {
		t.Fatalf("outage: %d %.400s", resp.StatusCode, body)
	}
	callback := resp.Request.URL.String()

	// Still down: the same page again, not "another browser".
	resp, body = b.get(callback)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, `data-error="unavailable"`) {
		t.Fatalf("reload during the outage: %d %.400s", resp.StatusCode, body)
	}
	// Back: the reload completes the login, once.
	s.zzd.Faults().ServerError(false)
	resp, body = b.get(callback)
	if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "code=") {
		t.Fatalf("reload after the outage: %d %q %.400s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	resp, body = b.get(callback)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `data-error="other_browser"`) {
		t.Errorf("a reload after the login: %d %.400s", resp.StatusCode, body)
	}
}
