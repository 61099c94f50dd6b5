package storagetest

import (
	"slices"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

func adminTokenTests() []subtest {
	return []subtest{
		{"CreateGet", testAdminTokenCreateGet},
		{"Duplicate", testAdminTokenDuplicate},
		{"Invalid", testAdminTokenInvalid},
		{"Expired", testAdminTokenExpired},
		{"Revoke", testAdminTokenRevoke},
		{"Touch", testAdminTokenTouch},
		{"List", testAdminTokenList},
		{"DeleteExpired", testAdminTokenDeleteExpired},
	}
}

func newAdminToken(id, scope string) *storage.AdminToken {
	return &storage.AdminToken{
		ID:        id,
		Name:      "token " + id + " (运维)",
		Hash:      hash("admin-token:" + id),
		Scope:     scope,
		CreatedAt: base.Add(-time.Hour),
		ExpiresAt: base.Add(720 * time.Hour),
	}
}

func mustAdminToken(t *testing.T, s storage.Store, tok *storage.AdminToken) {
	t.Helper()
	if err := s.CreateAdminToken(t.Context(), tok); err != nil {
		t.Fatalf("CreateAdminToken(%s): %v", tok.ID, err)
	}
}

func testAdminTokenCreateGet(t *testing.T, s storage.Store) {
	read := newAdminToken("t-read", storage.ScopeRead)
	forever := newAdminToken("t-forever", storage.ScopeWrite)
	forever.ExpiresAt = time.Time{} // never expires
	for _, tok := range []*storage.AdminToken{read, forever} {
		mustAdminToken(t, s, tok)
		got, err := s.GetAdminTokenByHash(t.Context(), tok.Hash, base)
		noErr(t, "GetAdminTokenByHash", err)
		check(t, "admin token "+tok.ID, tok, got)
	}
	got, err := s.GetAdminTokenByHash(t.Context(), forever.Hash, base.Add(100*365*24*time.Hour))
	noErr(t, "GetAdminTokenByHash(far future, no expiry)", err)
	check(t, "token without expiry", forever, got)

	_, err = s.GetAdminTokenByHash(t.Context(), hash("admin-token:unknown"), base)
	wantErr(t, "GetAdminTokenByHash(unknown)", err, storage.ErrNotFound)
	_, err = s.GetAdminTokenByHash(t.Context(), nil, base)
	wantErr(t, "GetAdminTokenByHash(empty)", err, storage.ErrNotFound)
}

func testAdminTokenDuplicate(t *testing.T, s storage.Store) {
	mustAdminToken(t, s, newAdminToken("t1", storage.ScopeRead))
	sameID := newAdminToken("t1", storage.ScopeWrite)
	sameID.Hash = hash("other")
	wantErr(t, "CreateAdminToken(same id)", s.CreateAdminToken(t.Context(), sameID), storage.ErrConflict)
	sameHash := newAdminToken("t2", storage.ScopeWrite)
	sameHash.Hash = hash("admin-token:t1")
	wantErr(t, "CreateAdminToken(same hash)", s.CreateAdminToken(t.Context(), sameHash), storage.ErrConflict)

	got, err := s.GetAdminTokenByHash(t.Context(), hash("admin-token:t1"), base)
	noErr(t, "GetAdminTokenByHash", err)
	if got.ID != "t1" || got.Scope != storage.ScopeRead {
		t.Errorf("a duplicate overwrote the token: %+v", got)
	}
}

func testAdminTokenInvalid(t *testing.T, s storage.Store) {
	badScope := newAdminToken("t1", "admin")
	noHash := newAdminToken("t2", storage.ScopeRead)
	noHash.Hash = nil
	noID := newAdminToken("", storage.ScopeRead)
	for _, tok := range []*storage.AdminToken{badScope, noHash, noID} {
		if err := s.CreateAdminToken(t.Context(), tok); err == nil {
			t.Errorf("CreateAdminToken(%+v) succeeded", tok)
		}
	}
	list, err := s.ListAdminTokens(t.Context())
	noErr(t, "ListAdminTokens", err)
	if len(list) != 0 {
		t.Errorf("invalid tokens were stored: %+v", list)
	}
}

func testAdminTokenExpired(t *testing.T, s storage.Store) {
	tok := newAdminToken("t1", storage.ScopeRead)
	mustAdminToken(t, s, tok)
	_, err := s.GetAdminTokenByHash(t.Context(), tok.Hash, tok.ExpiresAt.Add(-time.Microsecond))
	noErr(t, "GetAdminTokenByHash(just before expiry)", err)
	_, err = s.GetAdminTokenByHash(t.Context(), tok.Hash, tok.ExpiresAt)
	wantErr(t, "GetAdminTokenByHash(at expiry)", err, storage.ErrNotFound)
}

func testAdminTokenRevoke(t *testing.T, s storage.Store) {
	tok := newAdminToken("t1", storage.ScopeWrite)
	other := newAdminToken("t2", storage.ScopeWrite)
	mustAdminToken(t, s, tok)
	mustAdminToken(t, s, other)

	noErr(t, "RevokeAdminToken", s.RevokeAdminToken(t.Context(), tok.ID, base))
	_, err := s.GetAdminTokenByHash(t.Context(), tok.Hash, base.Add(-time.Minute))
	wantErr(t, "GetAdminTokenByHash(revoked)", err, storage.ErrNotFound)
	if _, err := s.GetAdminTokenByHash(t.Context(), other.Hash, base); err != nil {
		t.Errorf("GetAdminTokenByHash(other token): %v", err)
	}

	noErr(t, "RevokeAdminToken(again)", s.RevokeAdminToken(t.Context(), tok.ID, base.Add(time.Hour)))
	list, err := s.ListAdminTokens(t.Context())
	noErr(t, "ListAdminTokens", err)
	for _, l := range list {
		if l.ID == tok.ID && !l.RevokedAt.Equal(base) {
			t.Errorf("revoked again: RevokedAt %v, want the first time %v", l.RevokedAt, base)
		}
	}
	wantErr(t, "RevokeAdminToken(missing)", s.RevokeAdminToken(t.Context(), "nope", base), storage.ErrNotFound)
}

func testAdminTokenTouch(t *testing.T, s storage.Store) {
	tok := newAdminToken("t1", storage.ScopeRead)
	mustAdminToken(t, s, tok)
	noErr(t, "TouchAdminToken", s.TouchAdminToken(t.Context(), tok.ID, base))
	noErr(t, "TouchAdminToken(earlier)", s.TouchAdminToken(t.Context(), tok.ID, base.Add(-time.Minute)))
	got, err := s.GetAdminTokenByHash(t.Context(), tok.Hash, base)
	noErr(t, "GetAdminTokenByHash", err)
	want := *tok
	want.LastUsedAt = base
	check(t, "touched token", &want, got)

	noErr(t, "TouchAdminToken(later)", s.TouchAdminToken(t.Context(), tok.ID, base.Add(time.Minute)))
	got, err = s.GetAdminTokenByHash(t.Context(), tok.Hash, base)
	noErr(t, "GetAdminTokenByHash", err)
	if !got.LastUsedAt.Equal(base.Add(time.Minute)) {
		t.Errorf("LastUsedAt = %v, want %v", got.LastUsedAt, base.Add(time.Minute))
	}
	wantErr(t, "TouchAdminToken(missing)", s.TouchAdminToken(t.Context(), "nope", base), storage.ErrNotFound)
}

func testAdminTokenList(t *testing.T, s storage.Store) {
	list, err := s.ListAdminTokens(t.Context())
	noErr(t, "ListAdminTokens(empty)", err)
	if len(list) != 0 {
		t.Fatalf("ListAdminTokens on an empty store returned %d tokens", len(list))
	}
	var want []*storage.AdminToken
	for i, id := range []string{"old", "mid", "new"} {
		tok := newAdminToken(id, storage.ScopeRead)
		tok.CreatedAt = base.Add(time.Duration(i) * time.Hour)
		mustAdminToken(t, s, tok)
		want = append(want, tok)
	}
	noErr(t, "RevokeAdminToken", s.RevokeAdminToken(t.Context(), "mid", base))
	want[1].RevokedAt = base
	slices.Reverse(want)

	list, err = s.ListAdminTokens(t.Context())
	noErr(t, "ListAdminTokens", err)
	if len(list) != len(want) {
		t.Fatalf("ListAdminTokens returned %d tokens, want %d", len(list), len(want))
	}
	for i := range list {
		check(t, "listed token "+want[i].ID, want[i], &list[i])
	}
}

// DeleteExpired drops tokens expired or revoked more than
// storage.AdminTokenRetention ago and keeps the rest listed.
func testAdminTokenDeleteExpired(t *testing.T, s storage.Store) {
	keep := storage.AdminTokenRetention
	live := newAdminToken("live", storage.ScopeRead)
	forever := newAdminToken("forever", storage.ScopeRead)
	forever.ExpiresAt = time.Time{}
	recentlyExpired := newAdminToken("recently-expired", storage.ScopeRead)
	recentlyExpired.ExpiresAt = base.Add(-keep + time.Hour)
	longExpired := newAdminToken("long-expired", storage.ScopeRead)
	longExpired.CreatedAt = base.Add(-keep - 48*time.Hour)
	longExpired.ExpiresAt = base.Add(-keep - time.Hour)
	longRevoked := newAdminToken("long-revoked", storage.ScopeWrite)
	for _, tok := range []*storage.AdminToken{live, forever, recentlyExpired, longExpired, longRevoked} {
		mustAdminToken(t, s, tok)
	}
	noErr(t, "RevokeAdminToken", s.RevokeAdminToken(t.Context(), longRevoked.ID, base.Add(-keep-time.Hour)))

	n, err := s.DeleteExpired(t.Context(), base)
	noErr(t, "DeleteExpired", err)
	if n != 2 {
		t.Errorf("DeleteExpired removed %d rows, want 2 tokens", n)
	}
	list, err := s.ListAdminTokens(t.Context())
	noErr(t, "ListAdminTokens", err)
	var ids []string
	for _, tok := range list {
		ids = append(ids, tok.ID)
	}
	slices.Sort(ids)
	if want := []string{"forever", "live", "recently-expired"}; !slices.Equal(ids, want) {
		t.Errorf("tokens after DeleteExpired = %q, want %q", ids, want)
	}
}
