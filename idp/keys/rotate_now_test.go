package keys

import (
	"slices"
	"testing"
	"time"
)

// TestRotateNowPublishesBeforeSigning: replicas share one store, each
// trusting its copy of the key set for CacheTTL. After `keys rotate --now`
// on one of them, at no moment does any replica sign with a key that
// another replica's JWKS lacks, so a relying party verifies every token
// whichever replica it fetches the JWKS from.
func TestRotateNowPublishesBeforeSigning(t *testing.T) {
	store := &fakeStore{}
	clk := newClock(t0)
	replicas := []*Manager{newTestManager(t, store, clk, Options{}), newTestManager(t, store, clk, Options{}), newTestManager(t, store, clk, Options{})}
	if err := replicas[0].Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The replicas loaded their sets at different moments before the rotation.
	for i, m := range replicas {
		clk.Set(t0.Add(time.Hour + time.Duration(i)*10*time.Second))
		signingKID(t, m)
	}
	clk.Set(t0.Add(time.Hour + 25*time.Second))
	cli := newTestManager(t, store, clk, Options{}) // `keys rotate --now`
	added, err := cli.Rotate(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	signedByNew := false
	for step := range 2 * int(DefaultCacheTTL/time.Second) {
		clk.Set(t0.Add(time.Hour + 25*time.Second + time.Duration(step)*time.Second))
		for i, signer := range replicas {
			kid := signingKID(t, signer)
			signedByNew = signedByNew || kid == added.ID
			for j, other := range replicas {
				if pub := publishedKIDs(t, other); !slices.Contains(pub, kid) {
					t.Fatalf("+%ds: replica %d signs with %s, which replica %d does not publish (%v)", step, i, kid, j, pub)
				}
			}
		}
	}
	if !signedByNew {
		t.Errorf("the new key never signed within 2×CacheTTL")
	}
}
