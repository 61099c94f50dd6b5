package idp

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dingoidc/dingoidc/web"
)

const testLogoSVG = `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><rect width="40" height="40" fill="#c8102e"/></svg>`

var testBranding = Branding{Name: "浙江省数据局", Logo: []byte(testLogoSVG), PrimaryColor: "#C8102E"}

// TestBrandedPages: with branding, every page shows the organisation's
// name, logo and colour and never "dingoidc"; the chooser's HTML is
// pinned in golden files (branded_chooser.*.html).
func TestBrandedPages(t *testing.T) {
	s := pageServer(t)
	if err := s.setBranding(testBranding); err != nil {
		t.Fatal(err)
	}
	for _, c := range pageCases(s) {
		for _, loc := range web.Locales {
			t.Run(c.name+"."+loc, func(t *testing.T) {
				r := httptest.NewRequest(http.MethodGet, "https://sso.example.gov.cn/sso/login?id=AUTH-REQUEST-ID", nil)
				r.Header.Set("Accept-Language", loc)
				r = r.WithContext(context.WithValue(r.Context(), ctxRequestID, "req-0123456789abcdef"))
				w := httptest.NewRecorder()
				c.render(w, r, &authRequest{id: "AUTH-REQUEST-ID", ClientID: "gitlab", Locales: []string{loc}})
				body := w.Body.String()
				if strings.Contains(strings.ToLower(body), "dingoidc") {
					t.Errorf("a branded page names dingoidc:\n%s", body)
				}
				for _, want := range []string{
					`<title>`, ` · 浙江省数据局</title>`,
					`<header class="brand" id="brand"><img src="/sso/branding/logo?v=`, `<span>浙江省数据局</span></header>`,
					`a.button,button{background:#c8102e;border-color:#c8102e;color:#fff}`,
				} {
					if !strings.Contains(body, want) {
						t.Errorf("no %s in\n%s", want, body)
					}
				}
				if c.name != "chooser" {
					return
				}
				path := filepath.Join("testdata", "golden", "branded_chooser."+loc+".html")
				if *update {
					if err := os.WriteFile(path, w.Body.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./idp -run Branded -update)", err)
				}
				if !bytes.Equal(w.Body.Bytes(), want) {
					t.Errorf("%s differs from the rendered page (go test ./idp -run Branded -update to accept):\n%s", path, body)
				}
			})
		}
	}
}

// TestBrandingLogo: the logo is served from memory with its type, a CSP
// that runs nothing, and revalidation by ETag; without one, 404.
func TestBrandingLogo(t *testing.T) {
	s := pageServer(t)
	w := httptest.NewRecorder()
	s.handleLogo(w, httptest.NewRequest(http.MethodGet, "/branding/logo", nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("no logo configured: %d", w.Code)
	}
	if err := s.setBranding(testBranding); err != nil {
		t.Fatal(err)
	}
	w = httptest.NewRecorder()
	s.handleLogo(w, httptest.NewRequest(http.MethodGet, "/branding/logo?v=x", nil))
	h := w.Header()
	if w.Code != 200 || w.Body.String() != testLogoSVG || h.Get("Content-Type") != "image/svg+xml" ||
		!strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("logo: %d %v %q", w.Code, h, w.Body)
	}
	if !strings.HasSuffix(s.Branding().LogoURL, "?v="+strings.Trim(h.Get("ETag"), `"`)) {
		t.Errorf("logo URL %q does not carry the version %s", s.Branding().LogoURL, h.Get("ETag"))
	}
	r := httptest.NewRequest(http.MethodGet, "/branding/logo", nil)
	r.Header.Set("If-None-Match", h.Get("ETag"))
	w = httptest.NewRecorder()
	s.handleLogo(w, r)
	if w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("revalidation: %d", w.Code)
	}
}

func TestBrandingProblems(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	cases := []struct {
		name string
		b    Branding
		want []string // substrings, one per problem
	}{
		{"none", Branding{}, nil},
		{"name only", Branding{Name: "某单位"}, nil},
		{"all", Branding{Name: "某单位", Logo: png, PrimaryColor: "#00AA11"}, nil},
		{"jpeg", Branding{Name: "某单位", Logo: []byte("\xff\xd8\xff\xe0JFIF")}, nil},
		{"svg with a declaration", Branding{Name: "x", Logo: []byte(`<?xml version="1.0"?>` + "\n" + testLogoSVG + "\n")}, nil},
		{"logo without a name", Branding{Logo: png}, []string{"Name: required"}},
		{"colour without a name", Branding{PrimaryColor: "#000000"}, []string{"Name: required"}},
		{"bad colour", Branding{Name: "x", PrimaryColor: "red"}, []string{`PrimaryColor: "red" is not a colour #rrggbb`}},
		{"short colour", Branding{Name: "x", PrimaryColor: "#fff"}, []string{"PrimaryColor"}},
		{"gif", Branding{Name: "x", Logo: []byte("GIF89a....")}, []string{"Logo: not a PNG, JPEG or SVG"}},
		{"html", Branding{Name: "x", Logo: []byte("<html><body><svg></svg></body></html>")}, []string{"Logo: not a PNG, JPEG or SVG"}},
		{"too big", Branding{Name: "x", Logo: append(png, make([]byte, MaxLogoSize)...)}, []string{"Logo: 257 KiB; at most 256 KiB"}},
		{"long name", Branding{Name: strings.Repeat("长", 65)}, []string{"Name: at most 64"}},
		{"control characters", Branding{Name: "a\nb"}, []string{"Name: must be printable"}},
		{"everything wrong", Branding{Logo: []byte("nope"), PrimaryColor: "#12345"}, []string{"Name", "Logo", "PrimaryColor"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.b.Problems(nil)
			if len(got) != len(c.want) {
				t.Fatalf("problems %v, want %d", got, len(c.want))
			}
			for i, w := range c.want {
				if !strings.Contains(got[i].Error(), w) {
					t.Errorf("problem %q, want %q", got[i], w)
				}
			}
		})
	}
}

// TestBrandColourContrast: a light colour gets dark button text, a dark
// one white.
func TestBrandColourContrast(t *testing.T) {
	for color, on := range map[string]string{"#ffd400": "color:#1f2329", "#003366": "color:#fff", "#1677ff": "color:#fff"} {
		s := pageServer(t)
		if err := s.setBranding(Branding{Name: "x", PrimaryColor: color}); err != nil {
			t.Fatal(err)
		}
		if css := string(s.Branding().CSS); !strings.Contains(css, "background:"+color+";border-color:"+color+";"+on+"}") {
			t.Errorf("%s: %s", color, css)
		}
	}
}
