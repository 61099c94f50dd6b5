package web

import (
	"io/fs"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
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

func TestNewRefusesIncompleteFiles(t *testing.T) {
	good := func() fstest.MapFS {
		m := fstest.MapFS{
			"messages/zh-CN.json":   {Data: []byte(`{"a":"甲","t":"题"}`)},
			"messages/en.json":      {Data: []byte(`{"a":"A","t":"T"}`)},
			"templates/layout.html": {Data: []byte(`<html lang="{{.Locale}}"><title>{{t .Title}}</title><main data-page="{{.Name}}">{{template "content" .}}</main>`)},
		}
		for _, p := range Pages {
			m["templates/"+p+".html"] = &fstest.MapFile{Data: []byte(`{{define "content"}}{{t "a"}}{{end}}`)}
		}
		return m
	}
	if _, err := newFrom(good()); err != nil {
		t.Fatalf("complete files refused: %v", err)
	}
	cases := []struct {
		name   string
		change func(fstest.MapFS)
		want   string
	}{
		{"missing page", func(m fstest.MapFS) { delete(m, "templates/inapp.html") }, `page "inapp"`},
		{"missing locale", func(m fstest.MapFS) { delete(m, "messages/en.json") }, "messages en"},
		{"message in one locale only", func(m fstest.MapFS) { m["messages/zh-CN.json"].Data = []byte(`{"a":"甲","t":"题","b":"乙"}`) }, `"b" missing in en`},
		{"template names an unknown message", func(m fstest.MapFS) {
			m["templates/error.html"].Data = []byte(`{{define "content"}}{{t "nope"}}{{end}}`)
		}, `no message "nope"`},
		{"broken template", func(m fstest.MapFS) { m["templates/chooser.html"].Data = []byte(`{{define "content"}}{{if}}{{end}}`) }, "chooser.html"},
		{"broken messages", func(m fstest.MapFS) { m["messages/en.json"].Data = []byte(`{`) }, "messages en"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := good()
			c.change(m)
			if _, err := newFrom(m); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err %v, want one about %s", err, c.want)
			}
		})
	}
}

func TestRenderPageHooks(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range Pages {
		w := httptest.NewRecorder()
		p := Page{Locale: "en", Title: "error_title", Client: "Wiki <b>", Error: "not_allowed",
			Data: map[string]any{"Message": "not_allowed"}}
		if err := r.Render(w, 200, name, p); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body := w.Body.String()
		for _, want := range []string{`data-page="` + name + `"`, `data-error="not_allowed"`, `id="client-name">Wiki &lt;b&gt;<`, `<html lang="en">`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: no %s", name, want)
			}
		}
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: cacheable", name)
		}
	}
}

func TestMessagesComplete(t *testing.T) {
	r, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, loc := range Locales {
		for key, text := range r.messages[loc] {
			if strings.TrimSpace(text) == "" {
				t.Errorf("%s: message %q is empty", loc, key)
			}
		}
	}
	if len(r.messages["zh-CN"]) != len(r.messages["en"]) {
		t.Error("locales have different message sets")
	}
}

func TestStaticScripts(t *testing.T) {
	for _, name := range []string{"embed.js", "inapp.js"} {
		b, err := fs.ReadFile(Static(), name)
		if err != nil || !strings.Contains(string(b), `"use strict"`) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
