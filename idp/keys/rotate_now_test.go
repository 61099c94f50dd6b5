package keys

import (
	"crypto/rsa"
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

// TestRotateNowSlowKeyGeneration: generating the new key takes time (RSA
// on a busy machine), and a replica that reloads the set meanwhile keeps a
// copy without the new key for CacheTTL from that read. The new key must
// not sign before that copy has expired.
func TestRotateNowSlowKeyGeneration(t *testing.T) {
	store := &fakeStore{}
	clk := newClock(t0)
	signer := newTestManager(t, store, clk, Options{})
	if err := signer.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	stale := newTestManager(t, store, clk, Options{})
	clk.Set(t0.Add(time.Hour))
	cli := newTestManager(t, store, clk, Options{}) // `keys rotate --now`
	cli.genKey = func() (*rsa.PrivateKey, error) {
		clk.Set(clk.Now().Add(20 * time.Second)) // a slow generation
		publishedKIDs(t, stale)                  // read before the new set is written
		return poolKey()
	}
	added, err := cli.Rotate(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	start := clk.Now()
	signed := false
	for step := range 3 * int(DefaultCacheTTL/time.Second) {
		clk.Set(start.Add(time.Duration(step) * time.Second))
		kid := signingKID(t, signer)
		if kid != added.ID {
			continue
		}
		signed = true
		if pub := publishedKIDs(t, stale); !slices.Contains(pub, kid) {
			t.Fatalf("+%ds after the write: the new key %s signs, and a replica that read the set during its generation publishes only %v", step, kid, pub)
		}
	}
	if !signed {
		t.Error("the new key never signed")
	}
}
