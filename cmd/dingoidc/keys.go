package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/dingoidc/dingoidc/idp/keys"
	"github.com/dingoidc/dingoidc/storage"
)

// keyView is one signing key in `keys list --json` and `keys rotate --json`.
type keyView struct {
	ID         string     `json:"kid"`
	Algorithm  string     `json:"alg"`
	State      keys.State `json:"state,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	ActiveFrom time.Time  `json:"active_from"`
	RetireAt   *time.Time `json:"retire_at,omitempty"`
}

func viewKey(k keys.KeyInfo) keyView {
	v := keyView{ID: k.ID, Algorithm: k.Algorithm, State: k.State,
		CreatedAt: k.CreatedAt.UTC(), ActiveFrom: k.ActiveFrom.UTC()}
	if !k.RetireAt.IsZero() {
		t := k.RetireAt.UTC()
		v.RetireAt = &t
	}
	return v
}

// keyManager returns a keys.Manager over st; with needSecret it needs the
// master key (to create keys), without it it only reads.
func keyManager(cfg *FileConfig, st storage.Store, logger *slog.Logger, needSecret bool) (*keys.Manager, error) {
	var sealer *keys.Sealer
	if needSecret {
		mk, err := cfg.MasterKey()
		if err != nil {
			return nil, fmt.Errorf("master key: %w", err)
		}
		if sealer, err = keys.NewSealer(mk); err != nil {
			return nil, err
		}
	}
	return keys.NewManager(st, sealer, cfg.keysOptions(logger)), nil
}

func (c *cli) keysList(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "", "List the signing keys: the one signing now, the next one (published\n"+
		"ahead) and retired ones still published until every token they signed\n"+
		"has expired.")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	return c.withStore(ctx, o, func(cfg *FileConfig, st storage.Store) error {
		m, err := keyManager(cfg, st, cfg.newLogger(c.stderr), false)
		if err != nil {
			return err
		}
		infos, err := m.List(ctx)
		if err != nil {
			return err
		}
		if o.json {
			out := make([]keyView, 0, len(infos))
			for _, k := range infos {
				out = append(out, viewKey(k))
			}
			return writeJSON(c.stdout, out)
		}
		if len(infos) == 0 {
			_, err := fmt.Fprintln(c.stdout, "no signing keys yet (serve creates the first one)")
			return err
		}
		tw := newTable(c.stdout)
		fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tSIGNS FROM\tRETIRES AT")
		for _, k := range infos {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.State,
				formatTime(k.CreatedAt), formatTime(k.ActiveFrom), formatTime(k.RetireAt))
		}
		return tw.Flush()
	})
}

func (c *cli) keysRotate(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "", "Add a new signing key. It is published at once and signs after\n"+
		"keys.publish_ahead, so relying parties that cache the JWKS learn it\n"+
		"first; with --now it signs as soon as every replica publishes it\n"+
		"(keys.cache_ttl, 30s by default, plus a second: when every replica\n"+
		"has reloaded the key set; for a current key that may be compromised).\n"+
		"Run it with the replicas' config, so it uses their keys.cache_ttl.\n"+
		"Needs the master key. Recorded in the audit log.")
	now := fs.Bool("now", false, "sign with the new key as soon as every replica publishes it")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	return c.withStore(ctx, o, func(cfg *FileConfig, st storage.Store) error {
		m, err := keyManager(cfg, st, cfg.newLogger(c.stderr), true)
		if err != nil {
			return err
		}
		k, err := m.Rotate(ctx, *now)
		if err != nil {
			return err
		}
		v := keyView{ID: k.ID, Algorithm: k.Algorithm, CreatedAt: k.CreatedAt.UTC(), ActiveFrom: k.ActiveFrom.UTC()}
		if o.json {
			return writeJSON(c.stdout, v)
		}
		when := "signs from " + formatTime(k.ActiveFrom)
		if *now {
			when = "signs as soon as every replica publishes it (from " + formatTime(k.ActiveFrom) + ")"
		}
		_, err = fmt.Fprintf(c.stdout, "new signing key %s (%s): published now, %s\n", k.ID, k.Algorithm, when)
		return err
	})
}
