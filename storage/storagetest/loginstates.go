package storagetest

import (
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

func loginStateTests() []subtest {
	return []subtest{
		{"ClaimOnce", testLoginStateClaimOnce},
		{"Release", testLoginStateRelease},
		{"Expiry", testLoginStateExpiry},
	}
}

func testLoginStateClaimOnce(t *testing.T, s storage.Store) {
	h := hash("state:a")
	noErr(t, "ClaimLoginState", s.ClaimLoginState(t.Context(), h, base.Add(10*time.Minute)))
	wantErr(t, "ClaimLoginState(again)", s.ClaimLoginState(t.Context(), h, base.Add(10*time.Minute)), storage.ErrConflict)
	noErr(t, "ClaimLoginState(another)", s.ClaimLoginState(t.Context(), hash("state:b"), base.Add(10*time.Minute)))
}

func testLoginStateRelease(t *testing.T, s storage.Store) {
	h := hash("state:a")
	noErr(t, "ReleaseLoginState(never claimed)", s.ReleaseLoginState(t.Context(), h))
	noErr(t, "ClaimLoginState", s.ClaimLoginState(t.Context(), h, base.Add(10*time.Minute)))
	noErr(t, "ReleaseLoginState", s.ReleaseLoginState(t.Context(), h))
	noErr(t, "ClaimLoginState(after release)", s.ClaimLoginState(t.Context(), h, base.Add(10*time.Minute)))
}

func testLoginStateExpiry(t *testing.T, s storage.Store) {
	exp := base.Add(10 * time.Minute)
	noErr(t, "ClaimLoginState", s.ClaimLoginState(t.Context(), hash("state:a"), exp))
	noErr(t, "ClaimLoginState", s.ClaimLoginState(t.Context(), hash("state:b"), exp.Add(time.Hour)))
	n, err := s.DeleteExpired(t.Context(), exp.Add(-time.Microsecond))
	noErr(t, "DeleteExpired(before)", err)
	if n != 0 {
		t.Errorf("DeleteExpired before expiry removed %d rows", n)
	}
	wantErr(t, "ClaimLoginState(live)", s.ClaimLoginState(t.Context(), hash("state:a"), exp), storage.ErrConflict)
	n, err = s.DeleteExpired(t.Context(), exp)
	noErr(t, "DeleteExpired(at expiry)", err)
	if n != 1 {
		t.Errorf("DeleteExpired at expiry removed %d rows, want 1", n)
	}
	wantErr(t, "ClaimLoginState(b, live)", s.ClaimLoginState(t.Context(), hash("state:b"), exp), storage.ErrConflict)
}
