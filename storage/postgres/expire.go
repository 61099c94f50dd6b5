package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dingoidc/dingoidc/storage"
)

// revokedRetention is how long a revoked grant is kept (for reuse detection
// and the audit trail) before DeleteExpired removes it.
const revokedRetention = 24 * time.Hour

// DeleteExpired removes the sessions and grants expired at now (no longer
// live: expires_at <= now), the grants revoked a day or more before now, the
// keys retired at now, the login states expired at now and the admin
// tokens expired or revoked storage.AdminTokenRetention or more before now,
// in one round trip (one implicit transaction), and returns how many rows
// went. Removing keys changes the key set, so it moves the version on too: a
// swap prepared from the set before would otherwise bring them back.
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int64, error) {
	batch := &pgx.Batch{}
	batch.Queue(`DELETE FROM sessions WHERE id_hash IN (
		SELECT id_hash FROM sessions WHERE expires_at <= $1 ORDER BY id_hash FOR UPDATE)`, now)
	batch.Queue(`DELETE FROM grants WHERE id IN (
		SELECT id FROM grants WHERE expires_at <= $1 OR revoked_at <= $2 ORDER BY id FOR UPDATE)`,
		now, now.Add(-revokedRetention))
	batch.Queue(`UPDATE key_sets SET version = version + 1
		WHERE id = 1 AND EXISTS (SELECT 1 FROM signing_keys WHERE retire_at <= $1)`, now)
	batch.Queue(`DELETE FROM signing_keys WHERE retire_at <= $1`, now)
	batch.Queue(`DELETE FROM admin_tokens WHERE expires_at <= $1 OR revoked_at <= $1`,
		now.Add(-storage.AdminTokenRetention))
	batch.Queue(`DELETE FROM login_states WHERE expires_at <= $1`, now)
	br := s.pool.SendBatch(ctx, batch)
	defer br.Close()
	var n int64
	for range batch.Len() {
		tag, err := br.Exec()
		if err != nil {
			return 0, fmt.Errorf("delete expired: %w", mapErr(err))
		}
		if tag.Delete() {
			n += tag.RowsAffected()
		}
	}
	if err := br.Close(); err != nil {
		return 0, fmt.Errorf("delete expired: %w", mapErr(err))
	}
	return n, nil
}
