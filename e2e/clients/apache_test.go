package clients

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"
)

const apacheModules = "/usr/lib/apache2/modules"

// TestApacheModAuthOpenIDC runs Apache with Debian's mod_auth_openidc
// protecting a page (apache/httpd.conf.tmpl): the browser asks for the
// page, is sent through dingoidc and the DingTalk simulator, and ends on
// the page, which shows the claims mod_auth_openidc passed to it. Then
// mod_auth_openidc's logout goes through dingoidc's end_session.
func TestApacheModAuthOpenIDC(t *testing.T) {
	const install = "apt-get install apache2 libapache2-mod-auth-openidc"
	requireTool(t, install, "apache2", filepath.Join(apacheModules, "mod_auth_openidc.so"))

	port := env.ports["apache"]
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	// Not t.TempDir: Apache's user must be able to reach it when the
	// test runs as root.
	dir, err := os.MkdirTemp("", "dingoidc-e2e-apache-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	caFile := filepath.Join(dir, "ca.pem")
	if ca, err := os.ReadFile(env.caFile); err != nil || os.WriteFile(caFile, ca, 0o644) != nil {
		t.Fatal("copy CA", err)
	}
	if err := os.CopyFS(filepath.Join(dir, "htdocs"), os.DirFS("apache/htdocs")); err != nil {
		t.Fatal(err)
	}
	vals := map[string]any{
		"Dir": dir, "Port": port, "Modules": apacheModules, "Issuer": env.issuer,
		"Secret": clientSecret("apache"), "Passphrase": rand.Text(), "CAFile": caFile,
	}
	if os.Geteuid() == 0 { // Apache refuses to serve as root
		u, err := user.Lookup("www-data")
		if err != nil {
			u, err = user.Lookup("nobody")
		}
		if err != nil {
			t.Fatal(err)
		}
		g, _ := user.LookupGroupId(u.Gid)
		vals["Unixd"], vals["User"], vals["Group"] = true, u.Username, g.Name
	}
	tmpl := template.Must(template.ParseFiles("apache/httpd.conf.tmpl"))
	conf := filepath.Join(dir, "httpd.conf")
	f, err := os.Create(conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := tmpl.Execute(f, vals); err != nil {
		t.Fatal(err)
	}
	f.Close()

	cmd := exec.Command("apache2", "-X", "-f", conf)
	cmd.Env = append(os.Environ(), "APACHE_RUN_DIR="+dir, "APACHE_LOCK_DIR="+dir, "APACHE_LOG_DIR="+dir)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = writerFunc(out.WriteString), writerFunc(out.WriteString)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	errorLog := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return out.String() + string(b)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("apache output and error.log:\n%s", errorLog())
		}
	})
	waitHTTP(t, base+"/loggedout.html", done)

	b := newBrowser(t, "")
	resp, page := b.login(base + "/protected/claims.shtml")
	if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != base+"/protected/claims.shtml" {
		t.Fatalf("login ended at %s %s:\n%.800s", resp.Status, resp.Request.URL, page)
	}
	got := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(page))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			got[k] = v
		}
	}
	for k, want := range map[string]string{
		"REMOTE_USER":                   wantLogin,
		"OIDC_CLAIM_sub":                wantSub,
		"OIDC_CLAIM_name":               wantName,
		"OIDC_CLAIM_preferred_username": wantLogin,
		"OIDC_CLAIM_email":              wantEmail,
		"OIDC_CLAIM_groups":             wantGroup,
		"OIDC_CLAIM_iss":                env.issuer,
	} {
		if !strings.Contains(","+got[k]+",", ","+want+",") {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if v := got["OIDC_CLAIM_email_verified"]; v != "1" && v != "0" && v != "true" && v != "false" {
		t.Errorf("OIDC_CLAIM_email_verified = %q, want a boolean", v)
	}

	// The session holds: the page again, without dingoidc.
	resp, _ = b.get(base + "/protected/claims.shtml")
	if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != base+"/protected/claims.shtml" {
		t.Errorf("second visit ended at %s %s", resp.Status, resp.Request.URL)
	}

	// Logout: mod_auth_openidc → dingoidc end_session (id_token_hint) →
	// back to the page named in ?logout=.
	back := base + "/loggedout.html"
	resp, page = b.get(base + "/protected/redirect_uri?logout=" + url.QueryEscape(back))
	if resp.StatusCode != http.StatusOK || resp.Request.URL.String() != back {
		t.Fatalf("logout ended at %s %s:\n%.500s\ndingoidc log tail:\n%s", resp.Status, resp.Request.URL, page, logTail())
	}
	resp, page = b.get(base + "/protected/claims.shtml")
	if !strings.Contains(page, "upstream=dingtalk") {
		t.Errorf("after logout the protected page did not ask to log in again: %s %s", resp.Status, resp.Request.URL)
	}
}

// waitHTTP waits until u answers, or the process behind it ends.
func waitHTTP(t *testing.T, u string, exited <-chan struct{}) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("server for %s exited", u)
		default:
		}
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			return
		}
	}
	t.Fatalf("%s did not answer within 30s", u)
}

type writerFunc func(string)

func (w writerFunc) Write(p []byte) (int, error) { w(string(p)); return len(p), nil }
