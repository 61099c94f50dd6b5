package idp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dingoidc/dingoidc/web"
)

// Branding is the organisation's name, logo and colour on every page a
// person sees (README "Branding"). The zero Branding shows dingoidc's own.
type Branding struct {
	// Name replaces "dingoidc" (page titles, the header, messages); it is
	// required when Logo or PrimaryColor is set, so that an agency's logo
	// never sits next to "dingoidc".
	Name string
	// Logo is a PNG, JPEG or SVG image of at most MaxLogoSize bytes,
	// served from memory at <issuer>/branding/logo.
	Logo []byte
	// PrimaryColor is the buttons' colour, #rrggbb.
	PrimaryColor string
}

// MaxLogoSize bounds Branding.Logo (every login page loads it).
const MaxLogoSize = 256 << 10

// maxBrandName bounds Branding.Name, in characters.
const maxBrandName = 64

// LogoType is the content type of a logo: image/png, image/jpeg or
// image/svg+xml, by its content; "" for anything else.
func LogoType(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		return "image/jpeg"
	}
	// SVG: XML text (a declaration, comments or a doctype may come first)
	// whose root element is <svg.
	if !utf8.Valid(b) {
		return ""
	}
	head := b[:min(len(b), 4096)]
	i := bytes.Index(head, []byte("<svg"))
	if i < 0 || !bytes.Contains(bytes.TrimSpace(b[len(b)-min(len(b), 64):]), []byte("</svg>")) {
		return ""
	}
	if ct := http.DetectContentType(b); !strings.HasPrefix(ct, "text/xml") && !strings.HasPrefix(ct, "text/plain") {
		return ""
	}
	return "image/svg+xml"
}

// Problems checks a Branding and returns every problem. name maps a field
// name to the operator's key (nil: the field names).
func (b Branding) Problems(name func(field string) string) []error {
	if name == nil {
		name = func(f string) string { return f }
	}
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name(field), fmt.Sprintf(format, args...)))
	}
	switch {
	case b.Name == "" && (len(b.Logo) > 0 || b.PrimaryColor != ""):
		add("Name", "required with a logo or a colour (it replaces \"dingoidc\" on the pages)")
	case utf8.RuneCountInString(b.Name) > maxBrandName:
		add("Name", "at most %d characters", maxBrandName)
	case strings.ContainsFunc(b.Name, unicode.IsControl) || !utf8.ValidString(b.Name):
		add("Name", "must be printable text")
	}
	if len(b.Logo) > 0 {
		switch {
		case len(b.Logo) > MaxLogoSize:
			add("Logo", "%d KiB; at most %d KiB", (len(b.Logo)+1023)>>10, MaxLogoSize>>10)
		case LogoType(b.Logo) == "":
			add("Logo", "not a PNG, JPEG or SVG image")
		}
	}
	if b.PrimaryColor != "" && !web.ValidColor(b.PrimaryColor) {
		add("PrimaryColor", "%q is not a colour #rrggbb (such as #c8102e)", b.PrimaryColor)
	}
	return errs
}

// setBranding gives the renderer the brand and keeps the logo to serve.
func (s *Server) setBranding(b Branding) error {
	if len(b.Logo) > 0 {
		s.logo, s.logoType = b.Logo, LogoType(b.Logo)
		sum := sha256.Sum256(b.Logo)
		s.logoETag = `"` + hex.EncodeToString(sum[:8]) + `"`
	}
	var logoURL string
	if s.logo != nil {
		// The version in the URL lets browsers keep the logo for long.
		logoURL = s.prefix + "/branding/logo?v=" + strings.Trim(s.logoETag, `"`)
	}
	return s.web.SetBrand(web.Brand{Name: b.Name, LogoURL: logoURL, Color: strings.ToLower(b.PrimaryColor)})
}

// Branding is the brand the pages show, for other person-facing pages
// (the admin console) to show it alike: its Name (empty: dingoidc's own
// look), LogoURL (the logo route; empty without a logo) and the CSS the
// layout applies. Pages rendered through the server's web.Renderer get it
// in web.Page.Brand without asking.
func (s *Server) Branding() web.Brand { return s.web.Brand() }

// handleLogo serves the logo from memory. An SVG may hold scripts: the
// answer's CSP forbids them (and everything else) should someone open it
// as a page; as an <img> it runs nothing anyway.
func (s *Server) handleLogo(w http.ResponseWriter, r *http.Request) {
	if s.logo == nil {
		s.errorPage(w, r, http.StatusNotFound, msgNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", s.logoType)
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("ETag", s.logoETag)
	if r.Header.Get("If-None-Match") == s.logoETag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(s.logo)
}
