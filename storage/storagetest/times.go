package storagetest

import (
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

func timeTests() []subtest {
	return []subtest{
		{"UTCRoundTrip", testTimesUTCRoundTrip},
		{"ZeroTimes", testTimesZero},
	}
}

// shanghai is Asia/Shanghai, or the same fixed offset where the system has
// no time zone database.
func shanghai() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*60*60)
}

// Times given in another location come back equal, in UTC, with their
// microseconds. (check verifies the location of every returned time.)
func testTimesUTCRoundTrip(t *testing.T, s storage.Store) {
	ctx := t.Context()
	loc := shanghai()
	at := func(d time.Duration) time.Time {
		return base.Add(d).Add(654321 * time.Microsecond).In(loc)
	}

	c := newClient("grafana")
	c.CreatedAt, c.UpdatedAt = at(-time.Hour), at(-time.Minute)
	noErr(t, "CreateClient", s.CreateClient(ctx, c))
	gotClient, err := s.GetClient(ctx, c.ID)
	noErr(t, "GetClient", err)
	check(t, "client", c, gotClient)

	u := newUser("zzd", "1001")
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = at(-time.Hour), at(-time.Minute), at(-time.Second)
	u.LastCheckedAt = u.LastLoginAt
	gotUser, err := s.UpsertUser(ctx, u)
	noErr(t, "UpsertUser", err)
	check(t, "upserted user", u, gotUser)
	gotUser, err = s.GetUser(ctx, u.ID)
	noErr(t, "GetUser", err)
	check(t, "user", u, gotUser)

	sess := newSession(u.ID, "a")
	sess.AuthTime, sess.CreatedAt, sess.ExpiresAt = at(-time.Minute), at(-time.Minute), at(12*time.Hour)
	noErr(t, "CreateSession", s.CreateSession(ctx, sess))
	gotSession, _, err := s.GetSession(ctx, sess.IDHash, base)
	noErr(t, "GetSession", err)
	check(t, "session", sess, gotSession)

	g := newGrant(c.ID, u.ID, "a")
	g.AuthTime, g.CreatedAt, g.ExpiresAt = at(-time.Minute), at(0), at(720*time.Hour)
	mustGrant(t, s, g)
	check(t, "grant", g, mustGetGrant(t, s, g.ID, base))

	r := rotation("a", 0, at(time.Hour))
	r.ExpiresAt = at(1000 * time.Hour)
	rotated, err := s.RotateRefresh(ctx, r)
	noErr(t, "RotateRefresh", err)
	want := *g
	want.RefreshGeneration, want.PrevRefreshHash, want.RefreshHash = 1, r.FromHash, r.NewHash
	want.RotatedAt, want.ExpiresAt = r.Now, r.ExpiresAt
	check(t, "rotated grant", &want, rotated)
	revoked := at(2 * time.Hour)
	noErr(t, "RevokeGrant", s.RevokeGrant(ctx, g.ID, revoked))
	want.RevokedAt = revoked
	check(t, "revoked grant", &want, mustGetGrant(t, s, g.ID, base))

	k := newKey("k1", at(-time.Hour))
	k.ActiveFrom, k.RetireAt = at(0), at(48*time.Hour)
	_, err = s.SwapKeySet(ctx, 0, []storage.SigningKey{k})
	noErr(t, "SwapKeySet", err)
	ks, err := s.GetKeySet(ctx)
	noErr(t, "GetKeySet", err)
	checkKeySet(t, "key set", 1, []storage.SigningKey{k}, ks)

	e := &storage.AuditEvent{Time: at(0), Actor: "cli", Action: "client.create", Target: c.ID}
	noErr(t, "AppendAudit", s.AppendAudit(ctx, e))
	events, err := s.ListAudit(ctx, 1)
	noErr(t, "ListAudit", err)
	if len(events) != 1 {
		t.Fatalf("ListAudit returned %d events", len(events))
	}
	e.ID = events[0].ID
	check(t, "audit event", e, &events[0])
}

// Zero times (not rotated, not revoked, not retiring) come back as zero
// times.
func testTimesZero(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustClient(t, s, "grafana")
	u := mustUser(t, s, "zzd", "1001")
	g := newGrant("grafana", u.ID, "a")
	mustGrant(t, s, g)
	got := mustGetGrant(t, s, g.ID, base)
	if !got.RotatedAt.IsZero() || !got.RevokedAt.IsZero() {
		t.Errorf("RotatedAt = %v, RevokedAt = %v, want zero times", got.RotatedAt, got.RevokedAt)
	}

	_, err := s.SwapKeySet(ctx, 0, []storage.SigningKey{newKey("k1", base)})
	noErr(t, "SwapKeySet", err)
	ks, err := s.GetKeySet(ctx)
	noErr(t, "GetKeySet", err)
	if len(ks.Keys) != 1 || !ks.Keys[0].RetireAt.IsZero() {
		t.Errorf("keys = %+v, want one key with a zero RetireAt", ks.Keys)
	}
}
