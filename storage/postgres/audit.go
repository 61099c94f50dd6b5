package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/dingoidc/dingoidc/storage"
)

// AppendAudit records e and sets e.ID.
func (s *Store) AppendAudit(ctx context.Context, e *storage.AuditEvent) error {
	err := s.pool.QueryRow(ctx, `
		INSERT INTO audit_events (time, actor, action, target, details)
		VALUES ($1, $2, $3, $4, $5)
		RETURNING id`,
		e.Time, e.Actor, e.Action, e.Target, nullBytes(e.Details)).Scan(&e.ID)
	if err != nil {
		return fmt.Errorf("append audit: %w", mapErr(err))
	}
	return nil
}

// ListAudit returns the newest limit events, newest first (all when limit is
// not positive).
func (s *Store) ListAudit(ctx context.Context, limit int) ([]storage.AuditEvent, error) {
	var n pgtype.Int8
	if limit > 0 {
		n = pgtype.Int8{Int64: int64(limit), Valid: true}
	}
	rows, _ := s.pool.Query(ctx, `
		SELECT id, time, actor, action, target, details
		FROM audit_events
		ORDER BY time DESC, id DESC
		LIMIT $1`, n)
	es, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.AuditEvent, error) {
		var e storage.AuditEvent
		err := row.Scan(&e.ID, &e.Time, &e.Actor, &e.Action, &e.Target, &e.Details)
		e.Time = e.Time.UTC()
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", mapErr(err))
	}
	return es, nil
}

// ListAuditFiltered returns the events narrowed by f, highest ID first, in
// one query built from the filter's non-empty fields.
func (s *Store) ListAuditFiltered(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error) {
	var w where
	w.eq("actor", f.Actor)
	w.eq("action", f.Action)
	w.eq("target", f.Target)
	w.timeRange(f.From, f.To)
	w.before(f.Before)
	rows, _ := s.pool.Query(ctx, `SELECT id, time, actor, action, target, details
		FROM audit_events`+w.sql(f.Limit), w.args...)
	es, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.AuditEvent, error) {
		var e storage.AuditEvent
		err := row.Scan(&e.ID, &e.Time, &e.Actor, &e.Action, &e.Target, &e.Details)
		e.Time = e.Time.UTC()
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", mapErr(err))
	}
	return es, nil
}
