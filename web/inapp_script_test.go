package web

import (
	"encoding/json"
	"os"
	"os/exec"
	"testing"
)

// TestInAppScriptBehaviour runs static/inapp.js under node with a fake DOM
// and the shapes of dd the real JSAPIs have. Skipped without node; the
// browser tests cover the page in Chromium.
func TestInAppScriptBehaviour(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is not installed (CI installs it: see .ci/run)")
		}
		t.Skip("node not installed (apt-get install nodejs)")
	}
	const cb = "https://sso.example/login/dt/callback"
	cases := []struct {
		mode, navigated, result string
		status                  string // shown on failure
	}{
		{"callback", cb + "?auth_code=c0de&state=ST.SIG", "ok", ""},    // DingTalk: getAuthCode({success})
		{"unified", cb + "?auth_code=un1&state=ST.SIG", "ok", ""},      // dingtalk-jsapi's unified getAuthCode: {authCode}
		{"promise_pc", cb + "?auth_code=pc0de&state=ST.SIG", "ok", ""}, // 浙政钉 on PC: a Promise of {auth_code}
		{"legacy", cb + "?auth_code=leg&state=ST.SIG", "ok", ""},       // dd.runtime.permission.requestAuthCode
		{"fail", "", "failed", "FAILED"},                               // the app refuses
		{"none", "", "failed", "NOJSAPI"},                              // no JSAPI loaded: says so
		{"empty", "", "failed", "FAILED"},                              // an answer without a code
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			out, err := exec.CommandContext(t.Context(), node, "testdata/inapp_harness.js", "static/inapp.js", c.mode).CombinedOutput()
			if err != nil {
				t.Fatalf("node: %v\n%s", err, out)
			}
			var got struct {
				Navigated *string
				Result    string
				Status    string
				Fallback  bool
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			nav := ""
			if got.Navigated != nil {
				nav = *got.Navigated
			}
			if nav != c.navigated || got.Result != c.result {
				t.Errorf("navigated %q result %q, want %q %q", nav, got.Result, c.navigated, c.result)
			}
			if c.result == "failed" && (got.Status != c.status || !got.Fallback) {
				t.Errorf("failure not shown: %+v", got)
			}
		})
	}
}
