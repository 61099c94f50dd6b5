package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dingoidc/dingoidc/storage"
)

// qAppendSignIns inserts a whole batch, given as one JSON array, in one
// statement of fixed text (prepared once, no limit on host parameters).
// json_each yields the array in order, so IDs follow the batch order.
const qAppendSignIns = `INSERT INTO sign_ins
		(time, user_id, client_id, upstream, result, reason, client_ip, user_agent)
	SELECT json_extract(value, '$.t'), json_extract(value, '$.u'), json_extract(value, '$.c'),
		json_extract(value, '$.p'), json_extract(value, '$.r'), json_extract(value, '$.why'),
		json_extract(value, '$.ip'), json_extract(value, '$.ua')
	FROM json_each(?) ORDER BY key`

const signInColumns = `id, time, user_id, client_id, upstream, result, reason, client_ip, user_agent`

// signInRow is one event as qAppendSignIns reads it.
type signInRow struct {
	Time      int64  `json:"t"`
	UserID    string `json:"u"`
	ClientID  string `json:"c"`
	Upstream  string `json:"p"`
	Result    string `json:"r"`
	Reason    string `json:"why"`
	ClientIP  string `json:"ip"`
	UserAgent string `json:"ua"`
}

// AppendSignIns writes the events in one INSERT; an empty batch writes
// nothing and runs nothing. Events without a time or a result are refused
// before anything is written.
func (s *Store) AppendSignIns(ctx context.Context, events []storage.SignInEvent) error {
	const op = "append sign-ins"
	if len(events) == 0 {
		return nil
	}
	rows := make([]signInRow, len(events))
	for i, e := range events {
		if err := validSignIn(e); err != nil {
			return fmt.Errorf("%s: event %d: %w", op, i, err)
		}
		rows[i] = signInRow{e.Time.UnixNano(), cleanText(e.UserID), cleanText(e.ClientID),
			cleanText(e.Upstream), cleanText(e.Result), cleanText(e.Reason), cleanText(e.ClientIP),
			cleanText(e.UserAgent)}
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	_, err = s.exec(ctx, s.db, qAppendSignIns, string(b))
	return mapErr(op, err)
}

func validSignIn(e storage.SignInEvent) error {
	switch {
	case e.Time.IsZero():
		return fmt.Errorf("no time")
	case e.Result == "":
		return fmt.Errorf("no result")
	}
	return nil
}

// ListSignIns returns the events narrowed by f, highest ID first, in one
// query built from the filter's non-empty fields.
func (s *Store) ListSignIns(ctx context.Context, f storage.SignInFilter) ([]storage.SignInEvent, error) {
	const op = "list sign-ins"
	var w where
	w.eq("user_id", f.UserID)
	w.eq("client_id", f.ClientID)
	w.eq("upstream", f.Upstream)
	w.eq("result", f.Result)
	w.eq("client_ip", f.ClientIP)
	w.timeRange(f.From, f.To)
	w.before(f.Before)
	rows, err := s.query(ctx, s.db, `SELECT `+signInColumns+` FROM sign_ins`+w.sql(f.Limit), w.args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []storage.SignInEvent
	for rows.Next() {
		var e storage.SignInEvent
		err := rows.Scan(&e.ID, (*timeCol)(&e.Time), &e.UserID, &e.ClientID, &e.Upstream,
			&e.Result, &e.Reason, &e.ClientIP, &e.UserAgent)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

const qDeleteSignInsBefore = `DELETE FROM sign_ins WHERE time < ?`

// DeleteSignInsBefore removes the events older than t.
func (s *Store) DeleteSignInsBefore(ctx context.Context, t time.Time) (int64, error) {
	n, err := s.exec(ctx, s.db, qDeleteSignInsBefore, t.UnixNano())
	if err != nil {
		return 0, mapErr("delete sign-ins", err)
	}
	return n, nil
}

// where builds the WHERE clause of a filtered log query: the conditions
// of the non-empty filter fields, ANDed, then newest (highest id) first.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, arg any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, arg)
}

// eq matches col exactly when v is set (cleaned as stored values are).
func (w *where) eq(col, v string) {
	if v != "" {
		w.add(col+" = ?", cleanText(v))
	}
}

// timeRange keeps from <= time < to, each bound when set.
func (w *where) timeRange(from, to time.Time) {
	if !from.IsZero() {
		w.add("time >= ?", from.UnixNano())
	}
	if !to.IsZero() {
		w.add("time < ?", to.UnixNano())
	}
}

// before keeps the ids below the cursor, when set.
func (w *where) before(id int64) {
	if id > 0 {
		w.add("id < ?", id)
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
