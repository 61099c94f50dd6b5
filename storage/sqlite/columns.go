package sqlite

import (
	"encoding/json"
	"fmt"
	"time"
)

// Conversions between Go values and the column conventions of the schema
// (migrations/sqlite): times as INTEGER unix nanoseconds with NULL for the
// zero time, lists as JSON arrays, JSON documents and hashes as given, with
// an empty hash stored as NULL.

// timeArg binds t as unix nanoseconds, or NULL for the zero time.
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// timeCol scans unix nanoseconds (or NULL) into a UTC time:
// (*timeCol)(&x.CreatedAt).
type timeCol time.Time

func (c *timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c = timeCol(time.Time{})
	case int64:
		*c = timeCol(time.Unix(0, v).UTC())
	default:
		return fmt.Errorf("time column holds %T", src)
	}
	return nil
}

// listArg binds a list as a JSON array.
func listArg(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, err := json.Marshal(l)
	if err != nil {
		panic(err) // a []string always marshals
	}
	return string(b)
}

// listCol scans a JSON array into a list; an empty array gives nil.
type listCol []string

func (c *listCol) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*c = nil
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("list column holds %T", src)
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("list column: %w", err)
	}
	if len(l) == 0 {
		l = nil
	}
	*c = l
	return nil
}

// jsonArg binds a JSON object; nothing stands for {}.
func jsonArg(b []byte) string {
	if len(b) == 0 {
		return "{}"
	}
	return string(b)
}

// blobArg binds a hash, or NULL when it is empty.
func blobArg(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// textArg binds a string, or NULL when it is empty.
func textArg(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// textCol scans TEXT or NULL (as "") into a string.
type textCol string

func (c *textCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c = ""
	case string:
		*c = textCol(v)
	case []byte:
		*c = textCol(v)
	default:
		return fmt.Errorf("text column holds %T", src)
	}
	return nil
}
