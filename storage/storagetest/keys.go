package storagetest

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

func keyTests() []subtest {
	return []subtest{
		{"Empty", testKeysEmpty},
		{"SwapRoundTrip", testKeysSwapRoundTrip},
		{"StaleVersion", testKeysStaleVersion},
		{"ConcurrentSwap", testKeysConcurrentSwap},
	}
}

// newKey returns a key whose encrypted private part holds every byte value
// (NUL and invalid UTF-8 included), so the round trip must be byte-exact.
func newKey(kid string, created time.Time) storage.SigningKey {
	priv := make([]byte, 0, 300)
	for i := range 256 {
		priv = append(priv, byte(i))
	}
	priv = append(priv, kid...)
	return storage.SigningKey{
		ID:         kid,
		Algorithm:  "RS256",
		PrivateEnc: priv,
		PublicJWK:  fmt.Appendf(nil, `{"kty":"RSA","kid":%q,"use":"sig","alg":"RS256","n":"0vx7agoebGcQSuu","e":"AQAB"}`, kid),
		CreatedAt:  created,
		ActiveFrom: created.Add(time.Hour),
	}
}

// checkKeySet compares key sets; the order of the keys is not part of the
// contract, so both sides are sorted by kid.
func checkKeySet(t *testing.T, what string, wantVersion int64, wantKeys []storage.SigningKey, got *storage.KeySet) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil key set", what)
	}
	if got.Version != wantVersion {
		t.Errorf("%s: Version = %d, want %d", what, got.Version, wantVersion)
	}
	byID := func(a, b storage.SigningKey) int { return cmp.Compare(a.ID, b.ID) }
	w, g := slices.SortedFunc(slices.Values(wantKeys), byID), slices.SortedFunc(slices.Values(got.Keys), byID)
	if len(w) != len(g) {
		t.Fatalf("%s: %d keys, want %d", what, len(g), len(w))
	}
	for i := range w {
		check(t, fmt.Sprintf("%s: key %s", what, w[i].ID), &w[i], &g[i])
	}
}

func testKeysEmpty(t *testing.T, s storage.Store) {
	ks, err := s.GetKeySet(t.Context())
	noErr(t, "GetKeySet", err)
	checkKeySet(t, "empty key set", 0, nil, ks)
}

func testKeysSwapRoundTrip(t *testing.T, s storage.Store) {
	current := newKey("k1", base.Add(-30*24*time.Hour))
	current.ActiveFrom = current.CreatedAt
	retiring := newKey("k0", base.Add(-60*24*time.Hour))
	retiring.RetireAt = base.Add(24 * time.Hour)
	next := newKey("k2", base)
	keys := []storage.SigningKey{current, retiring, next}

	got, err := s.SwapKeySet(t.Context(), 0, keys)
	noErr(t, "SwapKeySet(0)", err)
	checkKeySet(t, "returned key set", 1, keys, got)
	stored, err := s.GetKeySet(t.Context())
	noErr(t, "GetKeySet", err)
	checkKeySet(t, "stored key set", 1, keys, stored)

	// Replacing the set drops the keys left out.
	keys = []storage.SigningKey{next}
	got, err = s.SwapKeySet(t.Context(), 1, keys)
	noErr(t, "SwapKeySet(1)", err)
	checkKeySet(t, "second returned key set", 2, keys, got)
	stored, err = s.GetKeySet(t.Context())
	noErr(t, "GetKeySet", err)
	checkKeySet(t, "second stored key set", 2, keys, stored)
}

func testKeysStaleVersion(t *testing.T, s storage.Store) {
	keys := []storage.SigningKey{newKey("k1", base)}
	_, err := s.SwapKeySet(t.Context(), 0, keys)
	noErr(t, "SwapKeySet(0)", err)

	for _, v := range []int64{0, 2} {
		_, err = s.SwapKeySet(t.Context(), v, []storage.SigningKey{newKey("evil", base)})
		wantErr(t, fmt.Sprintf("SwapKeySet(%d) at version 1", v), err, storage.ErrConflict)
	}
	stored, err := s.GetKeySet(t.Context())
	noErr(t, "GetKeySet", err)
	checkKeySet(t, "key set after lost swaps", 1, keys, stored)
}

func testKeysConcurrentSwap(t *testing.T, s storage.Store) {
	_, err := s.SwapKeySet(t.Context(), 0, []storage.SigningKey{newKey("k1", base)})
	noErr(t, "SwapKeySet(0)", err)

	candidates := [][]storage.SigningKey{
		{newKey("k1", base), newKey("replica-a", base.Add(time.Minute))},
		{newKey("k1", base), newKey("replica-b", base.Add(time.Minute))},
	}
	errs := race(len(candidates), func(i int) error {
		_, err := s.SwapKeySet(t.Context(), 1, candidates[i])
		return err
	})
	winner := exactlyOneWinner(t, "SwapKeySet(1) twice", errs, storage.ErrConflict)
	stored, err := s.GetKeySet(t.Context())
	noErr(t, "GetKeySet", err)
	checkKeySet(t, "key set after the race", 2, candidates[winner], stored)
}
