package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/storage/postgres"
	"github.com/dingoidc/dingoidc/storage/sqlite"
)

// openStore opens the configured database; both backends apply pending
// migrations when they open. For sqlite it creates data_dir (and the
// file's directory) first, mode 0700.
func openStore(ctx context.Context, cfg *FileConfig) (storage.Store, error) {
	return openStoreWith(ctx, cfg, true)
}

// openStoreWith is openStore; migrate false applies no migration (migrate
// status only reports).
func openStoreWith(ctx context.Context, cfg *FileConfig, migrate bool) (storage.Store, error) {
	switch cfg.Storage.Driver {
	case "sqlite":
		for _, dir := range []string{cfg.DataDir, filepath.Dir(cfg.Storage.Path)} {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("open store: %w", err)
			}
		}
		open := sqlite.Open
		if !migrate {
			open = sqlite.OpenUnmigrated
		}
		st, err := open(ctx, cfg.Storage.Path)
		if err != nil {
			return nil, err
		}
		return st, nil
	case "postgres":
		dsn, err := cfg.DSN()
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		open := postgres.Open
		if !migrate {
			open = postgres.OpenUnmigrated
		}
		st, err := open(ctx, dsn.Value())
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	return nil, fmt.Errorf("open store: unknown storage driver %q", cfg.Storage.Driver)
}

// withStore loads the config, opens the store, runs fn and closes the
// store.
func (c *cli) withStore(ctx context.Context, o *cmdOptions, fn func(cfg *FileConfig, st storage.Store) error) (err error) {
	return c.withStoreMigrated(ctx, o, true, fn)
}

// withStoreMigrated is withStore; migrate false applies no migration.
func (c *cli) withStoreMigrated(ctx context.Context, o *cmdOptions, migrate bool, fn func(cfg *FileConfig, st storage.Store) error) (err error) {
	cfg, err := c.load(o)
	if err != nil {
		return err
	}
	st, err := openStoreWith(ctx, cfg, migrate)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
	}()
	return fn(cfg, st)
}
