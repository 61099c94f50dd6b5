package simulator

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
)

// The embedded test directory: two corps, three apps and eight people.
//
//go:embed testdata/dingtalk_apps.json testdata/dingtalk_corps.json testdata/dingtalk_people.json
var dingTalkFixtureFS embed.FS

// DingTalkFixture returns the embedded test directory
// (testdata/dingtalk_apps.json, dingtalk_corps.json, dingtalk_people.json)
// as options with Apps, Corps and People filled in and the rest zero. Every
// call returns a fresh copy, free to change.
func DingTalkFixture() (DingTalkOptions, error) {
	var fx DingTalkOptions
	for _, f := range []struct {
		name string
		v    any
	}{
		{"testdata/dingtalk_apps.json", &fx.Apps},
		{"testdata/dingtalk_corps.json", &fx.Corps},
		{"testdata/dingtalk_people.json", &fx.People},
	} {
		b, err := dingTalkFixtureFS.ReadFile(f.name)
		if err != nil {
			return DingTalkOptions{}, fmt.Errorf("simulator: read dingtalk fixture: %w", err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(f.v); err != nil {
			return DingTalkOptions{}, fmt.Errorf("simulator: parse dingtalk fixture %s: %w", f.name, err)
		}
	}
	return fx, nil
}
