package upstream

import (
	"fmt"
	"strings"
	"text/template"
)

// TemplateFuncs are the functions claims templates (and templates an
// upstream evaluates itself, such as DingTalk's username_template) may use
// over Identity.Attributes.
func TemplateFuncs() template.FuncMap {
	return template.FuncMap{
		"lower": strings.ToLower,
		"upper": strings.ToUpper,
		"trim":  strings.TrimSpace,
		"ascii": ASCIISafe,
		"join":  join,
	}
}

// join joins a list attribute; a missing one yields "" (no claim), never
// "<nil>".
func join(sep string, v any) string {
	switch l := v.(type) {
	case nil:
		return ""
	case []string:
		return strings.Join(l, sep)
	case []any:
		s := make([]string, 0, len(l))
		for _, x := range l {
			s = append(s, fmt.Sprint(x))
		}
		return strings.Join(s, sep)
	}
	return fmt.Sprint(v)
}

// ASCIISafe keeps [a-z0-9._-], lower-casing ASCII letters only, as
// preferred_username wants. (strings.ToLower would turn U+212A KELVIN SIGN
// into "k", letting one person's name collide with another's.)
func ASCIISafe(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
