package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dingoidc/dingoidc/storage"
)

// mapErr translates a driver error into the storage sentinel it stands for,
// keeping the driver error in the chain for the operator's log. Errors with no
// sentinel (a bug in a statement, a cancelled context) are returned as they
// are.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.ErrNotFound
	}
	if errors.Is(err, context.Canceled) {
		return err // the caller gave up; the database is not to blame
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505": // unique_violation
			return fmt.Errorf("%w: %w", storage.ErrConflict, err)
		case pgErr.Code == "23503": // foreign_key_violation: the user does not exist
			return fmt.Errorf("%w: %w", storage.ErrNotFound, err)
		case unavailableCode(pgErr.Code):
			return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
		}
		return err
	}
	if unreachable(err) {
		return fmt.Errorf("%w: %w", storage.ErrUnavailable, err)
	}
	return err
}

// unavailableCode reports whether a server error means the database cannot
// serve now (as opposed to a problem with the statement).
func unavailableCode(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"): // connection_exception
		return true
	case strings.HasPrefix(code, "53"): // insufficient_resources (too_many_connections…)
		return true
	case code == "57P01", code == "57P02", code == "57P03": // shutdown, crash, cannot_connect_now
		return true
	case code == "57014": // query_canceled (statement_timeout)
		return true
	}
	return false
}

// unreachable reports whether err means the server could not be reached or did
// not answer in time.
func unreachable(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err):
		return true
	case errors.As(err, &connectErr), errors.As(err, &netErr):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), errors.Is(err, pgconn.ErrConnClosed):
		return true
	}
	return false
}
