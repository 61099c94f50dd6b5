package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/dingoidc/dingoidc/idp/keys"
)

func (c *cli) configCheck(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "", "Validate the config (file, then DINGOIDC_* variables) as serve would and\n"+
		"print \"config OK\" with a summary in which every secret is redacted, or\n"+
		"every problem, one a line. Nothing is written (not even the database).")
	dev := fs.Bool("dev", false, "check as serve --dev would run (a dev upstream is allowed)")
	online := fs.Bool("online", false, "also check each upstream against the real service (as dingoidc upstream check)")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	cfg, err := loadConfig(o.config, c.getenv, loadOptions{Serve: true, Dev: *dev})
	if err == nil {
		ephemeralKey := cfg.dev && cfg.SecretKey == "" && cfg.SecretKeyFile == ""
		if ephemeralKey {
			// serve --dev would create data_dir/master-key; check writes
			// nothing, so it checks with a key of its own.
			cfg.SecretKey = Secret(keys.GenerateMasterKey())
		}
		if cfg.dev && len(cfg.Upstreams) == 0 { // as serve --dev does
			if cfg.Upstreams, err = mountDevSimulators(cfg.Issuer, http.NewServeMux()); err != nil {
				return err
			}
		}
		// What serve does next with the config, short of opening the
		// database: one function for both (config_runtime.go).
		_, err = cfg.runtimeConfig(ctx, upstreamDeps{
			HTTPClient: &http.Client{Timeout: time.Minute},
			Logger:     slog.New(slog.DiscardHandler),
			Dev:        cfg.dev,
			Issuer:     cfg.Issuer,
			Mount:      func(string, http.Handler) {},
		})
		if ephemeralKey {
			cfg.SecretKey = ""
		}
	}
	var ce *configError
	if errors.As(err, &ce) && o.json {
		problems := make([]string, 0, len(ce.problems))
		for _, p := range ce.problems {
			problems = append(problems, p.Error())
		}
		if werr := writeJSON(c.stdout, map[string]any{"ok": false, "source": ce.source, "problems": problems}); werr != nil {
			return werr
		}
	}
	if err != nil {
		return err
	}
	warnings := cfg.upstreamWarnings()
	var checks upstreamChecks
	if *online {
		if checks, err = cfg.checkUpstreams(ctx, ""); err != nil {
			return err
		}
	}
	if o.json {
		out := map[string]any{"ok": !checks.fatal(), "source": cfg.source(), "config": cfg, "warnings": warnings}
		if *online {
			out["upstream_checks"] = checks
		}
		if err := writeJSON(c.stdout, out); err != nil {
			return err
		}
		return checks.err()
	}
	fmt.Fprintf(c.stdout, "config OK: %s\n\n", cfg.source())
	for _, w := range warnings {
		fmt.Fprintf(c.stdout, "warning: %s\n", w)
	}
	if len(warnings) > 0 {
		fmt.Fprintln(c.stdout)
	}
	if err := cfg.printSummary(c.stdout); err != nil {
		return err
	}
	if *online {
		fmt.Fprintln(c.stdout)
		if err := checks.print(c.stdout); err != nil {
			return err
		}
	}
	return checks.err()
}

// printSummary writes the effective config as a table, secrets redacted,
// noting the values set by DINGOIDC_* variables.
func (c *FileConfig) printSummary(w io.Writer) error {
	tw := newTable(w)
	row := func(key, value string) {
		if env, ok := c.fromEnv[key]; ok {
			value += "  (" + env + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\n", key, value)
	}
	row("issuer", c.Issuer)
	row("listen", c.Listen)
	if c.TLSConfig.enabled() {
		row("tls_cert_file", c.CertFile+" (https; key "+c.KeyFile+")")
	}
	row("data_dir", c.DataDir)
	row("storage.driver", c.Storage.Driver)
	switch {
	case c.Storage.Driver == "sqlite":
		row("storage.path", c.Storage.Path)
	case c.Storage.DSNFile != "":
		row("storage.dsn_file", c.Storage.DSNFile)
	default:
		row("storage.dsn", c.Storage.DSN.String())
	}
	switch {
	case c.SecretKeyFile != "":
		row("secret_key_file", c.SecretKeyFile)
	case c.SecretKey != "":
		row("secret_key", c.SecretKey.String())
	case c.dev:
		row("secret_key", "generated in "+c.DataDir+"/"+devKeyFileName+" (dev)")
	}
	t := c.Tokens
	row("tokens", fmt.Sprintf("id %s, access %s, refresh %s (at most %s), session %s, login %s, code %s, refresh grace %s",
		t.IDTokenTTL, t.AccessTokenTTL, t.RefreshTokenTTL, t.RefreshTokenMaxTTL, t.SessionTTL, t.LoginTTL, t.CodeTTL, t.RefreshGrace))
	row("access_token_format", c.AccessTokenFormat)
	row("keys", fmt.Sprintf("rotation %s, published %s ahead, cached %s per replica", c.Keys.RotationPeriod, c.Keys.PublishAhead, c.Keys.CacheTTL))
	row("log.level", c.Log.Level)
	row("log.format", c.Log.Format)
	if len(c.Upstreams) == 0 {
		row("upstreams", "none")
	}
	for i, u := range c.Upstreams {
		desc := fmt.Sprintf("%s: %s, %q", u.ID, u.Type, u.Name)
		if len(u.Claims) > 0 {
			desc += ", claims: " + strings.Join(slices.Sorted(maps.Keys(u.Claims)), " ")
		}
		if u.BareSubject {
			desc += ", bare subjects"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label(i, "upstreams"), desc)
	}
	if len(c.Clients) == 0 {
		row("clients", "none in the file")
	}
	for i, sc := range c.Clients {
		kind := "confidential"
		switch {
		case sc.Public:
			kind = "public"
		case sc.SecretFile != "":
			kind = "confidential, secret from " + sc.SecretFile
		}
		desc := fmt.Sprintf("%s: %s, %s", sc.ID, kind, strings.Join(sc.RedirectURIs, " "))
		if len(sc.AllowedGroups) > 0 {
			desc += ", groups: " + strings.Join(sc.AllowedGroups, " ")
		}
		if len(sc.AllowedTenants) > 0 {
			desc += ", tenants: " + strings.Join(sc.AllowedTenants, " ")
		}
		if sc.LegacyAPI {
			desc += ", legacy API"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label(i, "clients"), desc)
	}
	switch a := c.Admin; {
	case len(a.Subjects) == 0 && len(a.Groups) == 0:
		row("admin", "nobody (no console; admin API tokens only)")
	default:
		row("admin", fmt.Sprintf("subjects: %s; groups: %s", orDash(strings.Join(a.Subjects, " ")), orDash(strings.Join(a.Groups, " "))))
	}
	return tw.Flush()
}
