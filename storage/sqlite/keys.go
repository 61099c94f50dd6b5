package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"

	"github.com/dingoidc/dingoidc/storage"
)

const (
	// The LEFT JOIN gives one row with NULL key columns when there are no keys.
	qGetKeySet = `SELECT ks.version, k.id, k.algorithm, k.private_enc,
			k.public_jwk, k.created_at, k.active_from, k.retire_at
		FROM key_sets ks LEFT JOIN signing_keys k ON true
		WHERE ks.id = 1
		ORDER BY k.position`
	qBumpKeySet        = `UPDATE key_sets SET version = version + 1 WHERE id = 1 AND version = ? RETURNING version`
	qDeleteSigningKeys = `DELETE FROM signing_keys`
)

// GetKeySet reads the version and the keys in one query (so they belong
// together), keys in the order they were given to SwapKeySet.
func (s *Store) GetKeySet(ctx context.Context) (*storage.KeySet, error) {
	const op = "get key set"
	rows, err := s.query(ctx, s.db, qGetKeySet)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	ks := &storage.KeySet{}
	found := false
	for rows.Next() {
		found = true
		var (
			id sql.NullString
			k  storage.SigningKey
		)
		if err := rows.Scan(&ks.Version, &id, (*textCol)(&k.Algorithm), &k.PrivateEnc,
			&k.PublicJWK, (*timeCol)(&k.CreatedAt), (*timeCol)(&k.ActiveFrom),
			(*timeCol)(&k.RetireAt)); err != nil {
			return nil, mapErr(op, err)
		}
		if !id.Valid {
			continue // no keys yet: one row with NULL key columns
		}
		k.ID = id.String
		ks.Keys = append(ks.Keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	if !found {
		return nil, errorf(op, storage.ErrNotFound) // the migration seeds the row
	}
	return ks, nil
}

// SwapKeySet replaces the keys if the version is still expectedVersion, in
// one immediate transaction; ErrConflict otherwise.
func (s *Store) SwapKeySet(ctx context.Context, expectedVersion int64, keys []storage.SigningKey) (*storage.KeySet, error) {
	ks := &storage.KeySet{Keys: make([]storage.SigningKey, 0, len(keys))}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := s.writeRow(ctx, tx, qBumpKeySet, []any{expectedVersion}, &ks.Version)
		if err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return storage.ErrConflict
			}
			return err
		}
		if _, err := s.exec(ctx, tx, qDeleteSigningKeys); err != nil {
			return err
		}
		if len(keys) == 0 {
			return nil
		}
		var q strings.Builder
		q.WriteString(`INSERT INTO signing_keys (id, position, algorithm, private_enc, public_jwk,
			created_at, active_from, retire_at) VALUES `)
		args := make([]any, 0, 8*len(keys))
		for i, k := range keys {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(?, ?, ?, ?, ?, ?, ?, ?)")
			args = append(args, k.ID, i, k.Algorithm, k.PrivateEnc, string(k.PublicJWK),
				timeArg(k.CreatedAt), timeArg(k.ActiveFrom), timeArg(k.RetireAt))
		}
		_, err = s.exec(ctx, tx, q.String(), args...)
		return err
	})
	if err != nil {
		return nil, mapErr("swap key set", err)
	}
	for _, k := range keys {
		k.PrivateEnc = append([]byte(nil), k.PrivateEnc...)
		k.PublicJWK = append([]byte(nil), k.PublicJWK...)
		k.CreatedAt, k.ActiveFrom, k.RetireAt = k.CreatedAt.UTC(), k.ActiveFrom.UTC(), k.RetireAt.UTC()
		ks.Keys = append(ks.Keys, k)
	}
	return ks, nil
}
