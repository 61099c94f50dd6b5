package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

// revokedRetention is how long a revoked grant is kept (for reuse detection
// and the admin's view) before DeleteExpired collects it.
const revokedRetention = 24 * time.Hour

const (
	qDeleteExpiredSessions = `DELETE FROM sessions WHERE expires_at <= ?`
	qDeleteExpiredGrants   = `DELETE FROM grants WHERE expires_at <= ? OR revoked_at <= ?`
	qDeleteRetiredKeys     = `DELETE FROM signing_keys WHERE retire_at <= ?`
	qKeySetChanged         = `UPDATE key_sets SET version = version + 1 WHERE id = 1`
)

// DeleteExpired removes, in one transaction, the sessions and grants expired
// at now, the grants revoked more than a day before now, the keys retired
// before now and the admin tokens expired or revoked more than
// storage.AdminTokenRetention before now, and returns how many rows went. Removing keys moves the key
// set's version on, so that a compare-and-swap prepared from the old set
// fails instead of bringing the removed keys back.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	at := now.UnixNano()
	var total int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		total = 0
		n, err := s.exec(ctx, tx, qDeleteExpiredSessions, at)
		if err != nil {
			return err
		}
		total += n
		n, err = s.exec(ctx, tx, qDeleteExpiredGrants, at, now.Add(-revokedRetention).UnixNano())
		if err != nil {
			return err
		}
		total += n
		n, err = s.exec(ctx, tx, qDeleteRetiredKeys, at)
		if err != nil {
			return err
		}
		total += n
		if n > 0 {
			if _, err := s.exec(ctx, tx, qKeySetChanged); err != nil {
				return err
			}
		}
		n, err = s.exec(ctx, tx, qDeleteOldAdminTokens, now.Add(-storage.AdminTokenRetention).UnixNano())
		total += n
		if err != nil {
			return err
		}
		n, err = s.exec(ctx, tx, qDeleteExpiredLoginStates, at)
		total += n
		return err
	})
	if err != nil {
		return 0, mapErr("delete expired", err)
	}
	return total, nil
}
