package clients

import (
	"crypto/tls"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// zhangsanUnionID is 张三 in the DingTalk simulator's fixture: a member of
// 杭州演示科技有限公司, department 平台研发部.
const zhangsanUnionID = "QY7vA9rRRxK4nQcn6zdha8MiEiE"

// browser is a person's browser: a cookie jar, the test CA, redirects
// followed, except to a URL starting with stopAt (an RP callback that no
// server behind it serves: the test reads the code from it).
type browser struct {
	t      *testing.T
	hc     *http.Client
	stopAt string
}

var errStopped = errors.New("stopped at the callback")

func newBrowser(t *testing.T, stopAt string) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, stopAt: stopAt}
	b.hc = &http.Client{
		Jar:       jar,
		Timeout:   30 * time.Second,
		Transport: browserHeaders{&http.Transport{TLSClientConfig: &tls.Config{RootCAs: env.roots}}},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if b.stopAt != "" && strings.HasPrefix(req.URL.String(), b.stopAt) {
				return errStopped
			}
			if len(via) > 20 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
	return b
}

// get fetches u and returns the final response (body read) and its body. A
// redirect to stopAt returns that redirect.
func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.hc.Get(u)
	if err != nil && !errors.Is(err, errStopped) {
		b.t.Fatalf("GET %s: %v\ndingoidc log tail:\n%s", u, err, logTail())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// login starts at startURL (an RP's login link or protected page, or an
// authorization URL) and scans in as 张三 with the DingTalk simulator:
// dingoidc's chooser → DingTalk's QR page → the scan. It returns the last
// response: the RP's page, or the redirect to stopAt.
func (b *browser) login(startURL string) (*http.Response, string) {
	b.t.Helper()
	resp, page := b.get(startURL)
	if strings.Contains(page, "upstream=dingtalk") { // dingoidc's chooser
		resp, page = b.get(b.resolve(resp, b.find(page, `href="([^"]*upstream=dingtalk[^"]*)"`)))
	}
	scan := b.find(page, `<a href="([^"]*simulator/scan[^"]*)" data-union-id="`+zhangsanUnionID+`"`)
	return b.get(b.resolve(resp, scan))
}

// callback is the redirect to stopAt that ended a login.
func (b *browser) callback(resp *http.Response, page string) *url.URL {
	b.t.Helper()
	loc := resp.Header.Get("Location")
	if resp.StatusCode/100 != 3 || !strings.HasPrefix(loc, b.stopAt) {
		b.t.Fatalf("login did not end at %s: %s %s\n%.800s\ndingoidc log tail:\n%s", b.stopAt, resp.Status, loc, page, logTail())
	}
	u, err := url.Parse(loc)
	if err != nil {
		b.t.Fatal(err)
	}
	return u
}

func (b *browser) find(page, pattern string) string {
	b.t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no %s in page: %.1000s\ndingoidc log tail:\n%s", pattern, page, logTail())
	}
	return html.UnescapeString(m[1])
}

func (b *browser) resolve(resp *http.Response, ref string) string {
	b.t.Helper()
	u, err := resp.Request.URL.Parse(ref)
	if err != nil {
		b.t.Fatal(err)
	}
	return u.String()
}

// logTail is the end of dingoidc's log, for failure messages.
func logTail() string {
	s := env.log.String()
	if len(s) > 3000 {
		s = s[len(s)-3000:]
	}
	return s
}

// browserHeaders sends what a browser sends with a page request; some RPs
// (mod_auth_openidc) answer 401 rather than redirect anything else.
type browserHeaders struct{ rt http.RoundTripper }

func (h browserHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	r.Header.Set("User-Agent", "Mozilla/5.0 (dingoidc e2e browser)")
	return h.rt.RoundTrip(r)
}
