package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/dingoidc/dingoidc/storage"
)

// migrator returns the store's migrator.
func migrator(st storage.Store) (storage.Migrator, error) {
	m, ok := st.(storage.Migrator)
	if !ok {
		return nil, errors.New("this storage backend has no migrations")
	}
	return m, nil
}

func (c *cli) migrateUp(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "", "Apply pending database migrations. The database is also migrated\n"+
		"whenever dingoidc opens it (serve and every command); migrations of\n"+
		"replicas starting together are serialised by a lock.")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	return c.withStoreMigrated(ctx, o, false, func(_ *FileConfig, st storage.Store) error {
		m, err := migrator(st)
		if err != nil {
			return err
		}
		if err := m.MigrateUp(ctx); err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
		states, err := m.MigrationStatus(ctx)
		if err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
		var version int64
		for _, s := range states {
			if s.Applied {
				version = max(version, s.Version)
			}
		}
		if o.json {
			return writeJSON(c.stdout, map[string]any{"version": version})
		}
		_, err = fmt.Fprintf(c.stdout, "database schema is at version %d\n", version)
		return err
	})
}

// migrationView is one migration in `migrate status --json`.
type migrationView struct {
	Version   int64  `json:"version"`
	Source    string `json:"source"`
	Applied   bool   `json:"applied"`
	AppliedAt string `json:"applied_at,omitempty"`
}

func (c *cli) migrateStatus(ctx context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "", "List the database migrations and whether each is applied.\n"+
		"It applies none: `migrate up` (or serve) does.")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	return c.withStoreMigrated(ctx, o, false, func(_ *FileConfig, st storage.Store) error {
		m, err := migrator(st)
		if err != nil {
			return err
		}
		states, err := m.MigrationStatus(ctx)
		if err != nil {
			return fmt.Errorf("migrate status: %w", err)
		}
		if o.json {
			out := make([]migrationView, 0, len(states))
			for _, s := range states {
				v := migrationView{Version: s.Version, Source: s.Source, Applied: s.Applied}
				if !s.AppliedAt.IsZero() {
					v.AppliedAt = s.AppliedAt.UTC().Format("2006-01-02T15:04:05Z")
				}
				out = append(out, v)
			}
			return writeJSON(c.stdout, out)
		}
		tw := newTable(c.stdout)
		fmt.Fprintln(tw, "VERSION\tSOURCE\tSTATE\tAPPLIED AT")
		for _, s := range states {
			state := "pending"
			if s.Applied {
				state = "applied"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Version, s.Source, state, formatTime(s.AppliedAt))
		}
		return tw.Flush()
	})
}
