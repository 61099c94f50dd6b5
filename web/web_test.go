package web

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLocale(t *testing.T) {
	cases := []struct {
		ui     []string
		accept string
		want   string
	}{
		{nil, "", "zh-CN"},
		{nil, "en-US,en;q=0.9", "en"},
		{[]string{"en"}, "zh-CN", "en"},
		{[]string{"zh-TW"}, "", "zh-CN"},
		{nil, "fr-FR", "zh-CN"},
		{nil, "garbage;;;", "zh-CN"},
	}
	for _, c := range cases {
		if got := Locale(c.ui, c.accept); got != c.want {
			t.Errorf("Locale(%v, %q) = %q, want %q", c.ui, c.accept, got, c.want)
		}
	}
}

func TestRender(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, loc := range Locales {
		w := httptest.NewRecorder()
		if err := r.Render(w, 400, "error", Page{Locale: loc, Title: "code_expired_title", Data: map[string]any{"Message": "code_expired", "Retry": "/login?id=x&upstream=dev"}}); err != nil {
			t.Fatal(err)
		}
		body := w.Body.String()
		if w.Code != 400 || !strings.Contains(body, `lang="`+loc+`"`) || strings.Contains(body, "code_expired") {
			t.Errorf("%s: %d %s", loc, w.Code, body)
		}
		if !strings.Contains(body, `href="/login?id=x&amp;upstream=dev"`) {
			t.Errorf("%s: retry link not rendered: %s", loc, body)
		}
	}
	if err := r.Render(httptest.NewRecorder(), 200, "missing", Page{}); err == nil {
		t.Error("unknown page rendered")
	}
}
