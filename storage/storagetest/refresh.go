package storagetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

// The grace window and reuse policy live in package idp; these tests check
// the storage primitives it builds them on.
func refreshTests() []subtest {
	return []subtest{
		{"Rotate", testRefreshRotate},
		{"ConcurrentRotation", testRefreshConcurrent},
		{"StaleThenRevoke", testRefreshStaleThenRevoke},
		{"Refused", testRefreshRefused},
	}
}

// rotation moves grant `name` from generation `from` to the next one.
func rotation(name string, from int64, now time.Time) storage.Rotation {
	return storage.Rotation{
		RefreshID:      "refresh-" + name,
		FromGeneration: from,
		FromHash:       refreshHash(name, from),
		NewHash:        refreshHash(name, from+1),
		Now:            now,
		ExpiresAt:      now.Add(30 * 24 * time.Hour),
	}
}

func testRefreshRotate(t *testing.T, s storage.Store) {
	mustClient(t, s, "grafana")
	u := mustUser(t, s, "zzd", "1001")
	g := newGrant("grafana", u.ID, "a")
	mustGrant(t, s, g)

	want := *g
	for gen := range int64(3) {
		now := base.Add(time.Duration(gen+1) * time.Hour)
		r := rotation("a", gen, now)
		got, err := s.RotateRefresh(t.Context(), r)
		noErr(t, fmt.Sprintf("RotateRefresh(generation %d)", gen), err)

		want.RefreshGeneration = gen + 1
		want.PrevRefreshHash = r.FromHash
		want.RefreshHash = r.NewHash
		want.RotatedAt = now
		want.ExpiresAt = r.ExpiresAt
		check(t, fmt.Sprintf("rotated grant (generation %d)", gen+1), &want, got)

		stored, storedUser, err := s.GetGrantByRefreshID(t.Context(), "refresh-a", now)
		noErr(t, "GetGrantByRefreshID", err)
		check(t, "stored rotated grant", &want, stored)
		check(t, "user of the rotated grant", u, storedUser)
	}
}

// Of many requests presenting the same refresh token at once, exactly one
// rotates; the others see ErrConflict and, reading the grant, the previous
// hash and the generation the winner moved to (for the grace window).
func testRefreshConcurrent(t *testing.T, s storage.Store) {
	mustClient(t, s, "grafana")
	u := mustUser(t, s, "zzd", "1001")
	g := newGrant("grafana", u.ID, "a")
	mustGrant(t, s, g)

	const n = 16
	now := base.Add(time.Minute)
	results := make([]*storage.Grant, n)
	errs := race(n, func(i int) error {
		r := rotation("a", 0, now)
		r.NewHash = hash(fmt.Sprintf("refresh:a:1:%d", i))
		got, err := s.RotateRefresh(t.Context(), r)
		results[i] = got
		return err
	})
	winner := exactlyOneWinner(t, "RotateRefresh(same generation)", errs, storage.ErrConflict)
	winnerHash := hash(fmt.Sprintf("refresh:a:1:%d", winner))

	stored, _, err := s.GetGrantByRefreshID(t.Context(), "refresh-a", now)
	noErr(t, "GetGrantByRefreshID", err)
	check(t, "stored grant vs the winner's result", results[winner], stored)
	if stored.RefreshGeneration != 1 {
		t.Errorf("RefreshGeneration = %d, want 1", stored.RefreshGeneration)
	}
	if !bytes.Equal(stored.RefreshHash, winnerHash) {
		t.Errorf("RefreshHash is not the winner's new hash")
	}
	if !bytes.Equal(stored.PrevRefreshHash, g.RefreshHash) {
		t.Errorf("PrevRefreshHash is not the presented hash")
	}
	if !stored.RotatedAt.Equal(now) {
		t.Errorf("RotatedAt = %v, want %v", stored.RotatedAt, now)
	}
}

// A stale generation is a conflict that leaves the grant alone; once the
// caller decides it was reuse and revokes the grant, no rotation succeeds.
func testRefreshStaleThenRevoke(t *testing.T, s storage.Store) {
	mustClient(t, s, "grafana")
	u := mustUser(t, s, "zzd", "1001")
	mustGrant(t, s, newGrant("grafana", u.ID, "a"))

	t1 := base.Add(time.Hour)
	_, err := s.RotateRefresh(t.Context(), rotation("a", 0, t1))
	noErr(t, "RotateRefresh", err)

	t2 := t1.Add(10 * time.Second)
	_, err = s.RotateRefresh(t.Context(), rotation("a", 0, t2))
	wantErr(t, "RotateRefresh(stale generation)", err, storage.ErrConflict)
	wrongHash := rotation("a", 1, t2)
	wrongHash.FromHash = refreshHash("a", 0) // right generation, wrong secret
	_, err = s.RotateRefresh(t.Context(), wrongHash)
	wantErr(t, "RotateRefresh(wrong hash)", err, storage.ErrConflict)
	wrongGeneration := rotation("a", 0, t2)
	wrongGeneration.FromHash = refreshHash("a", 1) // current secret, wrong generation
	_, err = s.RotateRefresh(t.Context(), wrongGeneration)
	wantErr(t, "RotateRefresh(wrong generation)", err, storage.ErrConflict)

	g, _, err := s.GetGrantByRefreshID(t.Context(), "refresh-a", t2)
	noErr(t, "GetGrantByRefreshID", err)
	if g.RefreshGeneration != 1 || !bytes.Equal(g.PrevRefreshHash, refreshHash("a", 0)) ||
		!bytes.Equal(g.RefreshHash, refreshHash("a", 1)) || !g.RotatedAt.Equal(t1) {
		t.Fatalf("a refused rotation changed the grant: generation %d, rotated at %v", g.RefreshGeneration, g.RotatedAt)
	}

	noErr(t, "RevokeGrant", s.RevokeGrant(t.Context(), g.ID, t2))
	_, err = s.RotateRefresh(t.Context(), rotation("a", 1, t2))
	wantErr(t, "RotateRefresh(current generation, revoked)", err, storage.ErrRevoked)
	_, err = s.RotateRefresh(t.Context(), rotation("a", 0, t2))
	wantErr(t, "RotateRefresh(stale generation, revoked)", err, storage.ErrRevoked)
}

func testRefreshRefused(t *testing.T, s storage.Store) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, s storage.Store, g *storage.Grant)
		now     time.Time
		want    error
	}{
		{
			name: "revoked",
			prepare: func(t *testing.T, s storage.Store, g *storage.Grant) {
				noErr(t, "RevokeGrant", s.RevokeGrant(t.Context(), g.ID, base))
			},
			now:  base.Add(time.Minute),
			want: storage.ErrRevoked,
		},
		{
			name: "disabled user",
			prepare: func(t *testing.T, s storage.Store, g *storage.Grant) {
				noErr(t, "SetUserDisabled", s.SetUserDisabled(t.Context(), g.UserID, true, base))
			},
			now:  base.Add(time.Minute),
			want: storage.ErrUserDisabled,
		},
		{
			name:    "expired",
			prepare: func(*testing.T, storage.Store, *storage.Grant) {},
			now:     base.Add(31 * 24 * time.Hour),
			want:    storage.ErrNotFound,
		},
		{
			name: "unknown refresh id",
			prepare: func(t *testing.T, s storage.Store, g *storage.Grant) {
				g.RefreshID = "refresh-nope"
			},
			now:  base.Add(time.Minute),
			want: storage.ErrNotFound,
		},
	}
	mustClient(t, s, "grafana")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := mustUser(t, s, "zzd", fmt.Sprint(i))
			g := newGrant("grafana", u.ID, fmt.Sprint(i))
			mustGrant(t, s, g)
			tt.prepare(t, s, g)

			r := rotation(fmt.Sprint(i), 0, tt.now)
			r.RefreshID = g.RefreshID
			_, err := s.RotateRefresh(t.Context(), r)
			wantErr(t, "RotateRefresh", err, tt.want)
		})
	}
}
