// Package web renders dingoidc's pages from embedded templates and message
// files (zh-CN by default, English on request). It only renders.
package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"regexp"
	"strings"

	"golang.org/x/text/language"
)

//go:embed templates/*.html messages/*.json static/*
var files embed.FS

// Static holds the files served under /static/ (scripts; no external assets).
func Static() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the directory is embedded above
	}
	return sub
}

// Locales supported, the default first.
var Locales = []string{"zh-CN", "en"}

var matcher = language.NewMatcher([]language.Tag{language.SimplifiedChinese, language.English})

// Pages every Renderer has: the names idp renders, and the value of the
// data-page attribute on each page's <main>.
var Pages = []string{"error", "chooser", "embed", "loggedout", "logout", "inapp", "refused"}

// msgRef finds the message keys a template names literally ({{t "key"}}).
var msgRef = regexp.MustCompile(`\bt "([A-Za-z0-9_]+)"`)

// Renderer holds the parsed templates and messages.
type Renderer struct {
	pages    map[string]*template.Template
	messages map[string]map[string]string
	brand    Brand // set once, before the first Render (SetBrand)
}

// New parses every template and message file; a missing or broken one fails
// here, at start, not on a request.
func New() (*Renderer, error) { return newFrom(files) }

// newFrom is New over another file system (tests).
func newFrom(files fs.FS) (*Renderer, error) {
	r := &Renderer{pages: map[string]*template.Template{}, messages: map[string]map[string]string{}}
	for _, loc := range Locales {
		b, err := fs.ReadFile(files, "messages/"+loc+".json")
		if err != nil {
			return nil, fmt.Errorf("web: messages %s: %w", loc, err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("web: messages %s: %w", loc, err)
		}
		r.messages[loc] = m
	}
	for _, a := range Locales {
		for _, b := range Locales {
			for key := range r.messages[a] {
				if _, ok := r.messages[b][key]; !ok {
					return nil, fmt.Errorf("web: message %q missing in %s", key, b)
				}
			}
		}
	}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		for _, f := range []string{"templates/layout.html", n} {
			src, err := fs.ReadFile(files, f)
			if err != nil {
				return nil, fmt.Errorf("web: template %s: %w", f, err)
			}
			for _, m := range msgRef.FindAllSubmatch(src, -1) {
				if !r.HasMessage(string(m[1])) {
					return nil, fmt.Errorf("web: template %s: no message %q", f, m[1])
				}
			}
		}
		t, err := template.New("layout.html").Funcs(template.FuncMap{"t": func(string) string { return "" }, "site": func() string { return "" }}).
			ParseFS(files, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", n, err)
		}
		r.pages[base] = t
	}
	for _, name := range Pages {
		if r.pages[name] == nil {
			return nil, fmt.Errorf("web: no template for page %q", name)
		}
	}
	return r, nil
}

// HasMessage reports whether key is a message in every locale.
func (r *Renderer) HasMessage(key string) bool {
	for _, loc := range Locales {
		if _, ok := r.messages[loc][key]; !ok {
			return false
		}
	}
	return true
}

// Locale picks zh-CN or en from ui_locales (first) and Accept-Language.
func Locale(uiLocales []string, acceptLanguage string) string {
	var tags []language.Tag
	for _, l := range uiLocales {
		if t, err := language.Parse(l); err == nil {
			tags = append(tags, t)
		}
	}
	if al, _, err := language.ParseAcceptLanguage(acceptLanguage); err == nil {
		tags = append(tags, al...)
	}
	if len(tags) == 0 {
		return Locales[0]
	}
	_, i, conf := matcher.Match(tags...)
	if conf == language.No {
		return Locales[0]
	}
	return Locales[i]
}

// Page is what a template gets.
type Page struct {
	Locale string
	Title  string // message key
	// Client is the display name of the application the person is
	// signing in to, shown as #client-name when known.
	Client string
	// Error is the message key of an error page, its <main>'s data-error.
	Error string
	Data  map[string]any
	// Name is the page's name (data-page on <main>); Render sets it.
	Name string
	// Brand is the Renderer's (SetBrand); Render sets it.
	Brand Brand
}

// Render writes page with status. It renders into a buffer first, so a
// template error never leaves a half-written page.
func (r *Renderer) Render(w http.ResponseWriter, status int, name string, p Page) error {
	t, ok := r.pages[name]
	if !ok {
		return fmt.Errorf("web: no page %q", name)
	}
	p.Name, p.Brand = name, r.brand
	msgs := r.messages[p.Locale]
	if msgs == nil {
		p.Locale, msgs = Locales[0], r.messages[Locales[0]]
	}
	t, err := t.Clone()
	if err != nil {
		return err
	}
	site := r.brand.Name
	if site == "" {
		site = msgs["site_name"]
	}
	t.Funcs(template.FuncMap{"t": func(key string) string {
		if m, ok := msgs[key]; ok {
			return strings.ReplaceAll(m, "{site}", site)
		}
		return key
	}, "site": func() string { return site }})
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err = w.Write(buf.Bytes())
	return err
}
