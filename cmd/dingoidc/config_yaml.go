package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// notFoundRE matches yaml.v3's KnownFields error.
var notFoundRE = regexp.MustCompile(`^line (\d+): field (.+) not found in type (\S+)$`)

// sectionNames names the config sections by their Go types, for messages.
var sectionNames = map[string]string{
	"main.FileConfig":       "",
	"main.StorageConfig":    "storage",
	"main.TokensConfig":     "tokens",
	"main.KeysConfig":       "keys",
	"main.LogConfig":        "log",
	"main.StaticClient":     "a clients entry",
	"main.RateLimitsConfig": "rate_limits",
	"main.RateLimitBucket":  "a rate_limits bucket",
}

// rewriteYAMLError turns yaml.v3's "field x not found in type main.T" into
// `unknown key "x" in <section>`.
func rewriteYAMLError(msg string) string {
	m := notFoundRE.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	out := "line " + m[1] + ": unknown key " + quote(m[2])
	if sec, ok := sectionNames[m[3]]; ok {
		if sec != "" {
			out += " in " + sec
		}
	} else {
		out += " in " + m[3]
	}
	return out
}

// UnmarshalYAML decodes an upstream entry: first the common keys, then the
// rest strictly into the type-specific config struct. Problems are
// yaml.TypeErrors, so decoding goes on and all of them are reported.
func (e *UpstreamEntry) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{lineMsg(n.Line, "an upstreams entry must be a mapping (id, type, name…)")}}
	}
	var problems []string
	var common struct {
		ID          string            `yaml:"id"`
		Type        string            `yaml:"type"`
		Name        string            `yaml:"name"`
		Claims      map[string]string `yaml:"claims"`
		BareSubject bool              `yaml:"bare_subject"`
		Revalidate  Duration          `yaml:"revalidate_after"`
	}
	var te *yaml.TypeError
	if err := n.Decode(&common); errors.As(err, &te) {
		problems = append(problems, te.Errors...)
	} else if err != nil {
		return err
	}
	rest := yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !slices.Contains(upstreamCommonKeys, n.Content[i].Value) {
			rest.Content = append(rest.Content, n.Content[i], n.Content[i+1])
		}
	}
	*e = UpstreamEntry{
		ID: common.ID, Type: common.Type, Name: common.Name,
		Claims: common.Claims, BareSubject: common.BareSubject,
		RevalidateAfter: common.Revalidate,
		Raw:             rest,
	}
	if newConfig, ok := upstreamTypes[common.Type]; ok {
		cfg := newConfig()
		where := fmt.Sprintf("upstream %q (type %s)", common.ID, common.Type)
		problems = append(problems, unknownKeys(&rest, reflect.TypeOf(cfg), where)...)
		if err := rest.Decode(cfg); errors.As(err, &te) {
			problems = append(problems, te.Errors...)
		} else if err != nil {
			return err
		}
		e.Config = cfg
	}
	if len(problems) > 0 {
		return &yaml.TypeError{Errors: problems}
	}
	return nil
}

// String prints the entry without its raw node (which may hold secrets
// the type-specific struct redacts).
func (e UpstreamEntry) String() string {
	return fmt.Sprintf("{ID:%s Type:%s Name:%s Claims:%v BareSubject:%t Config:%+v}",
		e.ID, e.Type, e.Name, e.Claims, e.BareSubject, e.Config)
}

// GoString implements fmt.GoStringer like String.
func (e UpstreamEntry) GoString() string { return "UpstreamEntry" + e.String() }

// LogValue implements slog.LogValuer.
func (e UpstreamEntry) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", e.ID), slog.String("type", e.Type), slog.String("name", e.Name))
}

var (
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	nodeType        = reflect.TypeFor[yaml.Node]()
)

// unknownKeys walks n alongside t, the type it decodes into, and returns a
// message for every mapping key t does not know. yaml.v3's KnownFields
// only exists on a Decoder, not on Node.Decode; this gives the same check
// with the lines of the original file.
func unknownKeys(n *yaml.Node, t reflect.Type, where string) []string {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nodeType || reflect.PointerTo(t).Implements(unmarshalerType) {
		return nil
	}
	var out []string
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil // a type error, Decode reports it
		}
		fields, anyKey := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" {
				continue
			}
			ft, ok := fields[k.Value]
			if !ok {
				if !anyKey {
					out = append(out, lineMsg(k.Line, "unknown key "+quote(k.Value)+" in "+where))
				}
				continue
			}
			out = append(out, unknownKeys(v, ft, where+" "+k.Value)...)
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for i, item := range n.Content {
			out = append(out, unknownKeys(item, t.Elem(), fmt.Sprintf("%s[%d]", where, i))...)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			out = append(out, unknownKeys(n.Content[i+1], t.Elem(), where+"."+n.Content[i].Value)...)
		}
	}
	return out
}

// yamlFields returns the keys a struct type decodes (as yaml.v3 names
// them) and whether an inline map accepts any other key.
func yamlFields(t reflect.Type) (map[string]reflect.Type, bool) {
	fields := map[string]reflect.Type{}
	anyKey := false
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if slices.Contains(strings.Split(opts, ","), "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch ft.Kind() {
			case reflect.Map:
				anyKey = true
			case reflect.Struct:
				inner, innerAny := yamlFields(ft)
				for k, v := range inner {
					fields[k] = v
				}
				anyKey = anyKey || innerAny
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields, anyKey
}

func lineMsg(line int, msg string) string { return "line " + strconv.Itoa(line) + ": " + msg }

func quote(s string) string { return strconv.Quote(s) }

// decodeFile decodes the YAML file strictly. Syntax errors fail at once;
// unknown keys and wrong types come back as problems, all of them.
func (c *FileConfig) decodeFile(path string) ([]error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	err = dec.Decode(c)
	if errors.Is(err, io.EOF) { // empty file
		return nil, nil
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		problems := make([]error, 0, len(te.Errors))
		for _, msg := range te.Errors {
			// yaml cuts long values mid-rune: never hand the operator
			// broken UTF-8 (found by FuzzLoadConfig).
			problems = append(problems, errors.New(strings.ToValidUTF8(rewriteYAMLError(msg), "…")))
		}
		return problems, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config %s: %s", path, strings.ToValidUTF8(err.Error(), "…"))
	}
	return nil, nil
}
