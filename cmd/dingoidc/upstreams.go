package main

import (
	"fmt"

	"github.com/dingoidc/dingoidc/upstream"
	"github.com/dingoidc/dingoidc/upstream/dingtalk"
	"github.com/dingoidc/dingoidc/upstream/upstreamtest"
	"github.com/dingoidc/dingoidc/upstream/zhezhengding"
)

// upstreamTypes maps the config's upstream `type` to a new, empty config
// of that type. Each upstream package owns its config (YAML keys, secret
// files, validation, opening the provider: see upstream.Config); an entry's
// keys other than the common ones (id, type, name, claims, bare_subject)
// are decoded strictly into it, config validation calls its Validate, and
// serve its Open. Adding an upstream type is one line here. The map is
// only written here, at initialisation (and by tests).
var upstreamTypes = map[string]func() upstream.Config{
	"dev":          func() upstream.Config { return new(upstreamtest.Config) },
	"dingtalk":     func() upstream.Config { return new(dingtalk.Config) },
	"zhezhengding": func() upstream.Config { return new(zhezhengding.Config) },
}

// upstreamDeps are what opening an upstream may need.
type upstreamDeps = upstream.Deps

// upstreamWarnings returns the upstream configs' warnings (upstream.Warner),
// each prefixed with its entry.
func (c *FileConfig) upstreamWarnings() []string {
	var out []string
	for i, u := range c.Upstreams {
		w, ok := u.Config.(upstream.Warner)
		if !ok {
			continue
		}
		for _, s := range w.Warnings() {
			out = append(out, fmt.Sprintf("upstreams[%d] (%s).%s", i, u.ID, s))
		}
	}
	return out
}
