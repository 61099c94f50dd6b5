package keys

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dingoidc/dingoidc/storage"
)

var kidPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{16,}$`)

func TestEnsureCreatesOneKey(t *testing.T) {
	for _, notFound := range []bool{false, true} {
		t.Run(fmt.Sprintf("notFoundWhenEmpty=%v", notFound), func(t *testing.T) {
			store := &fakeStore{notFoundWhenEmpty: notFound}
			clk := newClock(t0.Add(1500 * time.Millisecond))
			m := newTestManager(t, store, clk, Options{})
			for range 3 {
				if err := m.Ensure(t.Context()); err != nil {
					t.Fatalf("Ensure: %v", err)
				}
			}
			ks := store.keys()
			if len(ks) != 1 || store.swaps.Load() != 1 {
				t.Fatalf("after three Ensure: %d keys, %d swaps; want 1, 1", len(ks), store.swaps.Load())
			}
			k := ks[0]
			if !kidPattern.MatchString(k.ID) {
				t.Errorf("kid %q is not URL-safe with at least 16 characters", k.ID)
			}
			if k.Algorithm != "RS256" {
				t.Errorf("Algorithm = %q", k.Algorithm)
			}
			wantTime := t0.Add(time.Second) // whole seconds, rounded down
			if !k.ActiveFrom.Equal(wantTime) || !k.CreatedAt.Equal(wantTime) || !k.RetireAt.IsZero() {
				t.Errorf("times: created %v, active %v, retire %v; want %v, %v, zero", k.CreatedAt, k.ActiveFrom, k.RetireAt, wantTime, wantTime)
			}
			if got := signingKID(t, m); got != k.ID {
				t.Errorf("SigningKey = %s, want %s", got, k.ID)
			}
			checkStoredKey(t, k)
		})
	}
}

// checkStoredKey checks the stored form: sealed PKCS#8 bound to the kid,
// and a public JWK with kid, alg and use.
func checkStoredKey(t *testing.T, k storage.SigningKey) {
	t.Helper()
	sealer := newSealer(t, testMaster)
	if _, err := sealer.Open(k.PrivateEnc, []byte("another-kid")); !errors.Is(err, ErrOpen) {
		t.Errorf("private key opens with another kid as additional data: %v", err)
	}
	der, err := sealer.Open(k.PrivateEnc, []byte(k.ID))
	if err != nil {
		t.Fatalf("open private key: %v", err)
	}
	var jwk jose.JSONWebKey
	if err := json.Unmarshal(k.PublicJWK, &jwk); err != nil {
		t.Fatalf("PublicJWK: %v", err)
	}
	if jwk.KeyID != k.ID || jwk.Algorithm != "RS256" || jwk.Use != "sig" || !jwk.IsPublic() {
		t.Errorf("PublicJWK = kid %q alg %q use %q public %v", jwk.KeyID, jwk.Algorithm, jwk.Use, jwk.IsPublic())
	}
	var fields map[string]any
	_ = json.Unmarshal(k.PublicJWK, &fields)
	if _, ok := fields["d"]; ok {
		t.Error("PublicJWK holds the private exponent")
	}
	if pub, ok := jwk.Key.(*rsa.PublicKey); !ok || pub.N.BitLen() != 2048 {
		t.Errorf("PublicJWK key is %T, want a 2048-bit RSA key", jwk.Key)
	}
	if len(der) < 1000 || bytes.Contains(k.PrivateEnc, der[:64]) {
		t.Error("PrivateEnc does not look like a sealed PKCS#8 key")
	}
}

func TestEnsureGeneratesRSA2048(t *testing.T) {
	store := &fakeStore{}
	m := NewManager(store, newSealer(t, testMaster), Options{Logger: slog.New(slog.DiscardHandler)})
	if err := m.Ensure(t.Context()); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	sk, err := m.SigningKey(t.Context())
	if err != nil {
		t.Fatalf("SigningKey: %v", err)
	}
	priv, ok := sk.Key().(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("SigningKey().Key() is %T, want *rsa.PrivateKey", sk.Key())
	}
	if priv.N.BitLen() != 2048 || sk.SignatureAlgorithm() != jose.RS256 {
		t.Fatalf("SigningKey: %d bits, %s; want 2048, RS256", priv.N.BitLen(), sk.SignatureAlgorithm())
	}
	checkStoredKey(t, store.keys()[0])
}

// TestEnsureLosesRace makes another replica win the first swap: Ensure
// must reload and adopt its key instead of adding a second one.
func TestEnsureLosesRace(t *testing.T) {
	store := &fakeStore{}
	clk := newClock(t0)
	a := newTestManager(t, store, clk, Options{})
	b := newTestManager(t, store, clk, Options{})
	store.beforeSwap = func() {
		if err := b.Ensure(t.Context()); err != nil {
			t.Errorf("replica b: Ensure: %v", err)
		}
	}
	if err := a.Ensure(t.Context()); err != nil {
		t.Fatalf("replica a: Ensure: %v", err)
	}
	ks := store.keys()
	if len(ks) != 1 {
		t.Fatalf("%d keys, want 1", len(ks))
	}
	if store.swaps.Load() != 2 { // b's winning swap and a's lost one
		t.Errorf("%d swaps, want 2", store.swaps.Load())
	}
	for name, m := range map[string]*Manager{"a": a, "b": b} {
		if got := signingKID(t, m); got != ks[0].ID {
			t.Errorf("replica %s signs with %s, want %s", name, got, ks[0].ID)
		}
	}
}

func TestEnsureConcurrent(t *testing.T) {
	store := &fakeStore{}
	clk := newClock(t0)
	managers := make([]*Manager, 4)
	for i := range managers {
		managers[i] = newTestManager(t, store, clk, Options{})
	}
	var wg sync.WaitGroup
	for _, m := range managers {
		wg.Go(func() {
			if err := m.Ensure(t.Context()); err != nil {
				t.Errorf("Ensure: %v", err)
			}
		})
	}
	wg.Wait()
	ks := store.keys()
	if len(ks) != 1 {
		t.Fatalf("%d keys, want 1", len(ks))
	}
	for i, m := range managers {
		if got := signingKID(t, m); got != ks[0].ID {
			t.Errorf("manager %d signs with %s, want %s", i, got, ks[0].ID)
		}
	}
}

// TestRotationSchedule walks one manager through two rotations with a
// fake clock. Keys are named A, B, C… in the order they appear.
func TestRotationSchedule(t *testing.T) {
	store := &fakeStore{}
	clk := newClock(t0)
	opts := Options{
		RotationPeriod:   720 * time.Hour,
		PublishAhead:     time.Hour,
		MaxTokenLifetime: 2 * time.Hour,
		CacheTTL:         30 * time.Second,
	}
	m := newTestManager(t, store, clk, opts)
	if err := m.Ensure(t.Context()); err != nil {
		t.Fatalf("Ensure: %v", err)
	}

	names := map[string]string{}
	name := func(kid string) string {
		if n, ok := names[kid]; ok {
			return n
		}
		n := string(rune('A' + len(names)))
		names[kid] = n
		return n
	}
	nameAll := func(kids []string) string {
		var out []string
		for _, kid := range kids {
			out = append(out, name(kid))
		}
		return strings.Join(out, " ")
	}
	for _, k := range store.keys() {
		name(k.ID)
	}

	h := time.Hour
	steps := []struct {
		name          string
		at            time.Duration // since t0
		maintain      bool
		wantSigning   string
		wantPublished string // KeySet order: signing first, then newest first
		wantStored    string
		wantList      string // name:state ActiveFrom RetireAt (offsets from t0)
	}{
		{name: "first key signs", at: 0, maintain: true,
			wantSigning: "A", wantPublished: "A", wantStored: "A",
			wantList: "A:signing 0s -"},
		{name: "not yet time to publish", at: 719*h - time.Second, maintain: true,
			wantSigning: "A", wantPublished: "A", wantStored: "A"},
		{name: "next key published ahead", at: 719 * h, maintain: true,
			wantSigning: "A", wantPublished: "A B", wantStored: "A B",
			wantList: "A:signing 0s - B:next 720h0m0s -"},
		{name: "no second next key", at: 719*h + 30*time.Minute, maintain: true,
			wantSigning: "A", wantPublished: "A B", wantStored: "A B"},
		{name: "old key signs until the last second", at: 720*h - time.Second,
			wantSigning: "A", wantPublished: "A B", wantStored: "A B"},
		{name: "next key signs on time without maintenance", at: 720 * h,
			wantSigning: "B", wantPublished: "B A", wantStored: "A B",
			wantList: "A:retired 0s - B:signing 720h0m0s -"},
		{name: "maintenance sets retire time", at: 720*h + time.Minute, maintain: true,
			wantSigning: "B", wantPublished: "B A", wantStored: "A B",
			wantList: "A:retired 0s 722h0m0s B:signing 720h0m0s -"},
		{name: "old key published for max token lifetime", at: 722*h - time.Second, maintain: true,
			wantSigning: "B", wantPublished: "B A", wantStored: "A B"},
		{name: "old key leaves the JWKS at retire time", at: 722 * h,
			wantSigning: "B", wantPublished: "B", wantStored: "A B"},
		{name: "maintenance deletes it", at: 722 * h, maintain: true,
			wantSigning: "B", wantPublished: "B", wantStored: "B",
			wantList: "B:signing 720h0m0s -"},
		{name: "second rotation published ahead", at: 1439 * h, maintain: true,
			wantSigning: "B", wantPublished: "B C", wantStored: "B C",
			wantList: "B:signing 720h0m0s - C:next 1440h0m0s -"},
		{name: "second rotation signs", at: 1440 * h, maintain: true,
			wantSigning: "C", wantPublished: "C B", wantStored: "B C",
			wantList: "B:retired 720h0m0s 1442h0m0s C:signing 1440h0m0s -"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			clk.Set(t0.Add(st.at))
			if st.maintain {
				if err := m.Maintain(t.Context()); err != nil {
					t.Fatalf("Maintain: %v", err)
				}
			}
			if got := name(signingKID(t, m)); got != st.wantSigning {
				t.Errorf("signing key %s, want %s", got, st.wantSigning)
			}
			if got := nameAll(publishedKIDs(t, m)); got != st.wantPublished {
				t.Errorf("published %q, want %q", got, st.wantPublished)
			}
			if got := nameAll(storedKIDs(store)); got != st.wantStored {
				t.Errorf("stored %q, want %q", got, st.wantStored)
			}
			if st.wantList != "" {
				list, err := m.List(t.Context())
				if err != nil {
					t.Fatalf("List: %v", err)
				}
				var got []string
				for _, k := range list {
					retire := "-"
					if !k.RetireAt.IsZero() {
						retire = k.RetireAt.Sub(t0).String()
					}
					got = append(got, fmt.Sprintf("%s:%s %s %s", name(k.ID), k.State, k.ActiveFrom.Sub(t0), retire))
				}
				if g := strings.Join(got, " "); g != st.wantList {
					t.Errorf("List = %q, want %q", g, st.wantList)
				}
			}
		})
	}
}

// TestMaintainCatchesUp: after a long outage one step publishes the next
// key PublishAhead from now and retires what must go.
func TestMaintainCatchesUp(t *testing.T) {
	store := &fakeStore{}
	clk := newClock(t0)
	m := newTestManager(t, store, clk, Options{})
	if err := m.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	old := signingKID(t, m)
	clk.Set(t0.Add(2000 * time.Hour))
	if err := m.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	ks := store.keys()
	if len(ks) != 2 || ks[0].ID != old {
		t.Fatalf("stored %v", storedKIDs(store))
	}
	if want := t0.Add(2001 * time.Hour); !ks[1].ActiveFrom.Equal(want) {
		t.Errorf("next key activates at %v, want %v", ks[1].ActiveFrom, want)
	}
	if got := signingKID(t, m); got != old {
		t.Errorf("signing key changed before PublishAhead passed")
	}
	clk.Set(t0.Add(2001 * time.Hour))
	if got := signingKID(t, m); got != ks[1].ID {
		t.Errorf("signing key %s, want the new one %s", got, ks[1].ID)
	}
}

func TestRotate(t *testing.T) {
	const h = time.Hour
	tests := []struct {
		name        string
		at          time.Duration // since t0, when Rotate runs
		pending     bool          // Maintain has published a next key first
		immediate   bool
		wantActive  time.Duration // new key's ActiveFrom since t0
		wantOldRet  time.Duration // old key's RetireAt since t0
		wantStored  int
		wantSigning string // "old" or "new" right after Rotate
	}{
		{name: "scheduled", at: 100 * h, wantActive: 101 * h, wantOldRet: 102 * h, wantStored: 2, wantSigning: "old"},
		// Immediate: signs once every replica has reloaded the set (CacheTTL).
		{name: "immediate", at: 100 * h, immediate: true, wantActive: 100*h + immediateDelay, wantOldRet: 101*h + immediateDelay, wantStored: 2, wantSigning: "old"},
		{name: "immediate right after the first key", at: 0, immediate: true, wantActive: immediateDelay, wantOldRet: h + immediateDelay, wantStored: 2, wantSigning: "old"},
		{name: "scheduled replaces the next key", at: 719*h + 30*time.Minute, pending: true, wantActive: 720*h + 30*time.Minute, wantOldRet: 721*h + 30*time.Minute, wantStored: 2, wantSigning: "old"},
		{name: "immediate replaces the next key", at: 719*h + 30*time.Minute, pending: true, immediate: true, wantActive: 719*h + 30*time.Minute + immediateDelay, wantOldRet: 720*h + 30*time.Minute + immediateDelay, wantStored: 2, wantSigning: "old"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeStore{}
			clk := newClock(t0)
			m := newTestManager(t, store, clk, Options{})
			if err := m.Ensure(t.Context()); err != nil {
				t.Fatal(err)
			}
			old := signingKID(t, m)
			clk.Set(t0.Add(tt.at))
			var pending string
			if tt.pending {
				if err := m.Maintain(t.Context()); err != nil {
					t.Fatal(err)
				}
				if ks := store.keys(); len(ks) != 2 {
					t.Fatalf("no next key before Rotate: %v", storedKIDs(store))
				} else {
					pending = ks[1].ID
				}
			}

			added, err := m.Rotate(t.Context(), tt.immediate)
			if err != nil {
				t.Fatalf("Rotate: %v", err)
			}
			if added.PrivateEnc != nil {
				t.Error("Rotate returned private material")
			}
			if !kidPattern.MatchString(added.ID) || added.ID == old || added.ID == pending {
				t.Errorf("new kid %q", added.ID)
			}
			if want := t0.Add(tt.wantActive); !added.ActiveFrom.Equal(want) {
				t.Errorf("ActiveFrom = %v, want %v", added.ActiveFrom.Sub(t0), tt.wantActive)
			}
			ks := store.keys()
			if len(ks) != tt.wantStored {
				t.Fatalf("stored %d keys, want %d", len(ks), tt.wantStored)
			}
			if slices.Contains(storedKIDs(store), pending) && pending != "" {
				t.Error("the replaced next key is still stored")
			}
			for _, k := range ks {
				if k.ID == old && !k.RetireAt.Equal(t0.Add(tt.wantOldRet)) {
					// RetireAt is set when the old key stops signing: by Rotate if
					// at once, else by the next Maintain after ActiveFrom.
					if !(k.RetireAt.IsZero() && tt.wantSigning == "old") {
						t.Errorf("old key RetireAt = %v, want %v", k.RetireAt.Sub(t0), tt.wantOldRet)
					}
				}
			}
			wantSigning := map[string]string{"old": old, "new": added.ID}[tt.wantSigning]
			if got := signingKID(t, m); got != wantSigning {
				t.Errorf("signing key %s, want %s key %s", got, tt.wantSigning, wantSigning)
			}
			if got := publishedKIDs(t, m); !slices.Contains(got, old) || !slices.Contains(got, added.ID) || len(got) != 2 {
				t.Errorf("published %v, want old %s and new %s", got, old, added.ID)
			}

			// Once the new key signs and the old one's tokens expired, the
			// old key goes.
			clk.Set(t0.Add(tt.wantActive))
			if got := signingKID(t, m); got != added.ID {
				t.Errorf("at ActiveFrom: signing key %s, want the new one", got)
			}
			if err := m.Maintain(t.Context()); err != nil {
				t.Fatal(err)
			}
			for _, k := range store.keys() {
				if k.ID == old && !k.RetireAt.Equal(t0.Add(tt.wantOldRet)) {
					t.Errorf("old key RetireAt = %v, want %v", k.RetireAt.Sub(t0), tt.wantOldRet)
				}
			}
			clk.Set(t0.Add(tt.wantOldRet))
			if err := m.Maintain(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got := storedKIDs(store); !slices.Equal(got, []string{added.ID}) {
				t.Errorf("after RetireAt: stored %v, want only the new key", got)
			}

			audit := store.auditLog()
			if len(audit) != 1 {
				t.Fatalf("%d audit events, want 1", len(audit))
			}
			e := audit[0]
			if e.Action != "keys.rotate" || e.Target != added.ID || e.Actor != "cli" || !e.Time.Equal(t0.Add(tt.at)) {
				t.Errorf("audit event %+v", e)
			}
			var details struct {
				Immediate  bool      `json:"immediate"`
				ActiveFrom time.Time `json:"active_from"`
				Replaced   []string  `json:"replaced"`
			}
			if err := json.Unmarshal(e.Details, &details); err != nil {
				t.Fatalf("audit details: %v", err)
			}
			if details.Immediate != tt.immediate || !details.ActiveFrom.Equal(added.ActiveFrom) ||
				(pending != "" && !slices.Equal(details.Replaced, []string{pending})) {
				t.Errorf("audit details %s", e.Details)
			}
		})
	}
}

func TestRotateLosesRace(t *testing.T) {
	store := &fakeStore{}
	clk := newClock(t0)
	a := newTestManager(t, store, clk, Options{})
	b := newTestManager(t, store, clk, Options{})
	if err := a.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(719 * time.Hour))
	store.beforeSwap = func() {
		if err := b.Maintain(t.Context()); err != nil {
			t.Errorf("replica b: Maintain: %v", err)
		}
	}
	added, err := a.Rotate(t.Context(), false)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	ks := store.keys()
	if len(ks) != 2 || ks[1].ID != added.ID {
		t.Fatalf("stored %v, want the first key and the rotated one %s", storedKIDs(store), added.ID)
	}
}

// TestSignedJWTVerifies signs as zitadel's op does and verifies as a
// relying party does, from the JWKS, across an emergency rotation.
func TestSignedJWTVerifies(t *testing.T) {
	store := &fakeStore{}
	clk := newClock(t0)
	m := newTestManager(t, store, clk, Options{})
	if err := m.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	sign := func(claims string) string {
		t.Helper()
		sk, err := m.SigningKey(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		signer, err := op.SignerFromKey(sk)
		if err != nil {
			t.Fatal(err)
		}
		jws, err := signer.Sign([]byte(claims))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jws.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// jwks renders KeySet the way op's keys endpoint does, through JSON.
	jwks := func() jose.JSONWebKeySet {
		t.Helper()
		ks, err := m.KeySet(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var set jose.JSONWebKeySet
		for _, k := range ks {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Key(), KeyID: k.ID(), Algorithm: string(k.Algorithm()), Use: k.Use()})
		}
		b, err := json.Marshal(set)
		if err != nil {
			t.Fatal(err)
		}
		var back jose.JSONWebKeySet
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		return back
	}
	verify := func(tok string, set jose.JSONWebKeySet) error {
		jws, err := jose.ParseSigned(tok, m.SignatureAlgorithms())
		if err != nil {
			return err
		}
		kid := jws.Signatures[0].Header.KeyID
		keys := set.Key(kid)
		if len(keys) != 1 {
			return fmt.Errorf("kid %q: %d keys in the JWKS", kid, len(keys))
		}
		if keys[0].Algorithm != "RS256" || keys[0].Use != "sig" {
			return fmt.Errorf("JWK alg %q use %q", keys[0].Algorithm, keys[0].Use)
		}
		payload, err := jws.Verify(keys[0])
		if err != nil {
			return err
		}
		if !strings.Contains(string(payload), `"sub"`) {
			return errors.New("payload lost")
		}
		return nil
	}

	first := sign(`{"sub":"alice"}`)
	if err := verify(first, jwks()); err != nil {
		t.Fatalf("token of the first key: %v", err)
	}

	clk.Set(t0.Add(time.Hour))
	if _, err := m.Rotate(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	clk.Set(t0.Add(time.Hour + immediateDelay))     // the new key signs
	if err := m.Maintain(t.Context()); err != nil { // as Run does: the old key retires
		t.Fatal(err)
	}
	second := sign(`{"sub":"bob"}`)
	set := jwks()
	if len(set.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want 2", len(set.Keys))
	}
	for name, tok := range map[string]string{"old": first, "new": second} {
		if err := verify(tok, set); err != nil {
			t.Errorf("%s token after rotation: %v", name, err)
		}
	}
	// The keys are distinct: the old token does not verify with the new key.
	jws, _ := jose.ParseSigned(first, m.SignatureAlgorithms())
	if _, err := jws.Verify(set.Keys[0]); err == nil {
		t.Error("old token verifies with the new key")
	}

	clk.Set(t0.Add(2*time.Hour + immediateDelay))
	if err := verify(first, jwks()); err == nil {
		t.Error("old token verifies after its key left the JWKS")
	}
	if err := verify(second, jwks()); err != nil {
		t.Errorf("new token: %v", err)
	}
}

func TestCacheAvoidsStore(t *testing.T) {
	store := &fakeStore{}
	clk := newClock(t0)
	m := newTestManager(t, store, clk, Options{CacheTTL: 30 * time.Second})
	if err := m.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	gets := store.gets.Load()
	for i := range 100 {
		clk.Set(t0.Add(time.Duration(i) * 290 * time.Millisecond)) // up to 28.71s
		if _, err := m.SigningKey(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := m.KeySet(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if got := store.gets.Load(); got != gets {
		t.Fatalf("%d store reads within CacheTTL, want 0", got-gets)
	}

	// After CacheTTL, one reload, shared by every concurrent caller.
	clk.Set(t0.Add(30 * time.Second))
	store.mu.Lock()
	store.getGate, store.getEntered = make(chan struct{}), make(chan struct{}, 1)
	store.mu.Unlock()
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := m.SigningKey(t.Context()); err != nil {
				t.Errorf("SigningKey: %v", err)
			}
			if _, err := m.KeySet(t.Context()); err != nil {
				t.Errorf("KeySet: %v", err)
			}
		})
	}
	<-store.getEntered
	close(store.getGate)
	wg.Wait()
	if got := store.gets.Load(); got != gets+1 {
		t.Fatalf("%d store reads after CacheTTL, want 1", got-gets)
	}

	// A caller that gives up does not cancel the reload for the others.
	clk.Set(t0.Add(time.Minute))
	store.mu.Lock()
	gate := make(chan struct{})
	store.getGate = gate
	store.mu.Unlock()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := m.SigningKey(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("SigningKey with a cancelled context: %v", err)
	}
	close(gate)
	store.mu.Lock()
	store.getGate = nil
	store.mu.Unlock()
	if _, err := m.SigningKey(t.Context()); err != nil {
		t.Errorf("SigningKey: %v", err)
	}
	if got := store.gets.Load(); got != gets+2 {
		t.Errorf("%d store reads after the second expiry, want 1", got-gets-1)
	}
}

func TestReloadFailureServesCachedSet(t *testing.T) {
	store := &fakeStore{}
	clk := newClock(t0)
	var logs bytes.Buffer
	var logMu sync.Mutex
	m := newTestManager(t, store, clk, Options{Logger: slog.New(slog.NewJSONHandler(lockedWriter{&logMu, &logs}, nil))})
	if err := m.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	want := signingKID(t, m)
	store.setGetErr(fmt.Errorf("dial: %w", storage.ErrUnavailable))
	gets := store.gets.Load()

	clk.Add(time.Minute)
	if got := signingKID(t, m); got != want {
		t.Errorf("signing key %s, want the cached %s", got, want)
	}
	if got := signingKID(t, m); got != want {
		t.Errorf("signing key %s, want the cached %s", got, want)
	}
	if n := store.gets.Load() - gets; n != 1 {
		t.Errorf("%d store reads, want 1 (next retry after CacheTTL)", n)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), "serving the cached set") {
		t.Errorf("no warning logged: %s", logs.String())
	}
}

func TestNoKeys(t *testing.T) {
	m := newTestManager(t, &fakeStore{}, newClock(t0), Options{})
	if _, err := m.SigningKey(t.Context()); !errors.Is(err, ErrNoSigningKey) {
		t.Errorf("SigningKey on an empty set: %v, want ErrNoSigningKey", err)
	}
	if ks, err := m.KeySet(t.Context()); err != nil || len(ks) != 0 {
		t.Errorf("KeySet on an empty set = %v, %v", ks, err)
	}
	if ks, err := m.List(t.Context()); err != nil || len(ks) != 0 {
		t.Errorf("List on an empty set = %v, %v", ks, err)
	}
}

func TestWrongMasterKey(t *testing.T) {
	store := &fakeStore{}
	clk := newClock(t0)
	if err := newTestManager(t, store, clk, Options{}).Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	kid := store.keys()[0].ID

	other := NewManager(store, newSealer(t, otherMaster), Options{Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})
	other.genKey = poolKey
	want := "decrypt signing key " + kid + ": wrong master key?"
	calls := map[string]func() error{
		"Ensure":     func() error { return other.Ensure(t.Context()) },
		"Maintain":   func() error { return other.Maintain(t.Context()) },
		"SigningKey": func() error { _, err := other.SigningKey(t.Context()); return err },
		"KeySet":     func() error { _, err := other.KeySet(t.Context()); return err },
		"Rotate":     func() error { _, err := other.Rotate(t.Context(), true); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, ErrOpen) {
				t.Fatalf("error %v, want one containing %q", err, want)
			}
		})
	}
	if got := storedKIDs(store); !slices.Equal(got, []string{kid}) {
		t.Errorf("the store changed: %v", got)
	}
	// List needs no master key.
	if list, err := other.List(t.Context()); err != nil || len(list) != 1 || list[0].State != StateSigning {
		t.Errorf("List = %+v, %v", list, err)
	}
}

func TestRun(t *testing.T) {
	store := &fakeStore{swapped: make(chan struct{}, 1)}
	m := newTestManager(t, store, newClock(t0), Options{})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		m.Run(ctx, time.Hour)
		close(done)
	}()
	<-store.swapped // the first Maintain created the first key
	cancel()
	<-done
	if n := len(store.keys()); n != 1 {
		t.Errorf("%d keys, want 1", n)
	}
}

// TestLogsNoKeyMaterial: key events are logged by kid only.
func TestLogsNoKeyMaterial(t *testing.T) {
	store := &fakeStore{}
	clk := newClock(t0)
	var logs bytes.Buffer
	m := newTestManager(t, store, clk, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if err := m.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour)
	if _, err := m.Rotate(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	clk.Add(immediateDelay) // the new key signs: the old one retires
	if err := m.Maintain(t.Context()); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, k := range store.keys() {
		if !strings.Contains(out, k.ID) {
			t.Errorf("kid %s not logged", k.ID)
		}
		var jwk map[string]any
		_ = json.Unmarshal(k.PublicJWK, &jwk)
		if n, _ := jwk["n"].(string); strings.Contains(out, n[:20]) {
			t.Error("the log holds key material")
		}
	}
	for _, msg := range []string{"signing key added", "signing key retiring"} {
		if !strings.Contains(out, msg) {
			t.Errorf("log lacks %q:\n%s", msg, out)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func BenchmarkSigningKey(b *testing.B) {
	store := &fakeStore{}
	m := newTestManager(b, store, nil, Options{Now: time.Now})
	if err := m.Ensure(b.Context()); err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.SigningKey(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSigningKeyParallel(b *testing.B) {
	store := &fakeStore{}
	m := newTestManager(b, store, nil, Options{Now: time.Now})
	if err := m.Ensure(b.Context()); err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.SigningKey(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestMaintainGivesUpAfterTwoConflicts: one reload and re-evaluation,
// then the conflict is the caller's (the next scheduled step retries).
func TestMaintainGivesUpAfterTwoConflicts(t *testing.T) {
	store := &fakeStore{}
	clk := newClock(t0)
	m := newTestManager(t, store, clk, Options{})
	if err := m.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	bump := func() { // another replica rewrites the set
		store.mu.Lock()
		defer store.mu.Unlock()
		store.set.Version++
	}
	store.beforeSwap = func() {
		bump()
		store.beforeSwap = bump // runs without the lock held, before the retry's swap
	}
	clk.Set(t0.Add(719 * time.Hour))
	err := m.Maintain(t.Context())
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("Maintain = %v, want ErrConflict", err)
	}
	if n := store.swaps.Load(); n != 3 { // Ensure's, and two lost ones
		t.Errorf("%d swaps, want 3", n)
	}
	if n := len(store.keys()); n != 1 {
		t.Errorf("%d keys, want 1", n)
	}
}

func TestListOnlyManager(t *testing.T) {
	store := &fakeStore{}
	clk := newClock(t0)
	lister := NewManager(store, nil, Options{Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})
	if err := lister.Ensure(t.Context()); !errors.Is(err, ErrNoMasterKey) {
		t.Errorf("Ensure without a sealer on an empty set: %v, want ErrNoMasterKey", err)
	}
	if err := newTestManager(t, store, clk, Options{}).Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	if list, err := lister.List(t.Context()); err != nil || len(list) != 1 {
		t.Errorf("List = %+v, %v", list, err)
	}
	clk.Add(time.Minute) // past the lister's cached (empty) set
	if _, err := lister.SigningKey(t.Context()); !errors.Is(err, ErrNoMasterKey) {
		t.Errorf("SigningKey without a sealer: %v, want ErrNoMasterKey", err)
	}
	if _, err := lister.Rotate(t.Context(), false); !errors.Is(err, ErrNoMasterKey) {
		t.Errorf("Rotate without a sealer: %v, want ErrNoMasterKey", err)
	}
}
