package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/upstream/zhezhengding"
)

// TestSimulate runs `dingoidc simulate`, fetches the QR page and an app
// token as a client would, then stops it.
func TestSimulate(t *testing.T) {
	tests := []struct {
		name     string
		flags    []string
		appCode  string
		key      string
		secret   string
		redirect string
		auto     bool   // the QR page approves at once
		json     bool   // the banner is JSON
		stdout   string // printed at start
	}{
		{
			name: "demo app", appCode: simDemoAppCode, key: simDemoAppKey, secret: simDemoAppSecret,
			redirect: "http://127.0.0.1:8080/callback", stdout: simDemoAppSecret,
		},
		{
			name:    "own app, auto-approve",
			flags:   []string{"--app-code", "bridge_dingoa", "--app-key", "bridge-Key00001", "--app-secret", "s3cr3t", "--callback-domain", "sso.example.gov.cn", "--auto-approve", "71453920"},
			appCode: "bridge_dingoa", key: "bridge-Key00001", secret: "s3cr3t",
			redirect: "https://sso.example.gov.cn/cb", auto: true, stdout: "(as given)",
		},
		{
			name: "JSON banner", flags: []string{"--json", "--inapp-key", ""}, appCode: simDemoAppCode, key: simDemoAppKey, secret: simDemoAppSecret,
			redirect: "http://localhost/cb", json: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := freePort(t)
			base := "http://127.0.0.1:" + strconv.Itoa(port)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var stdout, stderr lockedBuffer
			done := make(chan error, 1)
			args := append([]string{"simulate", "--listen", "127.0.0.1:" + strconv.Itoa(port)}, tt.flags...)
			go func() {
				done <- run(ctx, args, func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
			}()

			authURL := base + "/oauth2/auth.htm?" + url.Values{
				"response_type": {"code"}, "client_id": {tt.appCode}, "redirect_uri": {tt.redirect},
				"scope": {"get_user_info"}, "authType": {"QRCODE"}, "state": {"xyz"},
			}.Encode()
			hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			var resp *http.Response
			var body string
			for deadline := time.Now().Add(10 * time.Second); ; {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, authURL, nil)
				r, err := hc.Do(req)
				if err == nil {
					b, _ := io.ReadAll(r.Body)
					r.Body.Close()
					resp, body = r, string(b)
					break
				}
				select {
				case err := <-done:
					t.Fatalf("simulate ended: %v\n%s", err, stderr.String())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("simulator not up: %v", err)
				}
				time.Sleep(20 * time.Millisecond)
			}
			if tt.auto {
				if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound ||
					!regexp.MustCompile(`^`+regexp.QuoteMeta(tt.redirect)+`\?code=[0-9a-f]{40}&state=xyz$`).MatchString(loc) {
					t.Errorf("auto-approve: HTTP %d %q", resp.StatusCode, loc)
				}
			} else if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<svg") || !strings.Contains(body, "张伟") {
				t.Errorf("QR page: HTTP %d %s", resp.StatusCode, body)
			}

			// A signed token call with the printed credentials.
			now := time.Now()
			ts, nonce := zhezhengding.Timestamp(now), zhezhengding.Nonce(now)
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/gettoken.json", nil)
			req.Header.Set(zhezhengding.HeaderAPIKey, tt.key)
			req.Header.Set(zhezhengding.HeaderTimestamp, ts)
			req.Header.Set(zhezhengding.HeaderVersion, zhezhengding.SignatureVersion)
			req.Header.Set(zhezhengding.HeaderNonce, nonce)
			req.Header.Set(zhezhengding.HeaderSignature, zhezhengding.Sign(tt.secret, http.MethodGet, ts, nonce, "/gettoken.json", nil))
			r, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var tok struct {
				Success bool `json:"success"`
				Content struct {
					Data struct {
						AccessToken string `json:"accessToken"`
						ExpiresIn   int    `json:"expiresIn"`
					} `json:"data"`
				} `json:"content"`
			}
			err = json.NewDecoder(r.Body).Decode(&tok)
			r.Body.Close()
			if err != nil || !tok.Success || !regexp.MustCompile(`^app_[0-9a-f]{32}$`).MatchString(tok.Content.Data.AccessToken) || tok.Content.Data.ExpiresIn != 7200 {
				t.Errorf("token: %v %+v", err, tok)
			}

			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("simulate: %v\n%s", err, stderr.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatal("simulate did not stop")
			}
			out := stdout.String()
			if tt.json {
				var b simulateBanner
				if err := json.Unmarshal([]byte(out), &b); err != nil {
					t.Fatalf("banner: %v\n%s", err, out)
				}
				if b.LoginHost != base || b.APIHost != base || b.AppKey != tt.key || b.AppSecret != tt.secret ||
					b.InAppKey != "" || len(b.People) < 5 {
					t.Errorf("banner %+v", b)
				}
				return
			}
			for _, want := range []string{"login_host", base, tt.appCode, tt.key, tt.stdout, "71453920", "super-admin"} {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			if tt.secret != simDemoAppSecret && strings.Contains(out, tt.secret) {
				t.Error("stdout shows the secret given on the command line")
			}
		})
	}
}

func TestSimulateErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad auto-approve", []string{"simulate", "--auto-approve", "zhang"}, "is not an accountId"},
		{"unknown auto-approve account", []string{"simulate", "--listen", "127.0.0.1:0", "--auto-approve", "1"}, "no account 1"},
		{"positional argument", []string{"simulate", "extra"}, `unexpected argument "extra"`},
		{"bad listen address", []string{"simulate", "--listen", "nowhere"}, "listen on nowhere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, fakeEnv{}, tt.args...)
			if r.err == nil || !strings.Contains(r.err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", r.err, tt.want)
			}
		})
	}
}

func TestSimulateDemoCredentials(t *testing.T) {
	alnum40 := regexp.MustCompile(`^[A-Za-z0-9]{40}$`)
	for _, s := range []string{simDemoAppSecret, simDemoInAppSecret} {
		if !alnum40.MatchString(s) {
			t.Errorf("demo secret %q is not 40 alphanumerics", s)
		}
	}
	keyShape := regexp.MustCompile(`^[A-Za-z0-9]+-[A-Za-z0-9]+$`)
	for _, k := range []string{simDemoAppKey, simDemoInAppKey} {
		if !keyShape.MatchString(k) {
			t.Errorf("demo key %q is not <readable>-<random>", k)
		}
	}
}
