package storagetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

func codeTests() []subtest {
	return []subtest{
		{"RedeemedExactlyOnce", testCodeRedeemedOnce},
		{"RevokeByCodeUnknown", testCodeRevokeUnknown},
	}
}

func grantTests() []subtest {
	return []subtest{
		{"CreateGet", testGrantCreateGet},
		{"Expiry", testGrantExpiry},
		{"Missing", testGrantMissing},
		{"DuplicateID", testGrantDuplicateID},
		{"WithoutRefresh", testGrantWithoutRefresh},
		{"DuplicateRefreshID", testGrantDuplicateRefreshID},
		{"Revoke", testGrantRevoke},
		{"EndedSession", testGrantEndedSession},
	}
}

// A code redeemed after its SSO session ended (logout, expiry) yields no
// grant: the logout must end what the session would have issued.
func testGrantEndedSession(t *testing.T, s storage.Store) {
	mustClient(t, s, "grafana")
	u := mustUser(t, s, "zzd", "1001")
	live := mustSession(t, s, u.ID, "live")
	gone := mustSession(t, s, u.ID, "gone")
	noErr(t, "DeleteSession", s.DeleteSession(t.Context(), gone.IDHash, base))

	g := newGrant("grafana", u.ID, "live")
	g.SessionID = live.IDHash
	mustGrant(t, s, g)

	g = newGrant("grafana", u.ID, "gone")
	g.SessionID = gone.IDHash
	_, err := s.CreateGrant(t.Context(), g)
	wantErr(t, "CreateGrant for a deleted session", err, storage.ErrRevoked)

	g = newGrant("grafana", u.ID, "never")
	g.SessionID = hash("session:never")
	_, err = s.CreateGrant(t.Context(), g)
	wantErr(t, "CreateGrant for an unknown session", err, storage.ErrRevoked)

	g = newGrant("grafana", u.ID, "expired")
	g.SessionID = live.IDHash
	g.CreatedAt = live.ExpiresAt.Add(time.Second)
	g.ExpiresAt = g.CreatedAt.Add(time.Hour)
	_, err = s.CreateGrant(t.Context(), g)
	wantErr(t, "CreateGrant after the session expired", err, storage.ErrRevoked)

	if _, _, err := s.GetGrant(t.Context(), "grant-gone", base); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a grant was stored for an ended session: %v", err)
	}
}

// An authorization code is redeemed exactly once, however many requests
// race for it; a replay then revokes what the first redemption produced.
func testCodeRedeemedOnce(t *testing.T, s storage.Store) {
	mustClient(t, s, "grafana")
	u := mustUser(t, s, "zzd", "1001")
	code := hash("code:shared")

	const n = 32
	errs := race(n, func(i int) error {
		g := newGrant("grafana", u.ID, fmt.Sprint(i))
		g.CodeHash = code
		got, err := s.CreateGrant(t.Context(), g)
		if err == nil && got.ID != u.ID {
			return fmt.Errorf("CreateGrant returned user %q, want %q", got.ID, u.ID)
		}
		return err
	})
	winner := exactlyOneWinner(t, "CreateGrant(same code)", errs, storage.ErrConflict)
	winnerID := fmt.Sprintf("grant-%d", winner)
	for i := range n {
		if i == winner {
			continue
		}
		_, _, err := s.GetGrant(t.Context(), fmt.Sprintf("grant-%d", i), base)
		wantErr(t, "GetGrant(loser)", err, storage.ErrNotFound)
	}

	replay := base.Add(time.Minute)
	noErr(t, "RevokeGrantByCode", s.RevokeGrantByCode(t.Context(), code, replay))
	g := mustGetGrant(t, s, winnerID, replay)
	if !g.RevokedAt.Equal(replay) {
		t.Errorf("RevokedAt = %v, want %v", g.RevokedAt, replay)
	}
	// A second replay keeps the first revocation time.
	noErr(t, "RevokeGrantByCode(again)", s.RevokeGrantByCode(t.Context(), code, replay.Add(time.Minute)))
	if g := mustGetGrant(t, s, winnerID, replay); !g.RevokedAt.Equal(replay) {
		t.Errorf("after a second revocation RevokedAt = %v, want %v", g.RevokedAt, replay)
	}
}

func testCodeRevokeUnknown(t *testing.T, s storage.Store) {
	wantErr(t, "RevokeGrantByCode(unknown)", s.RevokeGrantByCode(t.Context(), hash("code:nope"), base), storage.ErrNotFound)
}

func testGrantCreateGet(t *testing.T, s storage.Store) {
	mustClient(t, s, "grafana")
	u := mustUser(t, s, "zzd", "1001")
	want := newGrant("grafana", u.ID, "a")
	want.Audience = []string{"grafana", "api"}
	gotUser, err := s.CreateGrant(t.Context(), want)
	noErr(t, "CreateGrant", err)
	check(t, "user returned by CreateGrant", u, gotUser)

	got, gotUser, err := s.GetGrant(t.Context(), want.ID, base)
	noErr(t, "GetGrant", err)
	check(t, "grant", want, got)
	check(t, "grant user", u, gotUser)

	got, gotUser, err = s.GetGrantByRefreshID(t.Context(), want.RefreshID, base)
	noErr(t, "GetGrantByRefreshID", err)
	check(t, "grant by refresh id", want, got)
	check(t, "grant user by refresh id", u, gotUser)
}

func testGrantExpiry(t *testing.T, s storage.Store) {
	mustClient(t, s, "grafana")
	u := mustUser(t, s, "zzd", "1001")
	g := newGrant("grafana", u.ID, "a")
	mustGrant(t, s, g)
	tests := []struct {
		name string
		now  time.Time
		want error
	}{
		{"created", g.CreatedAt, nil},
		{"just before expiry", g.ExpiresAt.Add(-time.Microsecond), nil},
		{"just after expiry", g.ExpiresAt.Add(time.Microsecond), storage.ErrNotFound},
		{"long after expiry", g.ExpiresAt.Add(365 * 24 * time.Hour), storage.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.GetGrant(t.Context(), g.ID, tt.now)
			_, _, errRefresh := s.GetGrantByRefreshID(t.Context(), g.RefreshID, tt.now)
			if tt.want == nil {
				noErr(t, "GetGrant", err)
				noErr(t, "GetGrantByRefreshID", errRefresh)
				return
			}
			wantErr(t, "GetGrant", err, tt.want)
			wantErr(t, "GetGrantByRefreshID", errRefresh, tt.want)
		})
	}
}

func testGrantMissing(t *testing.T, s storage.Store) {
	_, _, err := s.GetGrant(t.Context(), "grant-nope", base)
	wantErr(t, "GetGrant(missing)", err, storage.ErrNotFound)
	_, _, err = s.GetGrantByRefreshID(t.Context(), "refresh-nope", base)
	wantErr(t, "GetGrantByRefreshID(missing)", err, storage.ErrNotFound)
	wantErr(t, "RevokeGrant(missing)", s.RevokeGrant(t.Context(), "grant-nope", base), storage.ErrNotFound)
}

func testGrantDuplicateID(t *testing.T, s storage.Store) {
	mustClient(t, s, "grafana")
	u := mustUser(t, s, "zzd", "1001")
	mustGrant(t, s, newGrant("grafana", u.ID, "a"))
	dup := newGrant("grafana", u.ID, "b")
	dup.ID = "grant-a"
	_, err := s.CreateGrant(t.Context(), dup)
	wantErr(t, "CreateGrant(same id)", err, storage.ErrConflict)
}

// Grants without a refresh token have an empty RefreshID; any number of them
// may exist, and the empty id finds nothing.
func testGrantWithoutRefresh(t *testing.T, s storage.Store) {
	mustClient(t, s, "grafana")
	u := mustUser(t, s, "zzd", "1001")
	for _, name := range []string{"a", "b"} {
		g := newGrant("grafana", u.ID, name)
		g.RefreshID, g.RefreshHash = "", nil
		g.Scopes = []string{"openid"}
		mustGrant(t, s, g)
		check(t, "grant without refresh", g, mustGetGrant(t, s, g.ID, base))
	}
	_, _, err := s.GetGrantByRefreshID(t.Context(), "", base)
	wantErr(t, "GetGrantByRefreshID(empty)", err, storage.ErrNotFound)
}

func testGrantDuplicateRefreshID(t *testing.T, s storage.Store) {
	mustClient(t, s, "grafana")
	u := mustUser(t, s, "zzd", "1001")
	mustGrant(t, s, newGrant("grafana", u.ID, "a"))
	dup := newGrant("grafana", u.ID, "b")
	dup.RefreshID = "refresh-a"
	_, err := s.CreateGrant(t.Context(), dup)
	wantErr(t, "CreateGrant(same refresh id)", err, storage.ErrConflict)
}

func testGrantRevoke(t *testing.T, s storage.Store) {
	mustClient(t, s, "grafana")
	u := mustUser(t, s, "zzd", "1001")
	mustGrant(t, s, newGrant("grafana", u.ID, "a"))
	mustGrant(t, s, newGrant("grafana", u.ID, "b"))

	revoked := base.Add(time.Hour)
	noErr(t, "RevokeGrant", s.RevokeGrant(t.Context(), "grant-a", revoked))
	g, _, err := s.GetGrant(t.Context(), "grant-a", revoked)
	noErr(t, "GetGrant(revoked)", err)
	if !g.RevokedAt.Equal(revoked) {
		t.Errorf("RevokedAt = %v, want %v", g.RevokedAt, revoked)
	}
	g, _, err = s.GetGrantByRefreshID(t.Context(), "refresh-a", revoked)
	noErr(t, "GetGrantByRefreshID(revoked)", err)
	if !g.RevokedAt.Equal(revoked) {
		t.Errorf("by refresh id: RevokedAt = %v, want %v", g.RevokedAt, revoked)
	}

	// Revoking again succeeds and keeps the first time.
	noErr(t, "RevokeGrant(again)", s.RevokeGrant(t.Context(), "grant-a", revoked.Add(time.Hour)))
	if g := mustGetGrant(t, s, "grant-a", revoked); !g.RevokedAt.Equal(revoked) {
		t.Errorf("after revoking again RevokedAt = %v, want %v", g.RevokedAt, revoked)
	}
	if g := mustGetGrant(t, s, "grant-b", revoked); g.Revoked() {
		t.Error("another grant was revoked")
	}
}
