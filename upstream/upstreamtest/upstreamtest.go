// Package upstreamtest is a fake upstream for tests and the local demo: a
// "scan" page listing test people, single-use expiring codes, and fault
// knobs. It speaks no real wire format (the DingTalk and Zhezhengding
// simulators do); it exercises dingoidc's login plumbing.
package upstreamtest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/dingoidc/dingoidc/upstream"
)

// Person is a test identity.
type Person struct {
	ID         string         // stable key (ExternalID)
	Attributes map[string]any // raw attributes: name, account, email, groups…
}

// Provider is the fake upstream. Mount Handler at BaseURL.
type Provider struct {
	BaseURL string
	People  []Person
	// AutoApprove, when set, makes the login page "scan" as this person at
	// once and redirect back, so a client that only follows redirects (a
	// load generator, a headless test) completes logins.
	AutoApprove string
	// Embed makes the provider an upstream.Embedder: its QR page can be
	// framed, and approving then posts {code, state} to the parent window.
	Embed   bool
	CodeTTL time.Duration // default 2m
	Now     func() time.Time

	// Fault knobs.
	mu        sync.Mutex
	failNext  error
	codes     map[string]issued
	Exchanges int // successful exchanges, for tests
}

type issued struct {
	person   string
	redirect string
	expires  time.Time
}

// DefaultPeople are the demo's test people.
func DefaultPeople() []Person {
	return []Person{
		{ID: "10001", Attributes: map[string]any{"name": "张三", "account": "zhangsan", "nickname": "三哥", "email": "zhangsan@example.gov.cn", "groups": []string{"运维组", "admins"}}},
		{ID: "10002", Attributes: map[string]any{"name": "李四", "account": "lisi", "groups": []string{"开发组"}}},
		{ID: "10003", Attributes: map[string]any{"name": "王五", "account": "wangwu", "blocked": true}},
	}
}

// New returns a provider serving at baseURL with people.
func New(baseURL string, people []Person) *Provider {
	return &Provider{BaseURL: strings.TrimSuffix(baseURL, "/"), People: people, codes: map[string]issued{}}
}

// FailNextExchange makes the next Exchange return err (e.g. an
// upstream.ErrUnavailable wrap).
func (p *Provider) FailNextExchange(err error) {
	p.mu.Lock()
	p.failNext = err
	p.mu.Unlock()
}

func (p *Provider) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Type implements upstream.Provider.
func (p *Provider) Type() string { return "dev" }

// DefaultClaims implements upstream.Provider.
func (p *Provider) DefaultClaims() map[string]string {
	return map[string]string{
		"name":               "{{.name}}",
		"nickname":           "{{.nickname}}",
		"preferred_username": "{{.account}}",
		"email":              "{{with .email}}{{.}}{{else}}{{.account}}@dev.dingoidc.invalid{{end}}",
		"groups":             "{{range .groups}}{{.}}\n{{end}}",
		"account_id":         "{{.id}}",
	}
}

// LoginURL implements upstream.Provider.
func (p *Provider) LoginURL(_ context.Context, req upstream.LoginRequest) (string, error) {
	q := url.Values{"state": {req.State}, "redirect_uri": {req.RedirectURI}}
	return p.BaseURL + "/authorize?" + q.Encode(), nil
}

// Embedded implements upstream.Embedder.
func (p *Provider) Embedded() bool { return p.Embed }

// FrameURL implements upstream.Embedder.
func (p *Provider) FrameURL(ctx context.Context, req upstream.LoginRequest) (string, string, error) {
	u, err := p.LoginURL(ctx, req)
	if err != nil {
		return "", "", err
	}
	base, err := url.Parse(p.BaseURL)
	if err != nil {
		return "", "", err
	}
	return u + "&embedMode=true", base.Scheme + "://" + base.Host, nil
}

var postMessagePage = template.Must(template.New("pm").Parse(`<!doctype html><html><head><meta charset="utf-8"></head><body>
<script>window.parent.postMessage({code: {{.Code}}, state: {{.State}}}, "*");</script></body></html>`))

// Approve issues a code for person as if they scanned, and returns the
// callback URL the browser would be sent to.
func (p *Provider) Approve(person, state, redirectURI string) (string, error) {
	found := false
	for _, x := range p.People {
		found = found || x.ID == person
	}
	if !found {
		return "", fmt.Errorf("no test person %q", person)
	}
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	code := base64.RawURLEncoding.EncodeToString(b)
	p.mu.Lock()
	p.codes[code] = issued{person: person, redirect: redirectURI, expires: p.now().Add(p.codeTTL())}
	p.mu.Unlock()
	u, err := url.Parse(redirectURI)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("code", code)
	q.Set("state", state)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func (p *Provider) codeTTL() time.Duration {
	if p.CodeTTL > 0 {
		return p.CodeTTL
	}
	return 2 * time.Minute
}

// Exchange implements upstream.Provider: codes are single use and expire.
func (p *Provider) Exchange(_ context.Context, cb url.Values, redirectURI string) (*upstream.Identity, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.failNext; err != nil {
		p.failNext = nil
		return nil, err
	}
	code := cb.Get("code")
	is, ok := p.codes[code]
	delete(p.codes, code)
	switch {
	case !ok:
		return nil, fmt.Errorf("exchange code: %w: unknown or used code", upstream.ErrCodeInvalid)
	case p.now().After(is.expires):
		return nil, fmt.Errorf("exchange code: %w: code expired", upstream.ErrCodeInvalid)
	case is.redirect != redirectURI:
		return nil, fmt.Errorf("exchange code: %w: redirect_uri mismatch", upstream.ErrCodeInvalid)
	}
	for _, x := range p.People {
		if x.ID != is.person {
			continue
		}
		if blocked, _ := x.Attributes["blocked"].(bool); blocked {
			return nil, fmt.Errorf("exchange code: %w: person %s is outside the allowed organisation", upstream.ErrNotAllowed, x.ID)
		}
		attrs := map[string]any{"id": x.ID}
		for k, v := range x.Attributes {
			attrs[k] = v
		}
		p.Exchanges++
		return &upstream.Identity{ExternalID: x.ID, Attributes: attrs, AMR: []string{"qr"}}, nil
	}
	return nil, errors.New("exchange code: person vanished")
}

var page = template.Must(template.New("p").Parse(`<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>模拟扫码登录 · Simulated scan</title>
<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:8vh auto;padding:1rem}a{display:block;margin:.5rem 0;padding:.8rem;border-radius:8px;background:#1677ff;color:#fff;text-decoration:none;text-align:center}</style>
</head><body><h1>模拟扫码登录</h1><p>Development upstream: choose a test person to "scan" as.</p>
{{range .People}}<a href="{{.URL}}">{{.Name}}</a>{{end}}
</body></html>`))

// Handler serves the fake login page at BaseURL.
func (p *Provider) Handler() http.Handler {
	mux := http.NewServeMux()
	prefix := ""
	if u, err := url.Parse(p.BaseURL); err == nil {
		prefix = u.Path
	}
	mux.HandleFunc("GET "+prefix+"/authorize", func(w http.ResponseWriter, r *http.Request) {
		state, redirect := r.URL.Query().Get("state"), r.URL.Query().Get("redirect_uri")
		if p.AutoApprove != "" {
			target, err := p.Approve(p.AutoApprove, state, redirect)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if r.URL.Query().Get("embedMode") == "true" {
				u, _ := url.Parse(target)
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				_ = postMessagePage.Execute(w, map[string]string{"Code": u.Query().Get("code"), "State": state})
				return
			}
			http.Redirect(w, r, target, http.StatusFound)
			return
		}
		type item struct {
			Name string
			URL  template.URL // built here from escaped parts
		}
		var items []item
		for _, x := range p.People {
			name, _ := x.Attributes["name"].(string)
			q := url.Values{"person": {x.ID}, "state": {state}, "redirect_uri": {redirect}}.Encode()
			items = append(items, item{Name: name, URL: template.URL(p.BaseURL + "/approve?" + q)})
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, map[string]any{"People": items})
	})
	mux.HandleFunc("GET "+prefix+"/approve", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		target, err := p.Approve(q.Get("person"), q.Get("state"), q.Get("redirect_uri"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, target, http.StatusFound)
	})
	return mux
}

var (
	_ upstream.Provider = (*Provider)(nil)
	_ upstream.Embedder = (*Provider)(nil)
)
