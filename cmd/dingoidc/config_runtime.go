package main

import (
	"context"
	"errors"

	"github.com/dingoidc/dingoidc/idp"
)

// runtimeConfig is the validation serve and config check share, so that a
// config check passes exactly when serve would start: the file config
// (loaded with loadOptions.Serve) turned into the provider's config, every
// upstream built with deps, the master key read, and the provider's own
// rules (idp.Config.Check). The problems come as a configError, every one
// at once.
func (c *FileConfig) runtimeConfig(ctx context.Context, deps upstreamDeps) (idp.Config, error) {
	var problems []error
	add := func(err error) {
		var multi interface{ Unwrap() []error }
		if errors.As(err, &multi) {
			problems = append(problems, multi.Unwrap()...)
		} else {
			problems = append(problems, err)
		}
	}
	ups, err := c.buildUpstreams(ctx, deps)
	if err != nil {
		add(err)
	}
	icfg, err := c.IDPConfig(ups)
	if err != nil {
		add(err)
	} else if len(problems) == 0 {
		if err := icfg.Check(); err != nil {
			add(err)
		}
	}
	if len(problems) > 0 {
		return idp.Config{}, &configError{source: c.source(), problems: problems}
	}
	return icfg, nil
}
