package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"sort"
)

// The admin console (README.md, "Console"): one HTML shell, its script
// and style sheet, and its texts in zh-CN and en, all embedded. The shell
// carries the texts of its language as a JSON data block (not a script:
// the console's Content-Security-Policy allows scripts only from 'self'),
// and console/admin.js draws every page from the admin API.

//go:embed console/*
var consoleFiles embed.FS

// ConsoleAssets are the files served under <issuer>/admin/static/.
var ConsoleAssets = map[string]string{
	"admin.js":  "text/javascript; charset=utf-8",
	"admin.css": "text/css; charset=utf-8",
}

// Console renders the console's shell.
type Console struct {
	tmpl     *template.Template
	messages map[string]map[string]string
	json     map[string]template.JS // the messages of each locale as JSON
	version  string                 // of the assets, in their URLs
}

// ConsoleState is what the shell shows before its script runs.
type ConsoleState string

const (
	// ConsoleApp: the script asks the API who is signed in and draws the
	// console, the sign-in page or the refusal.
	ConsoleApp ConsoleState = "app"
	// ConsoleRefused: signed in, but not (or no longer) an admin.
	ConsoleRefused ConsoleState = "refused"
	// ConsoleSignIn: nobody is signed in to the console.
	ConsoleSignIn ConsoleState = "signin"
)

// ConsolePage is what the shell template gets.
type ConsolePage struct {
	Locale  string
	State   ConsoleState
	Account string // the signed-in account (refusal page)
	Base    string // path prefix of the issuer ("" at the root)
	Msgs    map[string]string
	JSON    template.JS
	V       string // the assets' version (cache busting)
	// Brand is the organisation's name, logo and colour (web.Brand), as
	// on the login pages; its colour comes as a style sheet (ConsoleBrandCSS),
	// never inline.
	Brand Brand
	// BrandCSSVersion is in the brand style sheet's URL (set by Render).
	BrandCSSVersion string
}

// ConsoleBrandCSS is the console's style sheet for the brand's colour
// (buttons, the current section), "" without a colour. Like the login
// pages (brandCSS), dark text on a light colour keeps labels readable.
func ConsoleBrandCSS(b Brand) string {
	if b.Color == "" || !ValidColor(b.Color) {
		return ""
	}
	r, g, bl := rgb(b.Color)
	hover, ring := shade(r, g, bl, 0.85), shade(r, g, bl, 0.6)
	on, outline := "#fff", b.Color
	if luminance(r, g, bl) > 0.21 {
		on, outline = "#1f2329", shade(r, g, bl, 0.45)
	}
	return "a.button,button{background:" + b.Color + ";border-color:" + b.Color + ";color:" + on + "}\n" +
		"a.button.secondary,button.secondary{background:#fff;color:" + outline + "}\n" +
		"a.button:hover,button:hover{background:" + hover + ";border-color:" + hover + ";color:" + on + "}\n" +
		"header.top nav a[aria-current=page]{background:" + b.Color + ";color:" + on + "}\n" +
		"a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,textarea:focus-visible{outline-color:" + ring + "}\n"
}

// NewConsole parses the shell and the console's message files; a missing
// message in one language fails here, at start.
func NewConsole() (*Console, error) { return newConsoleFrom(consoleFiles) }

func newConsoleFrom(files fs.FS) (*Console, error) {
	c := &Console{messages: map[string]map[string]string{}, json: map[string]template.JS{}}
	for _, loc := range Locales {
		b, err := fs.ReadFile(files, "console/"+loc+".json")
		if err != nil {
			return nil, fmt.Errorf("web: console messages %s: %w", loc, err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("web: console messages %s: %w", loc, err)
		}
		c.messages[loc] = m
		c.json[loc] = template.JS(b)
	}
	for _, a := range Locales {
		for _, b := range Locales {
			for key := range c.messages[a] {
				if _, ok := c.messages[b][key]; !ok {
					return nil, fmt.Errorf("web: console message %q missing in %s", key, b)
				}
			}
		}
	}
	src, err := fs.ReadFile(files, "console/admin.html")
	if err != nil {
		return nil, fmt.Errorf("web: console template: %w", err)
	}
	for _, m := range msgRef.FindAllSubmatch(src, -1) {
		if _, ok := c.messages[Locales[0]][string(m[1])]; !ok {
			return nil, fmt.Errorf("web: console template: no message %q", m[1])
		}
	}
	c.tmpl, err = template.New("admin.html").Funcs(template.FuncMap{"t": func(string) string { return "" }}).Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("web: console template: %w", err)
	}
	sum := sha256.New()
	for _, name := range []string{"admin.css", "admin.js"} {
		b, err := fs.ReadFile(files, "console/"+name)
		if err != nil {
			return nil, fmt.Errorf("web: console asset: %w", err)
		}
		sum.Write(b)
	}
	c.version = hex.EncodeToString(sum.Sum(nil))[:12]
	return c, nil
}

// MessageKeys lists the console's message keys (tests).
func (c *Console) MessageKeys() []string {
	var keys []string
	for k := range c.messages[Locales[0]] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Message is the console's text key in locale (tests).
func (c *Console) Message(locale, key string) string { return c.messages[locale][key] }

// Render writes the shell with status, rendered into a buffer first.
func (c *Console) Render(w http.ResponseWriter, status int, p ConsolePage) error {
	if c.messages[p.Locale] == nil {
		p.Locale = Locales[0]
	}
	msgs := c.messages[p.Locale]
	p.Msgs, p.JSON, p.V = msgs, c.json[p.Locale], c.version
	if css := ConsoleBrandCSS(p.Brand); css != "" {
		sum := sha256.Sum256([]byte(css))
		p.BrandCSSVersion = hex.EncodeToString(sum[:6])
	}
	t, err := c.tmpl.Clone()
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
		return fmt.Errorf("web: render console: %w", err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err = w.Write(buf.Bytes())
	return err
}

// ConsoleAsset returns the embedded file name (one of ConsoleAssets).
func ConsoleAsset(name string) ([]byte, string, bool) {
	ct, ok := ConsoleAssets[name]
	if !ok {
		return nil, "", false
	}
	b, err := fs.ReadFile(consoleFiles, "console/"+name)
	if err != nil {
		return nil, "", false
	}
	return b, ct, true
}
