package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/dingoidc/dingoidc/storage"
)

// GetKeySet returns the signing keys, in the order they were swapped in, and
// the version of the set, in one statement (one snapshot).
func (s *Store) GetKeySet(ctx context.Context) (*storage.KeySet, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT coalesce(ks.version, 0), k.id, k.algorithm, k.private_enc, k.public_jwk,
			k.created_at, k.active_from, k.retire_at
		FROM (SELECT 1) one
		LEFT JOIN key_sets ks ON ks.id = 1
		LEFT JOIN signing_keys k ON true
		ORDER BY k.position`)
	if err != nil {
		return nil, fmt.Errorf("get key set: %w", mapErr(err))
	}
	defer rows.Close()
	set := &storage.KeySet{}
	for rows.Next() {
		var (
			id                              pgtype.Text
			k                               storage.SigningKey
			createdAt, activeFrom, retireAt pgtype.Timestamptz
			alg                             pgtype.Text
		)
		if err := rows.Scan(&set.Version, &id, &alg, &k.PrivateEnc, &k.PublicJWK, &createdAt, &activeFrom, &retireAt); err != nil {
			return nil, fmt.Errorf("get key set: %w", mapErr(err))
		}
		if !id.Valid {
			continue // no keys: the one row carries the version only
		}
		k.ID, k.Algorithm = id.String, alg.String
		k.CreatedAt, k.ActiveFrom, k.RetireAt = utc(createdAt), utc(activeFrom), utc(retireAt)
		set.Keys = append(set.Keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("get key set: %w", mapErr(err))
	}
	return set, nil
}

// SwapKeySet replaces the whole set if its version is still expectedVersion,
// in one transaction: the version bump takes the key_sets row lock, so a
// concurrent swap from the same version waits, then matches nothing and gets
// ErrConflict.
func (s *Store) SwapKeySet(ctx context.Context, expectedVersion int64, keys []storage.SigningKey) (*storage.KeySet, error) {
	set := &storage.KeySet{Keys: make([]storage.SigningKey, 0, len(keys))}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if expectedVersion == 0 {
			// The migration creates the row; recreate it if someone emptied the table.
			if _, err := tx.Exec(ctx, `INSERT INTO key_sets (id, version) VALUES (1, 0) ON CONFLICT DO NOTHING`); err != nil {
				return mapErr(err)
			}
		}
		err := tx.QueryRow(ctx,
			`UPDATE key_sets SET version = version + 1 WHERE id = 1 AND version = $1 RETURNING version`,
			expectedVersion).Scan(&set.Version)
		if err != nil {
			if err = mapErr(err); errors.Is(err, storage.ErrNotFound) {
				return storage.ErrConflict
			}
			return err
		}
		batch := &pgx.Batch{}
		batch.Queue(`DELETE FROM signing_keys`)
		for i, k := range keys {
			batch.Queue(`
				INSERT INTO signing_keys (id, position, algorithm, private_enc, public_jwk, created_at, active_from, retire_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
				k.ID, i, k.Algorithm, k.PrivateEnc, k.PublicJWK, k.CreatedAt, nullTime(k.ActiveFrom), nullTime(k.RetireAt))
			k.CreatedAt, k.ActiveFrom, k.RetireAt = stored(k.CreatedAt), stored(k.ActiveFrom), stored(k.RetireAt)
			set.Keys = append(set.Keys, k)
		}
		return mapErr(tx.SendBatch(ctx, batch).Close())
	})
	if err != nil {
		return nil, fmt.Errorf("swap key set: %w", err)
	}
	return set, nil
}
