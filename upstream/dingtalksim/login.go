package dingtalksim

import (
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// authReq is a validated /oauth2/auth request.
type authReq struct {
	app       *App
	appKey    string
	redirect  *url.URL
	state     string
	scopeCorp bool   // scope includes corpid
	corpID    string // corpId parameter, optional
	params    url.Values
}

// pageErr is an error the QR page shows instead of redirecting.
type pageErr struct {
	Code    string // machine-readable, in <meta name="dingtalk-simulator-error">
	Message string
}

// parseAuth validates the QR page parameters. It never trusts redirect_uri
// before the app and its domains are known.
func (d *Server) parseAuth(q url.Values) (*authReq, *pageErr) {
	key := q.Get("client_id")
	app := d.apps[key]
	if app == nil {
		return nil, &pageErr{"invalidClientId", "应用不存在或已被停用，请检查 client_id 参数。"}
	}
	u, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || !domainAllowed(app, u) {
		return nil, &pageErr{"invalidRedirectUri", "redirect_uri 与应用配置的回调域名不一致，无法登录。"}
	}
	if q.Get("response_type") != "code" {
		return nil, &pageErr{"invalidResponseType", "参数错误：response_type 只支持 code。"}
	}
	scopes := strings.Fields(q.Get("scope"))
	if !slices.Contains(scopes, "openid") {
		return nil, &pageErr{"invalidScope", "参数错误：scope 须包含 openid。"}
	}
	p := url.Values{}
	for _, k := range []string{"redirect_uri", "response_type", "client_id", "scope", "state", "prompt", "corpId"} {
		if v, ok := q[k]; ok {
			p[k] = v[:1]
		}
	}
	return &authReq{
		app:       app,
		appKey:    key,
		redirect:  u,
		state:     q.Get("state"),
		scopeCorp: slices.Contains(scopes, "corpid"),
		corpID:    q.Get("corpId"),
		params:    p,
	}, nil
}

// domainAllowed matches the redirect_uri against the app's callback domains.
func domainAllowed(app *App, u *url.URL) bool {
	host, name := strings.ToLower(u.Host), strings.ToLower(u.Hostname())
	for _, dom := range app.RedirectDomains {
		dom = normDomain(dom)
		if dom != "" && (dom == name || dom == host) {
			return true
		}
	}
	return false
}

// normDomain turns a configured redirect domain into a lowercase host or
// host:port ("https://a.example/x" → "a.example", "[::1]" → "::1").
func normDomain(dom string) string {
	dom = strings.ToLower(strings.TrimSpace(dom))
	if strings.Contains(dom, "://") {
		u, err := url.Parse(dom)
		if err != nil {
			return ""
		}
		dom = u.Host
		if u.Port() == "" {
			dom = u.Hostname()
		}
	}
	if strings.HasPrefix(dom, "[") && strings.HasSuffix(dom, "]") {
		dom = dom[1 : len(dom)-1]
	}
	return dom
}

// handleAuth serves the QR page, or scans at once under AutoApprove.
func (d *Server) handleAuth(w http.ResponseWriter, r *http.Request) {
	req, perr := d.parseAuth(r.URL.Query())
	if perr != nil {
		d.errorPage(w, perr)
		return
	}
	if d.autoApprove != "" {
		d.approve(w, r, req, d.union[d.autoApprove])
		return
	}
	data := qrPage{AppName: req.app.Name, AppKey: req.appKey}
	if c := d.corps[req.corpID]; c != nil && req.scopeCorp {
		data.CorpName = c.name
	}
	cancel := url.Values{}
	maps.Copy(cancel, req.params)
	data.CancelURL = "../simulator/cancel?" + cancel.Encode()
	for _, p := range d.people {
		v := url.Values{}
		maps.Copy(v, req.params)
		v.Set("unionId", p.UnionID)
		data.People = append(data.People, qrPerson{
			Nick:    p.Nick,
			Badge:   badge(p.Nick),
			UnionID: p.UnionID,
			Orgs:    d.orgNotes(p, req.app.CorpID),
			ScanURL: "../simulator/scan?" + v.Encode(),
		})
	}
	htmlHeaders(w)
	_ = qrTmpl.Execute(w, data)
}

// handleScan stands in for a person scanning and confirming on the phone.
func (d *Server) handleScan(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	_ = r.ParseForm()
	req, perr := d.parseAuth(r.Form)
	if perr != nil {
		d.errorPage(w, perr)
		return
	}
	p := d.union[r.Form.Get("unionId")]
	if p == nil {
		d.errorPage(w, &pageErr{"unknownPerson", "模拟器：没有这个人（unionId）。"})
		return
	}
	d.approve(w, r, req, p)
}

// approve issues a code for p and sends the browser back with it, as both
// authCode and code.
func (d *Server) approve(w http.ResponseWriter, r *http.Request, req *authReq, p *Person) {
	code := newToken()
	now := d.now()
	d.mu.Lock()
	d.codes.put(now, code, grant{appKey: req.appKey, unionID: p.UnionID, corpID: d.pickCorp(req, p)}, now.Add(d.codeTTL))
	d.mu.Unlock()
	redirect(w, r, req.redirect, "authCode", code, "state", req.state, "code", code)
}

// handleCancel stands in for a person refusing on the phone.
func (d *Server) handleCancel(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	_ = r.ParseForm()
	req, perr := d.parseAuth(r.Form)
	if perr != nil {
		d.errorPage(w, perr)
		return
	}
	redirect(w, r, req.redirect, "error", "access_denied", "error_description", "用户取消了授权", "state", req.state)
}

// pickCorp chooses the corpId the token answer reports (see DingTalk).
func (d *Server) pickCorp(req *authReq, p *Person) string {
	if !req.scopeCorp {
		return ""
	}
	if req.corpID != "" && internal(p, req.corpID) {
		return req.corpID
	}
	if internal(p, req.app.CorpID) {
		return req.app.CorpID
	}
	for _, id := range slices.Sorted(maps.Keys(p.Orgs)) {
		if internal(p, id) {
			return id
		}
	}
	return ""
}

// handleInApp stands in for dd.getAuthCode({corpId}) inside the DingTalk
// app: GET or POST /simulator/inapp?corpId=…&unionId=… → {"code":"…"}, a single-use
// code living CodeTTL that any app of that corp redeems at
// /topapi/v2/user/getuserinfo. Failures answer 400 with dd's error shape
// {"errorCode","errorMessage"}.
func (d *Server) handleInApp(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	_ = r.ParseForm()
	corpID, unionID := r.Form.Get("corpId"), r.Form.Get("unionId")
	fail := func(code, msg string) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"errorCode": code, "errorMessage": msg})
	}
	p := d.union[unionID]
	switch {
	case d.corps[corpID] == nil:
		fail("3", "corpId 无效")
		return
	case p == nil:
		fail("3", "unionId 无效")
		return
	case !internal(p, corpID):
		fail("3", "当前用户不在该组织中")
		return
	}
	code := newToken()
	now := d.now()
	d.mu.Lock()
	d.inapp.put(now, code, inAppGrant{unionID: p.UnionID, corpID: corpID}, now.Add(d.codeTTL))
	d.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"code": code})
}

// redirect answers 302 to u with the pairs appended to its query, in order.
func redirect(w http.ResponseWriter, r *http.Request, u *url.URL, pairs ...string) {
	q := u.RawQuery
	for i := 0; i+1 < len(pairs); i += 2 {
		if q != "" {
			q += "&"
		}
		q += url.QueryEscape(pairs[i]) + "=" + url.QueryEscape(pairs[i+1])
	}
	to := *u
	to.RawQuery, to.Fragment, to.RawFragment = q, "", ""
	http.Redirect(w, r, to.String(), http.StatusFound)
}

func (d *Server) errorPage(w http.ResponseWriter, e *pageErr) {
	htmlHeaders(w)
	_ = errTmpl.Execute(w, e)
}

func htmlHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// orgNotes describes p's memberships for the page, the app's corp first.
func (d *Server) orgNotes(p *Person, appCorp string) []string {
	ids := slices.Sorted(maps.Keys(p.Orgs))
	slices.SortStableFunc(ids, func(a, b string) int {
		switch {
		case a == appCorp:
			return -1
		case b == appCorp:
			return 1
		}
		return 0
	})
	var notes []string
	for _, id := range ids {
		m := p.Orgs[id]
		n := d.corps[id].name + " · " + m.Name
		if m.Title != "" {
			n += " · " + m.Title
		}
		if m.ContactType == 1 {
			n += "（外部联系人）"
		}
		if !m.Active {
			n += "（未激活）"
		}
		notes = append(notes, n)
	}
	if len(notes) == 0 {
		notes = []string{"未加入任何组织"}
	}
	return notes
}

// badge is what DingTalk shows for a missing avatar: the name's last two
// characters.
func badge(nick string) string {
	r := []rune(nick)
	if len(r) > 2 {
		r = r[len(r)-2:]
	}
	return string(r)
}

type qrPage struct {
	AppName, AppKey, CorpName, CancelURL string
	People                               []qrPerson
}

type qrPerson struct {
	Nick, Badge, UnionID, ScanURL string
	Orgs                          []string
}

const style = `body{font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;background:#f2f3f5;margin:0;color:#171a1d}
.card{max-width:420px;margin:48px auto;background:#fff;border-radius:12px;padding:28px;box-shadow:0 2px 12px rgba(0,0,0,.08)}
h1{font-size:18px;margin:0 0 4px}.sub{color:#747677;font-size:13px;margin-bottom:20px}
.qr{width:160px;height:160px;margin:0 auto 20px;background:repeating-conic-gradient(#171a1d 0 25%,#fff 0 50%) 0 0/20px 20px;border:8px solid #fff;outline:1px solid #e5e6e8}
ul{list-style:none;padding:0;margin:0}li{border-top:1px solid #f0f1f2}
li a{display:flex;gap:12px;align-items:center;padding:10px 4px;text-decoration:none;color:inherit}li a:hover{background:#f5f7fa}
.badge{flex:none;width:40px;height:40px;border-radius:8px;background:#3296fa;color:#fff;display:flex;align-items:center;justify-content:center;font-size:13px}
.orgs{color:#747677;font-size:12px}.cancel{display:block;text-align:center;margin-top:16px;color:#747677;font-size:13px}
.err{color:#ff5219;font-size:15px;line-height:1.6}.code{color:#a2a3a4;font-size:12px;margin-top:8px}`

var qrTmpl = template.Must(template.New("qr").Parse(`<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>钉钉扫码登录（模拟器）</title><style>` + style + `</style></head>
<body><div class="card">
<h1>钉钉扫码登录</h1>
<div class="sub">{{.AppName}}（{{.AppKey}}）请求获取你的身份信息{{if .CorpName}}，组织：{{.CorpName}}{{end}}</div>
<div class="qr" aria-hidden="true"></div>
<div class="sub">模拟器：选择以谁的身份扫码并确认</div>
<ul>{{range .People}}
<li><a href="{{.ScanURL}}" data-union-id="{{.UnionID}}"><span class="badge">{{.Badge}}</span><span><div>{{.Nick}}</div>{{range .Orgs}}<div class="orgs">{{.}}</div>{{end}}</span></a></li>{{end}}
</ul>
<a class="cancel" href="{{.CancelURL}}">取消登录</a>
</div></body></html>
`))

var errTmpl = template.Must(template.New("err").Parse(`<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="dingtalk-simulator-error" content="{{.Code}}">
<title>钉钉登录</title><style>` + style + `</style></head>
<body><div class="card">
<h1>钉钉登录</h1>
<p class="err">{{.Message}}</p>
<p class="code">错误码：{{.Code}}</p>
</div></body></html>
`))
