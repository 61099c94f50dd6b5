package storagetest

import (
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

func gcTests() []subtest {
	return []subtest{
		{"DeleteExpired", testDeleteExpired},
		{"DeleteExpiredEmpty", testDeleteExpiredEmpty},
	}
}

func testDeleteExpired(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustClient(t, s, "grafana")
	u := mustUser(t, s, "zzd", "1001")
	day := 24 * time.Hour

	// Sessions.
	expiredSession := newSession(u.ID, "expired")
	expiredSession.ExpiresAt = base.Add(-time.Second)
	liveSession := newSession(u.ID, "live")
	for _, sess := range []*storage.Session{expiredSession, liveSession} {
		noErr(t, "CreateSession", s.CreateSession(ctx, sess))
	}

	// Grants: expired, live, revoked more than a day ago, revoked recently.
	expired := newGrant("grafana", u.ID, "expired")
	expired.ExpiresAt = base.Add(-time.Second)
	live := newGrant("grafana", u.ID, "live")
	oldRevoked := newGrant("grafana", u.ID, "old-revoked")
	newRevoked := newGrant("grafana", u.ID, "new-revoked")
	for _, g := range []*storage.Grant{expired, live, oldRevoked, newRevoked} {
		mustGrant(t, s, g)
	}
	noErr(t, "RevokeGrant", s.RevokeGrant(ctx, oldRevoked.ID, base.Add(-day-time.Hour)))
	noErr(t, "RevokeGrant", s.RevokeGrant(ctx, newRevoked.ID, base.Add(-time.Hour)))

	// Keys: retired, retiring later, current.
	retired := newKey("retired", base.Add(-90*day))
	retired.RetireAt = base.Add(-time.Hour)
	retiring := newKey("retiring", base.Add(-60*day))
	retiring.RetireAt = base.Add(time.Hour)
	current := newKey("current", base.Add(-30*day))
	_, err := s.SwapKeySet(ctx, 0, []storage.SigningKey{retired, retiring, current})
	noErr(t, "SwapKeySet", err)

	n, err := s.DeleteExpired(ctx, base)
	noErr(t, "DeleteExpired", err)
	if want := int64(4); n != want {
		t.Errorf("DeleteExpired removed %d rows, want %d (1 session, 2 grants, 1 key)", n, want)
	}

	// Gone: looked up at a time when they were still live, they are absent.
	earlier := base.Add(-2 * time.Second)
	_, _, err = s.GetSession(ctx, expiredSession.IDHash, earlier)
	wantErr(t, "GetSession(expired, collected)", err, storage.ErrNotFound)
	for _, id := range []string{expired.ID, oldRevoked.ID} {
		_, _, err = s.GetGrant(ctx, id, earlier)
		wantErr(t, "GetGrant("+id+", collected)", err, storage.ErrNotFound)
	}

	// Kept.
	if _, _, err := s.GetSession(ctx, liveSession.IDHash, base); err != nil {
		t.Errorf("GetSession(live): %v", err)
	}
	if g := mustGetGrant(t, s, live.ID, base); g.Revoked() {
		t.Error("live grant revoked")
	}
	if g := mustGetGrant(t, s, newRevoked.ID, base); !g.Revoked() {
		t.Error("recently revoked grant lost its revocation")
	}
	ks, err := s.GetKeySet(ctx)
	noErr(t, "GetKeySet", err)
	checkKeySet(t, "key set after DeleteExpired", ks.Version, []storage.SigningKey{retiring, current}, ks)

	n, err = s.DeleteExpired(ctx, base)
	noErr(t, "DeleteExpired(again)", err)
	if n != 0 {
		t.Errorf("second DeleteExpired removed %d rows, want 0", n)
	}
}

func testDeleteExpiredEmpty(t *testing.T, s storage.Store) {
	n, err := s.DeleteExpired(t.Context(), base)
	noErr(t, "DeleteExpired", err)
	if n != 0 {
		t.Errorf("DeleteExpired on an empty store removed %d rows", n)
	}
}
