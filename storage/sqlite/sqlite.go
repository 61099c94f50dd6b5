// Package sqlite implements storage.Store on an embedded SQLite database
// (modernc.org/sqlite, pure Go): dingoidc's default for a single node, one
// file that survives restarts.
//
// The database runs in WAL mode so that reads proceed while one connection
// writes; every explicit transaction is BEGIN IMMEDIATE (it takes the write
// lock up front, so a read-then-write transaction never fails to upgrade its
// lock), and
// writers that find the lock taken wait up to busy_timeout. Times are INTEGER
// unix nanoseconds in UTC (NULL for the zero time), which limits them to the
// years 1678–2262.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/dingoidc/dingoidc/migrations"
	"github.com/dingoidc/dingoidc/storage"
)

var (
	_ storage.Store         = (*Store)(nil)
	_ storage.StatsReporter = (*Store)(nil)
	_ storage.Migrator      = (*Store)(nil)
)

// busyTimeout is how long a writer waits for the write lock.
const busyTimeout = 10 * time.Second

// Store is a storage.Store on one SQLite file. It is safe for concurrent use.
type Store struct {
	db         *sql.DB
	migrations *goose.Provider
	// stmts holds the fixed queries, prepared once at Open (database/sql
	// prepares each again on every connection it runs on, once). Queries
	// not in it run unprepared.
	stmts map[string]*sql.Stmt

	statements atomic.Int64
	rowWrites  atomic.Int64
}

// Open opens (creating it if needed) the SQLite database at path and
// migrates it to the latest schema. path is a file name; in-memory
// databases are refused (every pooled connection would get its own).
func Open(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, true)
}

// OpenUnmigrated opens the database like Open but applies no migration and
// prepares no statement: for `migrate status`, which must only report. Use
// MigrateUp before anything else on a database with pending migrations.
func OpenUnmigrated(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, false)
}

func open(ctx context.Context, path string, migrate bool) (*Store, error) {
	if path == "" || path == ":memory:" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open sqlite: invalid path %q: want a file name without '?'", path)
	}
	if err := secureFiles(path); err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// Readers run in parallel under WAL; writers are serialised by SQLite's
	// write lock. Idle connections are kept, with their prepared statements.
	conns := max(4, runtime.GOMAXPROCS(0))
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)

	s, err := newStore(ctx, db, migrate)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return s, nil
}

func newStore(ctx context.Context, db *sql.DB, migrate bool) (*Store, error) {
	if err := db.PingContext(ctx); err != nil {
		return nil, mapErr("ping", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, migrations.SQLite(),
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	s := &Store{db: db, migrations: p, stmts: map[string]*sql.Stmt{}}
	if !migrate {
		return s, nil // statements run unprepared (see on)
	}
	if err := s.MigrateUp(ctx); err != nil {
		return nil, err
	}
	for _, q := range preparedQueries {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			s.closeStmts()
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
		s.stmts[q] = st
	}
	return s, nil
}

// preparedQueries are the queries prepared at Open: every fixed one.
var preparedQueries = []string{
	qCreateClient, qGetClient, qListClients, qUpdateClient, qUpdateClientIf, qClientExists,
	qDeleteClient, qRevokeClientGrants,
	qUpsertUser, qGetUser, qListUsers, qEnableUser, qDisableUser, qDeleteUserSessions, qRevokeUserGrants,
	qSetUserChecked, qListUserSessions, qListUserGrants, qUserExists,
	qCreateSession, qGetSession, qDeleteSession, qRevokeSessionGrants,
	qUserForGrant, qCreateGrant, qRevokeGrantByCode, qRevokeGrant, qGetGrant, qGetGrantByRefreshID,
	qRotateRefresh, qWhyNotRotated,
	qGetKeySet, qBumpKeySet, qDeleteSigningKeys,
	qAppendAudit, qListAudit, qAppendSignIns, qDeleteSignInsBefore,
	qCreateAdminToken, qGetAdminTokenByHash, qListAdminTokens, qRevokeAdminToken, qTouchAdminToken,
	qDeleteExpiredSessions, qDeleteExpiredGrants, qDeleteRetiredKeys, qKeySetChanged, qDeleteOldAdminTokens,
}

func (s *Store) closeStmts() {
	for _, st := range s.stmts {
		st.Close()
	}
}

// dsn builds the modernc.org/sqlite DSN for a file path: the driver takes
// its parameters after a '?' and opens the path before it.
func dsn(file string) string { return dsnWith(file, busyTimeout) }

// dsnWith is dsn with another busy timeout (tests of a held lock).
func dsnWith(file string, busy time.Duration) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	return file + "?" + q.Encode()
}

// Close closes the database.
func (s *Store) Close() error {
	s.closeStmts()
	return s.db.Close()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return mapErr("ping", err)
	}
	return nil
}

// Stats reports the statements run and rows written since Open. BEGIN and
// COMMIT are not counted; a statement with RETURNING counts its returned
// rows as writes.
func (s *Store) Stats() storage.Stats {
	return storage.Stats{
		Statements: s.statements.Load(),
		RowWrites:  s.rowWrites.Load(),
	}
}

// MigrateUp applies the pending migrations. Open already does.
func (s *Store) MigrateUp(ctx context.Context) error {
	if _, err := s.migrations.Up(ctx); err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	return nil
}

// MigrationStatus lists every known migration and whether it was applied.
func (s *Store) MigrationStatus(ctx context.Context) ([]storage.MigrationState, error) {
	status, err := s.migrations.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]storage.MigrationState, 0, len(status))
	for _, st := range status {
		m := storage.MigrationState{Applied: st.State == goose.StateApplied}
		if st.Source != nil {
			m.Version = st.Source.Version
			m.Source = path.Base(st.Source.Path)
		}
		if !st.AppliedAt.IsZero() {
			m.AppliedAt = st.AppliedAt.UTC()
		}
		out = append(out, m)
	}
	return out, nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// stmtQuerier runs one prepared statement, on the database or in a
// transaction, behind the querier methods (the query argument is ignored).
type stmtQuerier struct{ st *sql.Stmt }

func (p stmtQuerier) ExecContext(ctx context.Context, _ string, args ...any) (sql.Result, error) {
	return p.st.ExecContext(ctx, args...)
}

func (p stmtQuerier) QueryContext(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
	return p.st.QueryContext(ctx, args...)
}

func (p stmtQuerier) QueryRowContext(ctx context.Context, _ string, args ...any) *sql.Row {
	return p.st.QueryRowContext(ctx, args...)
}

// on counts a statement and returns where to run query: its prepared
// statement when there is one, q itself otherwise.
func (s *Store) on(ctx context.Context, q querier, query string) querier {
	s.statements.Add(1)
	st, ok := s.stmts[query]
	if !ok {
		return q
	}
	if tx, ok := q.(*sql.Tx); ok {
		st = tx.StmtContext(ctx, st)
	}
	return stmtQuerier{st}
}

// exec runs a statement without result rows and returns the rows it changed.
func (s *Store) exec(ctx context.Context, q querier, query string, args ...any) (int64, error) {
	res, err := s.on(ctx, q, query).ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	s.rowWrites.Add(n)
	return n, nil
}

// query runs a read returning rows.
func (s *Store) query(ctx context.Context, q querier, query string, args ...any) (*sql.Rows, error) {
	return s.on(ctx, q, query).QueryContext(ctx, query, args...)
}

// queryRow runs a read returning at most one row.
func (s *Store) queryRow(ctx context.Context, q querier, query string, args ...any) *sql.Row {
	return s.on(ctx, q, query).QueryRowContext(ctx, query, args...)
}

// writeRow runs a write with RETURNING that changes at most one row and
// scans it into dest; sql.ErrNoRows when it changed nothing.
func (s *Store) writeRow(ctx context.Context, q querier, query string, args []any, dest ...any) error {
	if err := s.on(ctx, q, query).QueryRowContext(ctx, query, args...).Scan(dest...); err != nil {
		return err
	}
	s.rowWrites.Add(1)
	return nil
}

// inTx runs fn in an immediate transaction and commits it if fn succeeds.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback() // fn's error says what went wrong
		return err
	}
	return tx.Commit()
}
