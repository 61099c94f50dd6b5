package web

import (
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

// TestConsoleShell renders the shell in both languages and each state.
func TestConsoleShell(t *testing.T) {
	c, err := NewConsole()
	if err != nil {
		t.Fatal(err)
	}
	for _, loc := range Locales {
		for _, st := range []ConsoleState{ConsoleApp, ConsoleSignIn, ConsoleRefused} {
			w := httptest.NewRecorder()
			if err := c.Render(w, 200, ConsolePage{Locale: loc, State: st, Account: "张伟 <zzd_1>", Base: "/sso"}); err != nil {
				t.Fatal(err)
			}
			body := w.Body.String()
			for _, want := range []string{
				`<html lang="` + loc + `">`,
				`data-state="` + string(st) + `"`,
				`<script src="/sso/admin/static/admin.js?v=` + c.version + `" defer></script>`,
				`<link rel="stylesheet" href="/sso/admin/static/admin.css?v=` + c.version + `">`,
				`<script type="application/json" id="console-messages">{`,
				c.Message(loc, "nav_apps"),
			} {
				if !strings.Contains(body, want) {
					t.Errorf("%s %s: shell lacks %q", loc, st, want)
				}
			}
			switch st {
			case ConsoleSignIn:
				if !strings.Contains(body, `href="/sso/admin/login?ui_locales=`+loc+`"`) || !strings.Contains(body, c.Message(loc, "signin_button")) {
					t.Errorf("%s: sign-in page has no login button:\n%s", loc, body)
				}
			case ConsoleRefused:
				// The account is named, escaped.
				if !strings.Contains(body, `<strong id="account">张伟 &lt;zzd_1&gt;</strong>`) || !strings.Contains(body, `href="/sso/admin/logout"`) {
					t.Errorf("%s: refusal page does not name the account or offer logout:\n%s", loc, body)
				}
			}
			// No inline script (the CSP allows none): every <script> is
			// either external or a JSON data block.
			for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1) {
				if !strings.Contains(tag, ` src="`) && !strings.Contains(tag, `type="application/json"`) {
					t.Errorf("%s: inline script %s", loc, tag)
				}
			}
			if strings.Contains(body, ` style="`) || strings.Contains(body, "<style") {
				t.Errorf("%s: inline style (the console's CSP allows style sheets from 'self' only)", loc)
			}
		}
	}
	if c.Message("zh-CN", "nav_people") == c.Message("en", "nav_people") {
		t.Error("zh-CN and en texts are the same")
	}
}

// TestConsoleMessages: a key missing in one language, or named by the
// template but missing, fails at start.
func TestConsoleMessages(t *testing.T) {
	read := func(name string) []byte {
		b, err := consoleFiles.ReadFile("console/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	fsys := func(en, zh, html string) fstest.MapFS {
		return fstest.MapFS{
			"console/en.json": {Data: []byte(en)}, "console/zh-CN.json": {Data: []byte(zh)},
			"console/admin.html": {Data: []byte(html)}, "console/admin.js": {Data: read("admin.js")}, "console/admin.css": {Data: read("admin.css")},
		}
	}
	if _, err := newConsoleFrom(fsys(`{"a":"A","b":"B"}`, `{"a":"甲"}`, `{{t "a"}}`)); err == nil || !strings.Contains(err.Error(), `"b" missing in zh-CN`) {
		t.Errorf("missing zh-CN message: err = %v", err)
	}
	if _, err := newConsoleFrom(fsys(`{"a":"A"}`, `{"a":"甲"}`, `{{t "nope"}}`)); err == nil || !strings.Contains(err.Error(), `no message "nope"`) {
		t.Errorf("template names a missing message: err = %v", err)
	}
	if _, err := newConsoleFrom(fsys(`{"a":"A"}`, `{"a":"甲"}`, `{{t "a"}}`)); err != nil {
		t.Errorf("good files: %v", err)
	}
}

// TestConsoleScriptMessages: every text key admin.js asks for exists.
func TestConsoleScriptMessages(t *testing.T) {
	c, err := NewConsole()
	if err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile("console/admin.js")
	if err != nil {
		t.Fatal(err)
	}
	keys := regexp.MustCompile(`\btf?\("([a-z0-9_]+)"`).FindAllSubmatch(js, -1)
	// Keys passed as arguments (field labels, column heads, confirmations).
	keys = append(keys, regexp.MustCompile(`"((?:col|f|err|app|nav|person|people|result|key|health|secret|keys|revoke|disable|enable)_[a-z0-9_]+)"`).FindAllSubmatch(js, -1)...)
	if len(keys) < 50 {
		t.Fatalf("found only %d message keys in admin.js; the pattern is broken", len(keys))
	}
	for _, k := range keys {
		key := string(k[1])
		if strings.HasSuffix(key, "_") {
			continue // a prefix the script completes (result_, key_)
		}
		if c.Message("en", key) == "" {
			t.Errorf("admin.js uses message %q, which the console's message files lack", key)
		}
	}
}
