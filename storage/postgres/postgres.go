package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dingoidc/dingoidc/storage"
)

// defaultConnectTimeout bounds one connection attempt when the DSN sets no
// connect_timeout.
const defaultConnectTimeout = 10 * time.Second

// Store is a storage.Store on a pgx connection pool.
type Store struct {
	pool    *pgxpool.Pool
	connCfg *pgx.ConnConfig // for migrations, without the statement counter
	stats   *counter
}

var (
	_ storage.Store         = (*Store)(nil)
	_ storage.StatsReporter = (*Store)(nil)
	_ storage.Migrator      = (*Store)(nil)
)

// Open connects to the database named by dsn (a postgres:// URL or
// key=value string, with pgxpool settings such as pool_max_conns), checks the
// connection and applies pending migrations. Several processes may Open the
// same database at once: migrations are serialized by an advisory lock.
// Connection failures wrap storage.ErrUnavailable. Sessions run at READ
// COMMITTED whatever the server's default.
func Open(ctx context.Context, dsn string) (*Store, error) {
	return open(ctx, dsn, true)
}

// OpenUnmigrated connects like Open but applies no migration: for
// `migrate status`, which must only report. Use MigrateUp before anything
// else on a database with pending migrations.
func OpenUnmigrated(ctx context.Context, dsn string) (*Store, error) {
	return open(ctx, dsn, false)
}

func open(ctx context.Context, dsn string, migrate bool) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: parse dsn: %w", err)
	}
	// Every statement is written for READ COMMITTED; a server or database
	// defaulting to SERIALIZABLE would make them fail under contention.
	if _, set := cfg.ConnConfig.RuntimeParams["default_transaction_isolation"]; !set {
		cfg.ConnConfig.RuntimeParams["default_transaction_isolation"] = "read committed"
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		// A server that does not answer (a host down, packets dropped) is
		// reported as unreachable after this, not the kernel's minutes.
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	s := &Store{
		connCfg: cfg.ConnConfig.Copy(),
		stats:   &counter{},
	}
	cfg.ConnConfig.Tracer = s.stats
	s.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", mapErr(err))
	}
	if err := s.pool.Ping(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("open postgres: %w", mapErr(err))
	}
	if !migrate {
		return s, nil
	}
	if err := s.MigrateUp(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return s, nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	s.stats.statements.Add(1) // pgx does not trace pings
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping: %w", mapErr(err))
	}
	return nil
}

// Close waits for connections in use to be released and closes the pool.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Stats reports the statements sent and rows written since Open.
func (s *Store) Stats() storage.Stats { return s.stats.snapshot() }

// inTx runs fn in a READ COMMITTED transaction, committing when fn returns
// nil and rolling back otherwise.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, fn)
}
