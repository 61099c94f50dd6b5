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

// Renderer holds the parsed templates and messages.
type Renderer struct {
	pages    map[string]*template.Template
	messages map[string]map[string]string
}

// New parses every template and message file; a missing or broken one fails
// here, at start, not on a request.
func New() (*Renderer, error) {
	r := &Renderer{pages: map[string]*template.Template{}, messages: map[string]map[string]string{}}
	for _, loc := range Locales {
		b, err := files.ReadFile("messages/" + loc + ".json")
		if err != nil {
			return nil, fmt.Errorf("web: messages %s: %w", loc, err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("web: messages %s: %w", loc, err)
		}
		r.messages[loc] = m
	}
	for key := range r.messages["en"] {
		if _, ok := r.messages["zh-CN"][key]; !ok {
			return nil, fmt.Errorf("web: message %q missing in zh-CN", key)
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
		t, err := template.New("layout.html").Funcs(template.FuncMap{"t": func(string) string { return "" }}).
			ParseFS(files, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", n, err)
		}
		r.pages[base] = t
	}
	return r, nil
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
	Data   map[string]any
}

// Render writes page with status. It renders into a buffer first, so a
// template error never leaves a half-written page.
func (r *Renderer) Render(w http.ResponseWriter, status int, name string, p Page) error {
	t, ok := r.pages[name]
	if !ok {
		return fmt.Errorf("web: no page %q", name)
	}
	msgs := r.messages[p.Locale]
	if msgs == nil {
		p.Locale, msgs = Locales[0], r.messages[Locales[0]]
	}
	t, err := t.Clone()
	if err != nil {
		return err
	}
	t.Funcs(template.FuncMap{"t": func(key string) string {
		if m, ok := msgs[key]; ok {
			return m
		}
		return key
	}})
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
