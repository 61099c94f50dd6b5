package storagetest

import (
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

func sessionTests() []subtest {
	return []subtest{
		{"CreateGet", testSessionCreateGet},
		{"Expiry", testSessionExpiry},
		{"Missing", testSessionMissing},
		{"LoginStateSingleUse", testSessionLoginStateSingleUse},
		{"DuplicateID", testSessionDuplicateID},
		{"DeleteRevokesGrants", testSessionDelete},
	}
}

func testSessionCreateGet(t *testing.T, s storage.Store) {
	u := mustUser(t, s, "zzd", "1001")
	want := mustSession(t, s, u.ID, "a")
	got, gotUser, err := s.GetSession(t.Context(), want.IDHash, base)
	noErr(t, "GetSession", err)
	check(t, "session", want, got)
	check(t, "session user", u, gotUser)
}

func testSessionExpiry(t *testing.T, s storage.Store) {
	u := mustUser(t, s, "zzd", "1001")
	sess := mustSession(t, s, u.ID, "a")
	tests := []struct {
		name string
		now  time.Time
		want error
	}{
		{"created", sess.CreatedAt, nil},
		{"just before expiry", sess.ExpiresAt.Add(-time.Microsecond), nil},
		{"just after expiry", sess.ExpiresAt.Add(time.Microsecond), storage.ErrNotFound},
		{"long after expiry", sess.ExpiresAt.Add(30 * 24 * time.Hour), storage.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.GetSession(t.Context(), sess.IDHash, tt.now)
			if tt.want == nil {
				noErr(t, "GetSession", err)
				return
			}
			wantErr(t, "GetSession", err, tt.want)
		})
	}
}

func testSessionMissing(t *testing.T, s storage.Store) {
	_, _, err := s.GetSession(t.Context(), hash("session:nobody"), base)
	wantErr(t, "GetSession(missing)", err, storage.ErrNotFound)
	wantErr(t, "DeleteSession(missing)", s.DeleteSession(t.Context(), hash("session:nobody"), base), storage.ErrNotFound)
}

// The upstream state is single use: a second session from the same state
// (a QR scanned for one browser replayed in another) is refused.
func testSessionLoginStateSingleUse(t *testing.T, s storage.Store) {
	u := mustUser(t, s, "zzd", "1001")
	first := mustSession(t, s, u.ID, "a")
	replay := newSession(u.ID, "b")
	replay.LoginStateHash = first.LoginStateHash
	wantErr(t, "CreateSession(same login state)", s.CreateSession(t.Context(), replay), storage.ErrConflict)
	_, _, err := s.GetSession(t.Context(), replay.IDHash, base)
	wantErr(t, "GetSession(refused session)", err, storage.ErrNotFound)
}

func testSessionDuplicateID(t *testing.T, s storage.Store) {
	u := mustUser(t, s, "zzd", "1001")
	first := mustSession(t, s, u.ID, "a")
	dup := newSession(u.ID, "b")
	dup.IDHash = first.IDHash
	wantErr(t, "CreateSession(same id)", s.CreateSession(t.Context(), dup), storage.ErrConflict)
}

func testSessionDelete(t *testing.T, s storage.Store) {
	mustClient(t, s, "grafana")
	u := mustUser(t, s, "zzd", "1001")
	a := mustSession(t, s, u.ID, "a")
	mustSession(t, s, u.ID, "b")
	ga1 := newGrant("grafana", u.ID, "a1")
	ga1.SessionID = a.IDHash
	ga2 := newGrant("grafana", u.ID, "a2")
	ga2.SessionID = a.IDHash
	gb := newGrant("grafana", u.ID, "b")
	gb.SessionID = hash("session:b")
	for _, g := range []*storage.Grant{ga1, ga2, gb} {
		mustGrant(t, s, g)
	}

	logout := base.Add(time.Hour)
	noErr(t, "DeleteSession", s.DeleteSession(t.Context(), a.IDHash, logout))

	_, _, err := s.GetSession(t.Context(), a.IDHash, base)
	wantErr(t, "GetSession after DeleteSession", err, storage.ErrNotFound)
	for _, id := range []string{ga1.ID, ga2.ID} {
		g := mustGetGrant(t, s, id, logout)
		if !g.RevokedAt.Equal(logout) {
			t.Errorf("%s: RevokedAt = %v, want %v", id, g.RevokedAt, logout)
		}
	}
	if g := mustGetGrant(t, s, gb.ID, logout); g.Revoked() {
		t.Error("grant of another session revoked")
	}
	if _, _, err := s.GetSession(t.Context(), hash("session:b"), base); err != nil {
		t.Errorf("GetSession(other session): %v", err)
	}
	wantErr(t, "DeleteSession again", s.DeleteSession(t.Context(), a.IDHash, logout), storage.ErrNotFound)
}
