package keys

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

// RewrapResult says what Rewrap changed.
type RewrapResult struct {
	Rewrapped int      // keys re-encrypted under the new master key
	Already   int      // keys that were under the new master key already (a repeated run)
	KIDs      []string // every key of the set, in stored order
}

// Rewrap re-encrypts every signing key of the store from the old master key
// to the new one, in one compare-and-swap of the key set: afterwards the
// set opens under the new key only, or (on any error) nothing changed. The
// keys themselves (kid, public key, schedule) stay the same, so tokens
// they signed stay valid. A key already under the new master key is left
// as it is, so a run interrupted after the swap can be repeated. A key
// that opens under neither is an error: it names the kid.
//
// Run it with every dingoidc stopped (docs/operations-backup.md): a
// running replica still holds the old master key and cannot open the
// re-encrypted keys. The change is recorded in the audit log as
// keys.rewrap, actor "cli".
func Rewrap(ctx context.Context, st storage.Store, oldSealer, newSealer *Sealer, now time.Time) (RewrapResult, error) {
	if oldSealer == nil || newSealer == nil {
		return RewrapResult{}, errors.New("rewrap signing keys: both master keys are needed")
	}
	// A conflict means another writer (a replica left running, a rotation)
	// swapped the set meanwhile: read it again and redo the work, a few times.
	for attempt := 0; ; attempt++ {
		set, err := st.GetKeySet(ctx)
		if errors.Is(err, storage.ErrNotFound) {
			return RewrapResult{}, nil
		}
		if err != nil {
			return RewrapResult{}, fmt.Errorf("rewrap signing keys: %w", err)
		}
		res := RewrapResult{}
		keys := make([]storage.SigningKey, len(set.Keys))
		for i, k := range set.Keys {
			res.KIDs = append(res.KIDs, k.ID)
			keys[i] = k
			der, err := oldSealer.Open(k.PrivateEnc, []byte(k.ID))
			if err != nil {
				if _, nerr := newSealer.Open(k.PrivateEnc, []byte(k.ID)); nerr == nil {
					res.Already++
					continue
				}
				return RewrapResult{}, fmt.Errorf("rewrap signing key %s: it opens under neither the current nor the new master key (is secret_key_file the key the database was written with?)", k.ID)
			}
			keys[i].PrivateEnc = newSealer.Seal(der, []byte(k.ID))
			clear(der)
			res.Rewrapped++
		}
		if res.Rewrapped == 0 {
			return res, nil
		}
		if _, err := st.SwapKeySet(ctx, set.Version, keys); errors.Is(err, storage.ErrConflict) && attempt < 3 {
			continue
		} else if err != nil {
			return RewrapResult{}, fmt.Errorf("rewrap signing keys: %w", err)
		}
		details, _ := json.Marshal(map[string]any{"rewrapped": res.Rewrapped, "kids": res.KIDs})
		if err := st.AppendAudit(ctx, &storage.AuditEvent{
			Time:    now.UTC(),
			Actor:   "cli",
			Action:  "keys.rewrap",
			Details: details,
		}); err != nil {
			return res, fmt.Errorf("rewrap signing keys: done, but the audit log failed: %w", err)
		}
		return res, nil
	}
}
