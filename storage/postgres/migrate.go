package postgres

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/dingoidc/dingoidc/migrations"
	"github.com/dingoidc/dingoidc/storage"
)

// MigrateUp applies the pending migrations. It holds a session advisory lock
// while it runs, so concurrent callers (replicas starting together) apply each
// migration once; the others wait and then find nothing to do.
func (s *Store) MigrateUp(ctx context.Context) error {
	err := s.withProvider(ctx, func(p *goose.Provider) error {
		_, err := p.Up(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	return nil
}

// MigrationStatus lists every known migration and whether it was applied.
func (s *Store) MigrationStatus(ctx context.Context) ([]storage.MigrationState, error) {
	var states []storage.MigrationState
	err := s.withProvider(ctx, func(p *goose.Provider) error {
		list, err := p.Status(ctx)
		if err != nil {
			return err
		}
		for _, m := range list {
			states = append(states, storage.MigrationState{
				Version:   m.Source.Version,
				Source:    path.Base(m.Source.Path),
				Applied:   m.State == goose.StateApplied,
				AppliedAt: m.AppliedAt.UTC(),
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	return states, nil
}

// withProvider runs fn with a goose provider on a database/sql handle of its
// own (goose speaks database/sql), closed afterwards.
func (s *Store) withProvider(ctx context.Context, fn func(p *goose.Provider) error) (err error) {
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockTimeout(1, 600), // retry every second for up to 10 minutes
		lock.WithUnlockTimeout(1, 60),
	)
	if err != nil {
		return err
	}
	db := stdlib.OpenDB(*s.connCfg)
	defer func() { err = errors.Join(err, db.Close()) }()
	db.SetMaxOpenConns(2)
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.Postgres(),
		goose.WithSessionLocker(locker))
	if err != nil {
		return err
	}
	return mapErr(fn(p))
}
