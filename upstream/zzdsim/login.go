package zzdsim

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// login is a validated auth.htm request.
type login struct {
	appCode  string
	app      *App
	redirect *url.URL
	state    string // "" when absent
	embed    bool
	params   url.Values // the auth.htm parameters, carried to approve
	// omitState leaves state out of the embedded page's message.
	omitState bool
}

// parseLogin validates the QR page's parameters. It returns nil when the
// real login host would answer "无权限访问": unknown app code, a
// redirect_uri outside the app's callback domains, or (a simulator
// choice) a missing or wrong response_type, scope or authType.
func (z *Server) parseLogin(q url.Values) *login {
	app := z.apps[q.Get("client_id")]
	if app == nil || q.Get("response_type") != "code" || q.Get("scope") != "get_user_info" || q.Get("authType") != "QRCODE" {
		return nil
	}
	u, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !domainAllowed(u, app.CallbackDomains) {
		return nil
	}
	params := url.Values{}
	for _, k := range []string{"response_type", "client_id", "redirect_uri", "scope", "authType", "embedMode", "state"} {
		if v := q.Get(k); v != "" {
			params.Set(k, v)
		}
	}
	return &login{
		appCode:  q.Get("client_id"),
		app:      app,
		redirect: u,
		state:    q.Get("state"),
		embed:    q.Get("embedMode") == "true",
		params:   params,
	}
}

// domainAllowed reports whether u's host is one of domains (see
// App.CallbackDomains).
func domainAllowed(u *url.URL, domains []string) bool {
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	for _, d := range domains {
		d = normalizeDomain(d)
		if h, p, err := net.SplitHostPort(d); err == nil {
			if h == host && p == port {
				return true
			}
		} else if strings.Trim(d, "[]") == host {
			return true
		}
	}
	return false
}

// authPage serves GET /oauth2/auth.htm: the QR page with the test people,
// "无权限访问", or with AutoApprove the scan's result at once.
func (z *Server) authPage(w http.ResponseWriter, r *http.Request) {
	l := z.parseLogin(r.URL.Query())
	if l == nil {
		z.noPermission(w)
		return
	}
	if z.autoApprove != 0 {
		z.complete(w, l, z.accounts[z.autoApprove])
		return
	}
	type person struct {
		*Account
		Link string
	}
	type tenant struct {
		Name   string
		People []person
	}
	var tenants []tenant
	for _, t := range z.people.Tenants {
		tt := tenant{Name: t.Name}
		for i := range z.people.Accounts {
			a := &z.people.Accounts[i]
			if a.TenantID != t.TenantID {
				continue
			}
			q := url.Values{}
			for k, v := range l.params {
				q[k] = v
			}
			q.Set("account", strconv.FormatInt(a.AccountID, 10))
			// Relative, so the page also works behind a path prefix.
			tt.People = append(tt.People, person{a, "../simulator/approve?" + q.Encode()})
		}
		if len(tt.People) > 0 {
			tenants = append(tenants, tt)
		}
	}
	z.render(w, http.StatusOK, qrPage, map[string]any{
		"Embed":   l.embed,
		"AppCode": l.appCode,
		"QR":      template.HTML(fakeQR(randomHex(16))),
		"Tenants": tenants,
	})
}

// approve serves /simulator/approve: the person identified by account
// scanned and confirmed the login of the auth.htm parameters.
func (z *Server) approve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	l := z.parseLogin(r.Form)
	if l == nil {
		z.noPermission(w)
		return
	}
	id, _ := strconv.ParseInt(r.Form.Get("account"), 10, 64)
	a := z.accounts[id]
	if a == nil {
		http.Error(w, "simulator: unknown account "+strconv.Quote(r.Form.Get("account")), http.StatusBadRequest)
		return
	}
	if r.Form.Get("omit_state") == "1" {
		l.omitState = true
	}
	z.complete(w, l, a)
}

// complete issues a scan code for a and hands it over: 302 to the
// redirect_uri, or in embedMode a page that posts {code, state} to the
// parent frame.
func (z *Server) complete(w http.ResponseWriter, l *login, a *Account) {
	code, err := z.issueCode(l.app.AppKey, a.AccountID)
	if err != nil {
		http.Error(w, "simulator: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if l.embed {
		z.render(w, http.StatusOK, postMessagePage, map[string]any{
			"Code": code, "State": l.state, "HasState": l.state != "" && !l.omitState && !z.omitState,
		})
		return
	}
	u := *l.redirect
	extra := "code=" + url.QueryEscape(code)
	if l.state != "" {
		extra += "&state=" + url.QueryEscape(l.state)
	}
	if u.RawQuery == "" {
		u.RawQuery = extra
	} else {
		u.RawQuery += "&" + extra
	}
	u.ForceQuery = false
	w.Header().Set("Location", u.String())
	w.WriteHeader(http.StatusFound)
}

// noPermission writes the login host's refusal: HTTP 200, as the real one.
func (z *Server) noPermission(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(noPermissionPage))
}

// inAppCode serves /simulator/inapp, the stand-in for the 浙政钉 app's
// dd.getAuthCode: app is the in-app pair's AppKey, account the accountId
// (default: AutoApprove). It answers {"code": c, "auth_code": c} (mobile
// and PC names of the same 5-minute, single-use code) with CORS open, so a
// JSAPI stand-in on another origin can fetch it.
func (z *Server) inAppCode(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cache-Control", "no-store")
	fail := func(status int, msg string) {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		fail(http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, "bad request")
		return
	}
	c := z.creds[r.Form.Get("app")]
	if c == nil || !c.inApp {
		fail(http.StatusBadRequest, "unknown in-app AppKey")
		return
	}
	id := z.autoApprove
	if s := r.Form.Get("account"); s != "" {
		id, _ = strconv.ParseInt(s, 10, 64)
	}
	if z.accounts[id] == nil {
		fail(http.StatusBadRequest, "unknown account")
		return
	}
	code, err := z.issueCode(c.key, id)
	if err != nil {
		fail(http.StatusServiceUnavailable, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "auth_code": code})
}

// render executes t into a buffer first, so a failure is a clean 500.
func (z *Server) render(w http.ResponseWriter, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		http.Error(w, "simulator: render page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fakeQR draws a QR-looking 25×25 SVG (finder patterns and noise derived
// from seed), 200×200 px like the real one. It encodes nothing.
func fakeQR(seed string) string {
	const n = 25
	var dark [n][n]bool
	h := sha256.Sum256([]byte(seed))
	stream := h[:]
	bit := 0
	for y := range n {
		for x := range n {
			if bit/8 >= len(stream) {
				next := sha256.Sum256(stream)
				stream = append(stream, next[:]...)
			}
			dark[y][x] = stream[bit/8]>>(bit%8)&1 == 1
			bit++
		}
	}
	finder := func(ox, oy int) {
		for y := -1; y <= 7; y++ {
			for x := -1; x <= 7; x++ {
				if ox+x < 0 || oy+y < 0 || ox+x >= n || oy+y >= n {
					continue
				}
				d := x >= 0 && x <= 6 && y >= 0 && y <= 6 &&
					(x == 0 || x == 6 || y == 0 || y == 6 || (x >= 2 && x <= 4 && y >= 2 && y <= 4))
				dark[oy+y][ox+x] = d
			}
		}
	}
	finder(0, 0)
	finder(n-7, 0)
	finder(0, n-7)
	var d strings.Builder
	for y := range n {
		for x := 0; x < n; x++ {
			if !dark[y][x] {
				continue
			}
			run := 1
			for x+run < n && dark[y][x+run] {
				run++
			}
			fmt.Fprintf(&d, "M%d %dh%dv1h-%dz", x+2, y+2, run, run)
			x += run - 1
		}
	}
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200" viewBox="0 0 %d %d" shape-rendering="crispEdges" role="img" aria-label="二维码"><rect width="100%%" height="100%%" fill="#fff"/><path fill="#000" d="%s"/></svg>`, n+4, n+4, d.String())
}

// noPermissionPage is the login host's refusal for an unknown app or a
// redirect_uri outside the callback domains; its text is exactly 无权限访问.
const noPermissionPage = `<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>无权限访问</title>
<style>body{margin:0;font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;color:#333;background:#fff}.error{padding-top:120px;text-align:center;font-size:16px}</style>
</head>
<body>
<div class="error">无权限访问</div>
</body>
</html>
`

var qrPage = template.Must(template.New("qr").Parse(`<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>扫码登录</title>
<style>
body{margin:0;font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;color:#333;background:{{if .Embed}}#fff{{else}}#f2f4f7{{end}}}
.box{margin:{{if .Embed}}0 auto{{else}}60px auto{{end}};width:{{if .Embed}}auto{{else}}420px{{end}};background:#fff;padding:{{if .Embed}}8px{{else}}32px{{end}};text-align:center;{{if not .Embed}}border-radius:8px;box-shadow:0 2px 12px rgba(0,0,0,.08){{end}}}
.qr{width:200px;height:200px;margin:8px auto}
.tip{color:#666;font-size:14px;margin:8px 0 16px}
.sim{text-align:left;font-size:13px;border-top:1px dashed #ccc;padding-top:8px}
.sim h2{font-size:13px;margin:8px 0 4px;color:#999}
.sim a{display:block;padding:4px 8px;margin:2px 0;border:1px solid #d9e2f2;border-radius:4px;color:#1a5bd6;text-decoration:none}
.sim a:hover{background:#eef3fc}
.sim small{color:#999}
{{if .Embed}}/* In the frame (360×360 or smaller): every test person visible without scrolling. */
.box{padding:4px}
.qr{width:96px;height:96px;margin:0 auto}
.qr svg{width:96px;height:96px}
.tip{font-size:12px;margin:2px 0 4px}
.sim{font-size:12px;padding-top:2px}
.sim p{margin:0}
.sim h2{font-size:11px;margin:3px 0 1px}
.sim a{display:inline-block;padding:1px 5px;margin:1px 0}
.sim small{display:none}
{{end}}</style>
</head>
<body>
<div class="box">
{{if not .Embed}}<h1 style="font-size:20px;font-weight:500">扫码登录</h1>{{end}}
<div class="qr">{{.QR}}</div>
<p class="tip">请使用浙政钉扫描二维码登录</p>
<div class="sim">
<p>模拟器：选择一位测试人员“扫码”</p>
{{range .Tenants}}<h2>{{.Name}}</h2>
{{range .People}}<a href="{{.Link}}" data-account-id="{{.AccountID}}">{{.LastName}} <small>{{.Account}} · {{.AccountID}}{{if .SuperAdmin}} · 超级管理员{{end}}{{if eq .Status "F"}} · 已停用{{end}}</small></a>
{{end}}{{end}}</div>
</div>
</body>
</html>
`))

var postMessagePage = template.Must(template.New("postmessage").Parse(`<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="UTF-8">
<title>登录成功</title>
</head>
<body>
<p style="text-align:center;font-family:sans-serif;color:#666">登录成功</p>
<script>
window.parent.postMessage({code: {{.Code}}{{if .HasState}}, state: {{.State}}{{end}}}, "*");
</script>
</body>
</html>
`))
