package web

import (
	"fmt"
	"html/template"
	"math"
	"regexp"
	"strconv"
)

// Brand is the organisation's face on every page: its name instead of
// "dingoidc" (the page title, a header, messages saying {site}), its logo
// and its colour on buttons. The zero Brand is dingoidc's own look.
type Brand struct {
	Name    string // shown instead of "dingoidc"; required when the rest is set
	LogoURL string // where pages load the logo from (served by idp from memory); "" for none
	Color   string // #rrggbb of buttons; "" keeps the default blue
	// CSS overrides the default colours and styles the header; SetBrand
	// derives it from Color.
	CSS template.CSS
}

var colorRE = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// ValidColor reports whether c is a colour as branding takes it: #rrggbb.
func ValidColor(c string) bool { return colorRE.MatchString(c) }

// SetBrand sets the brand every page shows from now on. Call it before
// serving (it is not safe during Render). An empty Brand restores
// dingoidc's own look.
func (r *Renderer) SetBrand(b Brand) error {
	switch {
	case b == (Brand{}):
		r.brand = Brand{}
		return nil
	case b.Name == "":
		return fmt.Errorf("web: brand: a name is required with a logo or colour")
	case b.Color != "" && !ValidColor(b.Color):
		return fmt.Errorf("web: brand: colour %q is not #rrggbb", b.Color)
	}
	b.CSS = brandCSS(b.Color)
	r.brand = b
	return nil
}

// Brand returns the brand pages show (the console shows it too).
func (r *Renderer) Brand() Brand { return r.brand }

// brandCSS is the header's style and, for a colour, the buttons in it: a
// darker shade on hover and as focus ring, and dark text on a light colour
// so that the label stays readable (WCAG contrast).
func brandCSS(color string) template.CSS {
	css := `.brand{display:flex;align-items:center;gap:.6rem;margin:0 0 1rem;font-weight:600;font-size:1.05rem;overflow-wrap:anywhere}.brand img{display:block;max-height:2.5rem;max-width:10rem}`
	if color != "" {
		r, g, b := rgb(color)
		hover, ring := shade(r, g, b, 0.85), shade(r, g, b, 0.6)
		// White or dark text, whichever contrasts more (they tie at a
		// relative luminance of about 0.21).
		on, outline := "#fff", color
		if luminance(r, g, b) > 0.21 {
			on, outline = "#1f2329", shade(r, g, b, 0.45)
		}
		css += `a.button,button{background:` + color + `;border-color:` + color + `;color:` + on + `}` +
			`a.button.secondary{background:#fff;color:` + outline + `}` +
			`a.button:hover{background:` + hover + `;border-color:` + hover + `;color:` + on + `}` +
			`a.button:focus-visible,button:focus-visible,a:focus-visible,iframe:focus-visible{outline-color:` + ring + `}`
	}
	return template.CSS(css) // built only from a validated #rrggbb
}

func rgb(c string) (r, g, b float64) {
	v, _ := strconv.ParseUint(c[1:], 16, 32)
	return float64(v >> 16 & 0xff), float64(v >> 8 & 0xff), float64(v & 0xff)
}

func shade(r, g, b, f float64) string {
	return fmt.Sprintf("#%02x%02x%02x", int(r*f), int(g*f), int(b*f))
}

// luminance is the relative luminance of an sRGB colour (WCAG 2).
func luminance(r, g, b float64) float64 {
	lin := func(c float64) float64 {
		c /= 255
		if c <= 0.03928 {
			return c / 12.92
		}
		return math.Pow((c+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}
