package dingtalksim

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
)

// The embedded test directory: two corps, three apps and eight people.
//
//go:embed testdata/apps.json testdata/corps.json testdata/people.json
var fixtureFS embed.FS

// Fixture returns the embedded test directory
// (testdata/apps.json, corps.json, people.json)
// as options with Apps, Corps and People filled in and the rest zero. Every
// call returns a fresh copy, free to change.
func Fixture() (Options, error) {
	var fx Options
	for _, f := range []struct {
		name string
		v    any
	}{
		{"testdata/apps.json", &fx.Apps},
		{"testdata/corps.json", &fx.Corps},
		{"testdata/people.json", &fx.People},
	} {
		b, err := fixtureFS.ReadFile(f.name)
		if err != nil {
			return Options{}, fmt.Errorf("simulator: read dingtalk fixture: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(f.v); err != nil {
			return Options{}, fmt.Errorf("simulator: parse dingtalk fixture %s: %w", f.name, err)
		}
	}
	return fx, nil
}
