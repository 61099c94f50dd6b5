package storage

import "errors"

// Sentinel errors. Backends wrap driver errors into these so callers can use
// errors.Is without knowing the database.
var (
	// ErrNotFound: no row matched (or it expired).
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict: a unique value already exists (client id, login state,
	// authorization code) or a compare-and-swap lost.
	ErrConflict = errors.New("storage: conflict")
	// ErrUserDisabled: the user exists but an admin disabled it.
	ErrUserDisabled = errors.New("storage: user disabled")
	// ErrRevoked: the grant was revoked (logout, code or refresh reuse, admin).
	ErrRevoked = errors.New("storage: grant revoked")
	// ErrUnavailable: the database could not be reached or timed out.
	ErrUnavailable = errors.New("storage: database unavailable")
)
