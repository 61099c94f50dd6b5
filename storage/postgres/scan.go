package postgres

import (
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// Conventions shared by every table: times are timestamptz, written as given
// and read back in UTC; a zero time.Time is NULL where the column allows it.
// Lists are text[] and never NULL (an empty list reads back as nil). Empty
// byte strings are NULL, so optional unique hashes never collide.

// nullTime is the value to write for a time that may be zero.
func nullTime(t time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: t, Valid: !t.IsZero()}
}

// utc reads a nullable time back: zero when NULL, in UTC otherwise.
func utc(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// stored returns t as it reads back from a timestamptz column: in UTC, with
// microseconds (pgx truncates the nanoseconds).
func stored(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// nullBytes is the value to write for a byte string that may be empty.
func nullBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// list is the value to write for a text[] column (never NULL).
func list(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// readList normalizes a text[] read back: empty is nil.
func readList(l []string) []string {
	if len(l) == 0 {
		return nil
	}
	return l
}

// nullText is the value to write for a string that may be empty.
func nullText(s string) pgtype.Text {
	return pgtype.Text{String: s, Valid: s != ""}
}
