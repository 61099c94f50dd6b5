package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/dingoidc/dingoidc/storage"
)

// mapErr wraps err with the operation's name, translating what the caller
// must be able to tell apart into the storage sentinels: no row into
// ErrNotFound, a unique value taken into ErrConflict, a missing referenced
// row into ErrNotFound, a lock that was never granted (busy beyond busy_timeout,
// locked) and a file that cannot be opened or written (read-only) into
// ErrUnavailable.
// The driver's error stays in the chain for the logs.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch code := se.Code(); {
		case code == sqlite3.SQLITE_CONSTRAINT_UNIQUE, code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%s: %w: %w", op, storage.ErrConflict, err)
		case code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%s: %w: %w", op, storage.ErrNotFound, err)
		case code&0xff == sqlite3.SQLITE_BUSY, code&0xff == sqlite3.SQLITE_LOCKED,
			code&0xff == sqlite3.SQLITE_CANTOPEN, code&0xff == sqlite3.SQLITE_IOERR,
			code&0xff == sqlite3.SQLITE_READONLY: // the file or its directory is not writable
			return fmt.Errorf("%s: %w: %w", op, storage.ErrUnavailable, err)
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// errorf returns a sentinel wrapped with the operation's name.
func errorf(op string, sentinel error) error {
	return fmt.Errorf("%s: %w", op, sentinel)
}
