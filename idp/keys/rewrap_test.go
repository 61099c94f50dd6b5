package keys_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dingoidc/dingoidc/idp/keys"
	"github.com/dingoidc/dingoidc/storage"
	"github.com/dingoidc/dingoidc/storage/sqlite"
)

func sealer(t *testing.T) *keys.Sealer {
	t.Helper()
	mk, err := keys.ParseMasterKey(keys.GenerateMasterKey())
	if err != nil {
		t.Fatal(err)
	}
	s, err := keys.NewSealer(mk)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func manager(st storage.Store, s *keys.Sealer) *keys.Manager {
	return keys.NewManager(st, s, keys.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// signs checks that m's signing key signs and that the signature verifies
// with the published key of the same kid.
func signs(t *testing.T, m *keys.Manager) string {
	t.Helper()
	sk, err := m.SigningKey(t.Context())
	if err != nil {
		t.Fatalf("signing key: %v", err)
	}
	digest := sha256.Sum256([]byte("payload"))
	sig, err := sk.Key().(crypto.Signer).Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := m.KeySet(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(pub, func(k op.Key) bool { return k.ID() == sk.ID() })
	if i < 0 {
		t.Fatalf("signing key %s is not published", sk.ID())
	}
	if err := rsa.VerifyPKCS1v15(pub[i].Key().(*rsa.PublicKey), crypto.SHA256, digest[:], sig); err != nil {
		t.Fatalf("the published key %s does not verify the signature: %v", sk.ID(), err)
	}
	return sk.ID()
}

// TestRewrap: after a rewrap the same keys open under the new master key
// only, signing goes on with the same kid, and a second run changes nothing.
func TestRewrap(t *testing.T) {
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "dingoidc.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	oldS, newS, otherS := sealer(t), sealer(t), sealer(t)

	// Nothing to do on an empty database.
	if res, err := keys.Rewrap(t.Context(), st, oldS, newS, time.Now()); err != nil || res.Rewrapped != 0 {
		t.Fatalf("empty database: %+v, %v", res, err)
	}

	m := manager(st, oldS)
	if err := m.Ensure(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Rotate(t.Context(), false); err != nil { // a signing and a next key
		t.Fatal(err)
	}
	kid := signs(t, m)
	before, _ := st.GetKeySet(t.Context())

	res, err := keys.Rewrap(t.Context(), st, oldS, newS, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.Rewrapped != 2 || res.Already != 0 || len(res.KIDs) != 2 {
		t.Fatalf("rewrap: %+v, want 2 keys re-encrypted", res)
	}
	after, _ := st.GetKeySet(t.Context())
	for i, k := range after.Keys {
		b := before.Keys[i]
		if k.ID != b.ID || !bytes.Equal(k.PublicJWK, b.PublicJWK) || !k.ActiveFrom.Equal(b.ActiveFrom) {
			t.Errorf("key %s changed more than its encryption", b.ID)
		}
		if bytes.Equal(k.PrivateEnc, b.PrivateEnc) {
			t.Errorf("key %s was not re-encrypted", k.ID)
		}
	}

	// A fresh start with the new key signs with the same kid; the old key
	// opens nothing any more.
	if got := signs(t, manager(st, newS)); got != kid {
		t.Errorf("after rewrap signs with %s, want %s", got, kid)
	}
	if _, err := manager(st, oldS).SigningKey(t.Context()); err == nil {
		t.Error("the old master key still opens the signing key")
	}

	// Repeating the command (say, after a crash before the config changed)
	// finds every key done already.
	res, err = keys.Rewrap(t.Context(), st, oldS, newS, time.Now())
	if err != nil || res.Rewrapped != 0 || res.Already != 2 {
		t.Errorf("second rewrap: %+v, %v; want 2 already done", res, err)
	}

	// Under a master key that opens nothing: an error naming the key, and
	// nothing written.
	set, _ := st.GetKeySet(t.Context())
	_, err = keys.Rewrap(t.Context(), st, otherS, sealer(t), time.Now())
	if err == nil || !strings.Contains(err.Error(), "opens under neither") || !strings.Contains(err.Error(), set.Keys[0].ID) {
		t.Errorf("rewrap with a wrong master key: %v", err)
	}
	if again, _ := st.GetKeySet(t.Context()); again.Version != set.Version {
		t.Error("a failed rewrap changed the key set")
	}

	audit, err := st.ListAudit(t.Context(), 1)
	if err != nil || len(audit) != 1 || audit[0].Action != "keys.rewrap" || !strings.Contains(string(audit[0].Details), `"rewrapped":2`) {
		t.Errorf("audit: %+v, %v", audit, err)
	}
}
