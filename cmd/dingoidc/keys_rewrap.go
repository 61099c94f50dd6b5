package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/dingoidc/dingoidc/idp/keys"
	"github.com/dingoidc/dingoidc/storage"
)

// rewrapView is `keys rewrap --json`.
type rewrapView struct {
	Rewrapped int      `json:"rewrapped"`
	Already   int      `json:"already"`
	KIDs      []string `json:"kids"`
	NewKey    string   `json:"new_key_file"`
}

func (c *cli) keysRewrap(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "", "Re-encrypt the signing keys under a new master key (master-key rotation).\n"+
		"The current key comes from the config (secret_key_file…), the new one\n"+
		"from --new-key-file (e.g. `openssl rand -base64 32 > new-key`). Stop\n"+
		"every dingoidc first; afterwards point secret_key_file at the new key on\n"+
		"every replica and start them. Refresh tokens, opaque access tokens and\n"+
		"SSO sessions end (people sign in again); ID tokens and JWT access tokens\n"+
		"stay valid. See docs/operations-backup.md. Recorded in the audit log.")
	newKeyFile := fs.String("new-key-file", "", "`FILE` holding the new 32-byte master key (base64 or hex)")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *newKeyFile == "" {
		fs.usage(c.stderr)
		return errors.New("keys rewrap: --new-key-file is required")
	}
	s, err := readSecretFile(*newKeyFile)
	if err != nil {
		return fmt.Errorf("new master key: %w", err)
	}
	newKey, err := keys.ParseMasterKey(s.Value())
	if err != nil {
		return fmt.Errorf("new master key %s: %w", *newKeyFile, err)
	}
	newSealer, err := keys.NewSealer(newKey)
	if err != nil {
		return err
	}
	return c.withStore(ctx, o, func(cfg *FileConfig, st storage.Store) error {
		oldKey, err := cfg.MasterKey()
		if err != nil {
			return fmt.Errorf("current master key: %w", err)
		}
		if bytes.Equal(oldKey, newKey) {
			return fmt.Errorf("keys rewrap: %s holds the current master key; generate a new one (openssl rand -base64 32)", *newKeyFile)
		}
		oldSealer, err := keys.NewSealer(oldKey)
		if err != nil {
			return err
		}
		res, err := keys.Rewrap(ctx, st, oldSealer, newSealer, c.now())
		if err != nil {
			return err
		}
		if o.json {
			return writeJSON(c.stdout, rewrapView{Rewrapped: res.Rewrapped, Already: res.Already, KIDs: nonNil(res.KIDs), NewKey: *newKeyFile})
		}
		if len(res.KIDs) == 0 {
			_, err := fmt.Fprintf(c.stdout, "no signing keys yet: nothing to re-encrypt; use %s as secret_key_file from now on\n", *newKeyFile)
			return err
		}
		_, err = fmt.Fprintf(c.stdout, "re-encrypted %d signing key(s) under the master key in %s (%d already were).\n"+
			"Now set secret_key_file to %s (or copy it over the old key file) on every replica, then start dingoidc.\n"+
			"Keep the old key with the backups made before today: they need it.\n",
			res.Rewrapped, *newKeyFile, res.Already, *newKeyFile)
		return err
	})
}
