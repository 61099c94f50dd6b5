package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/dingoidc/dingoidc/storage"
)

const signInColumns = `id, time, user_id, client_id, upstream, result, reason, client_ip, user_agent`

// AppendSignIns writes the events in one INSERT of unnested arrays (fixed
// text, one parameter per column whatever the batch size); IDs follow the
// batch order. An empty batch writes nothing and sends nothing. Events
// without a time or a result are refused before anything is written.
func (s *Store) AppendSignIns(ctx context.Context, events []storage.SignInEvent) error {
	const op = "append sign-ins"
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	var (
		times                              = make([]time.Time, n)
		users, clients, upstreams, results = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		reasons, ips, agents               = make([]string, n), make([]string, n), make([]string, n)
	)
	for i, e := range events {
		switch {
		case e.Time.IsZero():
			return fmt.Errorf("%s: event %d: no time", op, i)
		case e.Result == "":
			return fmt.Errorf("%s: event %d: no result", op, i)
		}
		times[i], users[i], clients[i], upstreams[i] = e.Time, cleanText(e.UserID), cleanText(e.ClientID), cleanText(e.Upstream)
		results[i], reasons[i] = cleanText(e.Result), cleanText(e.Reason)
		ips[i], agents[i] = cleanText(e.ClientIP), cleanText(e.UserAgent)
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO sign_ins (time, user_id, client_id, upstream, result, reason, client_ip, user_agent)
		SELECT t, u, c, p, r, why, ip, ua
		FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
			$7::text[], $8::text[]) WITH ORDINALITY AS e (t, u, c, p, r, why, ip, ua, n)
		ORDER BY n`,
		times, users, clients, upstreams, results, reasons, ips, agents)
	if err != nil {
		return fmt.Errorf("%s: %w", op, mapErr(err))
	}
	return nil
}

// ListSignIns returns the events narrowed by f, highest ID first, in one
// query built from the filter's non-empty fields.
func (s *Store) ListSignIns(ctx context.Context, f storage.SignInFilter) ([]storage.SignInEvent, error) {
	var w where
	w.eq("user_id", f.UserID)
	w.eq("client_id", f.ClientID)
	w.eq("upstream", f.Upstream)
	w.eq("result", f.Result)
	w.eq("client_ip", f.ClientIP)
	w.timeRange(f.From, f.To)
	w.before(f.Before)
	rows, _ := s.pool.Query(ctx, `SELECT `+signInColumns+` FROM sign_ins`+w.sql(f.Limit), w.args...)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.SignInEvent, error) {
		var e storage.SignInEvent
		err := row.Scan(&e.ID, &e.Time, &e.UserID, &e.ClientID, &e.Upstream, &e.Result, &e.Reason,
			&e.ClientIP, &e.UserAgent)
		e.Time = e.Time.UTC()
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("list sign-ins: %w", mapErr(err))
	}
	return out, nil
}

// DeleteSignInsBefore removes the events older than t.
func (s *Store) DeleteSignInsBefore(ctx context.Context, t time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sign_ins WHERE time < $1`, t)
	if err != nil {
		return 0, fmt.Errorf("delete sign-ins: %w", mapErr(err))
	}
	return tag.RowsAffected(), nil
}

// where builds the WHERE clause of a filtered log query: the conditions of
// the non-empty filter fields, ANDed, then newest (highest id) first.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, fmt.Sprintf(cond, len(w.args)))
}

// eq matches col exactly when v is set (cleaned as stored values are).
func (w *where) eq(col, v string) {
	if v != "" {
		w.add(col+" = $%d", cleanText(v))
	}
}

// timeRange keeps from <= time < to, each bound when set.
func (w *where) timeRange(from, to time.Time) {
	if !from.IsZero() {
		w.add("time >= $%d", from)
	}
	if !to.IsZero() {
		w.add("time < $%d", to)
	}
}

// before keeps the ids below the cursor, when set.
func (w *where) before(id int64) {
	if id > 0 {
		w.add("id < $%d", id)
	}
}

// sql returns the clause, the order and the limit (none when not positive).
func (w *where) sql(limit int) string {
	var b strings.Builder
	if len(w.conds) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(w.conds, " AND "))
	}
	b.WriteString(" ORDER BY id DESC")
	if limit > 0 {
		fmt.Fprintf(&b, " LIMIT %d", limit)
	}
	return b.String()
}

// cleanText makes a string from the outside (a User-Agent header, a search
// box) storable as text in every backend: invalid UTF-8 becomes U+FFFD and
// NUL bytes go. Stored values and filters are cleaned alike, so a filter
// still matches what was stored.
func cleanText(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}

// storable reports whether s can be stored as text unchanged.
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.Contains(s, "\x00")
}
