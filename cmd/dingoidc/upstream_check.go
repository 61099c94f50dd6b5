package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/dingoidc/dingoidc/idp"
	"github.com/dingoidc/dingoidc/upstream"
)

func (c *cli) upstreamCheck(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "[ID]", "Check each configured upstream (or the one named ID) against the real service\n"+
		"with the real credentials, as a login would but without a person: the login\n"+
		"page's answer to our callback (its registered domain), the app token (the key\n"+
		"pair, this server's IP), a permission probe, the gateway's clock against ours.\n"+
		"One line per check says what to fix; exit status 1 when something will break\n"+
		"logins. Nothing is written.")
	rest, err := c.parse(fs, args, 0, 1)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(o.config, c.getenv, loadOptions{Serve: true})
	if err != nil {
		return err
	}
	only := ""
	if len(rest) == 1 {
		only = rest[0]
	}
	checks, err := cfg.checkUpstreams(ctx, only)
	if err != nil {
		return err
	}
	if o.json {
		if err := writeJSON(c.stdout, map[string]any{"ok": !checks.fatal(), "checks": checks}); err != nil {
			return err
		}
	} else if err := checks.print(c.stdout); err != nil {
		return err
	}
	return checks.err()
}

// upstreamCheckLine is one check of one upstream.
type upstreamCheckLine struct {
	Upstream string `json:"upstream"`
	Check    string `json:"check"`
	OK       bool   `json:"ok"`
	Fatal    bool   `json:"fatal,omitempty"`
	Detail   string `json:"detail"`
}

type upstreamChecks []upstreamCheckLine

// checkUpstreams opens the configured upstreams (all, or the one named
// only) and runs their checks (upstream.Checker).
func (c *FileConfig) checkUpstreams(ctx context.Context, only string) (upstreamChecks, error) {
	if only != "" {
		found := false
		for _, u := range c.Upstreams {
			found = found || u.ID == only
		}
		if !found {
			return nil, fmt.Errorf("no upstream %q in the config", only)
		}
	}
	ups, err := c.buildUpstreams(ctx, upstreamDeps{
		HTTPClient: &http.Client{Timeout: time.Minute},
		Logger:     slog.New(slog.DiscardHandler),
		// A "dev" upstream opens, to say it has nothing to check.
		Dev: true, Issuer: c.Issuer, Mount: func(string, http.Handler) {},
	})
	if err != nil {
		return nil, err
	}
	var out upstreamChecks
	for _, u := range ups {
		if only != "" && u.ID != only {
			continue
		}
		ch, ok := u.Provider.(upstream.Checker)
		if !ok {
			out = append(out, upstreamCheckLine{Upstream: u.ID, Check: "-", OK: true, Detail: "type " + u.Provider.Type() + " has no checks"})
			continue
		}
		for _, r := range ch.Check(ctx, upstream.CheckRequest{RedirectURI: idp.CallbackURL(c.Issuer, u.ID)}) {
			out = append(out, upstreamCheckLine{Upstream: u.ID, Check: r.Name, OK: r.OK, Fatal: !r.OK && r.Fatal, Detail: r.Detail})
		}
	}
	return out, nil
}

// fatal reports a failed check that breaks logins.
func (cs upstreamChecks) fatal() bool {
	for _, l := range cs {
		if l.Fatal {
			return true
		}
	}
	return false
}

func (cs upstreamChecks) print(w io.Writer) error {
	tw := newTable(w)
	for _, l := range cs {
		verdict := "ok"
		switch {
		case l.Fatal:
			verdict = "FAIL"
		case !l.OK:
			verdict = "warn"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Upstream, verdict, l.Check, l.Detail)
	}
	return tw.Flush()
}

// err is the command's failure when a check breaks logins.
func (cs upstreamChecks) err() error {
	var names []string
	for _, l := range cs {
		if l.Fatal {
			names = append(names, l.Upstream+": "+l.Check)
		}
	}
	if len(names) == 0 {
		return nil
	}
	return fmt.Errorf("upstream check: %d problem(s) will break logins (%s)", len(names), strings.Join(names, "; "))
}
