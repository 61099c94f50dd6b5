package sqlite

import (
	"context"

	"github.com/dingoidc/dingoidc/storage"
)

const (
	qAppendAudit = `INSERT INTO audit_events (time, actor, action, target, details)
		VALUES (?, ?, ?, ?, ?) RETURNING id`
	qListAudit = `SELECT id, time, actor, action, target, details
		FROM audit_events ORDER BY time DESC, id DESC LIMIT ?`
)

// AppendAudit records an event and sets e.ID.
func (s *Store) AppendAudit(ctx context.Context, e *storage.AuditEvent) error {
	err := s.writeRow(ctx, s.db, qAppendAudit,
		[]any{timeArg(e.Time), e.Actor, e.Action, e.Target, jsonArg(e.Details)}, &e.ID)
	return mapErr("append audit", err)
}

// ListAudit returns the newest events first; limit <= 0 means all.
func (s *Store) ListAudit(ctx context.Context, limit int) ([]storage.AuditEvent, error) {
	const op = "list audit"
	n := int64(-1) // SQLite: no limit
	if limit > 0 {
		n = int64(limit)
	}
	rows, err := s.query(ctx, s.db, qListAudit, n)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []storage.AuditEvent
	for rows.Next() {
		var e storage.AuditEvent
		if err := rows.Scan(&e.ID, (*timeCol)(&e.Time), &e.Actor, &e.Action, &e.Target, &e.Details); err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// ListAuditFiltered returns the events narrowed by f, highest ID first, in
// one query built from the filter's non-empty fields.
func (s *Store) ListAuditFiltered(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error) {
	const op = "list audit"
	var w where
	w.eq("actor", f.Actor)
	w.eq("action", f.Action)
	w.eq("target", f.Target)
	w.timeRange(f.From, f.To)
	w.before(f.Before)
	rows, err := s.query(ctx, s.db, `SELECT id, time, actor, action, target, details
		FROM audit_events`+w.sql(f.Limit), w.args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []storage.AuditEvent
	for rows.Next() {
		var e storage.AuditEvent
		if err := rows.Scan(&e.ID, (*timeCol)(&e.Time), &e.Actor, &e.Action, &e.Target, &e.Details); err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}
