package main

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// signalWriter closes ready on its first write (serve --dev prints where
// to go once it listens).
type signalWriter struct {
	once  sync.Once
	ready chan struct{}
}

func (s *signalWriter) Write(p []byte) (int, error) {
	s.once.Do(func() { close(s.ready) })
	return len(p), nil
}

// TestServeDevInApp: serve --dev's upstreams do in-app (免登) login through
// the simulators' JSAPI stand-in, for a person whose login page opens in
// the DingTalk or 浙政钉 app (recognised by the User-Agent).
func TestServeDevInApp(t *testing.T) {
	port := freePort(t)
	env := map[string]string{"DINGOIDC_DATA_DIR": t.TempDir(), "DINGOIDC_LISTEN": "127.0.0.1:" + strconv.Itoa(port)}
	ctx, cancel := context.WithCancel(t.Context())
	stdout := &signalWriter{ready: make(chan struct{})}
	var stderr lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--dev"}, func(k string) string { return env[k] }, strings.NewReader(""), stdout, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case <-stdout.ready:
	case err := <-done:
		t.Fatalf("serve exited: %v\n%s", err, stderr.String())
	case <-time.After(15 * time.Second):
		t.Fatalf("serve did not come up: %s", stderr.String())
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)

	for _, c := range []struct{ name, ua, app, sub string }{
		{"DingTalk app", "Mozilla/5.0 (iPhone) AliApp(DingTalk/7.6.0) com.laiwang.DingTalk/34000000", "dingtalk", "dingtalk_"},
		{"浙政钉 app", "Mozilla/5.0 (Linux; Android 13) AliApp(TaurusApp/2.9.0) TaurusApp/2.9.0", "zhezhengding", "zzd_"},
	} {
		t.Run(c.name, func(t *testing.T) {
			jar, _ := cookiejar.New(nil)
			hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
			get := func(u string) (*http.Response, string) {
				t.Helper()
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
				req.Header.Set("User-Agent", c.ua)
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatalf("GET %s: %v", u, err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp, string(b)
			}
			attr := func(page, name string) string {
				t.Helper()
				m := regexp.MustCompile(name + `="([^"]*)"`).FindStringSubmatch(page)
				if m == nil {
					t.Fatalf("no %s in %.600s", name, page)
				}
				return html.UnescapeString(m[1])
			}
			resp, page := get(base + "/demo/login")
			if resp.StatusCode != http.StatusOK || attr(page, "data-page") != "inapp" || attr(page, "data-app") != c.app {
				t.Fatalf("not the in-app page: %d %.600s", resp.StatusCode, page)
			}
			// What the stand-in's dd.getAuthCode({corpId}) does.
			script, err := resp.Request.URL.Parse(attr(page, "<script src"))
			if err != nil || !strings.HasSuffix(script.Path, "/simulator/jsapi/dd.js") {
				t.Fatalf("JSAPI script %v (%v)", script, err)
			}
			q := script.Query()
			q.Set("corpId", attr(page, "data-corp-id"))
			script.Path, script.RawQuery = strings.TrimSuffix(script.Path, "dd.js")+"code", q.Encode()
			resp, body := get(script.String())
			var code struct{ Code string }
			if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &code) != nil || code.Code == "" {
				t.Fatalf("getAuthCode: %d %s", resp.StatusCode, body)
			}
			cb := attr(page, "data-callback") + "?" + url.Values{"auth_code": {code.Code}, "state": {attr(page, "data-state")}}.Encode()
			resp, page = get(cb)
			if resp.StatusCode != http.StatusOK || !strings.Contains(page, c.sub) || !regexp.MustCompile(`&#34;amr&#34;: \[\s*&#34;app&#34;\s*\]`).MatchString(page) {
				t.Errorf("demo result: %d %.800s", resp.StatusCode, page)
			}
		})
	}
}
