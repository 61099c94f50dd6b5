package upstream

import (
	"bytes"
	"testing"
	"text/template"
)

func TestASCIISafe(t *testing.T) {
	for in, want := range map[string]string{
		"ZhangSan":      "zhangsan",
		"zhang.san_01-": "zhang.san_01-",
		"张三":            "",
		"\u212Aate":     "ate", // KELVIN SIGN is not "k"
		"a b@c":         "abc",
	} {
		if got := ASCIISafe(in); got != want {
			t.Errorf("ASCIISafe(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTemplateFuncs(t *testing.T) {
	attrs := map[string]any{"groups": []any{"a", "b"}, "roles": []string{"x"}, "name": " Li "}
	for src, want := range map[string]string{
		`{{join "," .groups}}`:   "a,b",
		`{{join "," .roles}}`:    "x",
		`{{join "," .missing}}`:  "",
		`{{trim .name | upper}}`: "LI",
		`{{ascii "Wang Wu"}}`:    "wangwu",
	} {
		tmpl := template.Must(template.New("t").Option("missingkey=zero").Funcs(TemplateFuncs()).Parse(src))
		var b bytes.Buffer
		if err := tmpl.Execute(&b, attrs); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if b.String() != want {
			t.Errorf("%s = %q, want %q", src, b.String(), want)
		}
	}
}
