package storagetest

import (
	"slices"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

// peopleTests cover what the admin's people pages read and do: search,
// pages, a person's sessions and grants, cutting a person off, and the
// upstream re-check time.
func peopleTests() []subtest {
	return []subtest{
		{"Search", testPeopleSearch},
		{"Pages", testPeoplePages},
		{"SetUserChecked", testPeopleSetUserChecked},
		{"SetUserCheckedMissing", testPeopleSetUserCheckedMissing},
		{"SessionsAndGrants", testPeopleSessionsAndGrants},
		{"RevokeUserSessions", testPeopleRevokeUserSessions},
		{"RevokeUserSessionsMissing", testPeopleRevokeUserSessionsMissing},
		{"RevokeOneGrant", testPeopleRevokeOneGrant},
	}
}

// mustPerson stores a user with the given claims.
func mustPerson(t *testing.T, s storage.Store, upstream, key, claims string) {
	t.Helper()
	u := newUser(upstream, key)
	u.Claims = []byte(claims)
	if _, err := s.UpsertUser(t.Context(), u); err != nil {
		t.Fatalf("UpsertUser(%s): %v", u.ID, err)
	}
}

func userIDs(us []storage.User) []string {
	var ids []string
	for _, u := range us {
		ids = append(ids, u.ID)
	}
	return ids
}

func testPeopleSearch(t *testing.T, s storage.Store) {
	mustPerson(t, s, "zzd", "acc-1001", `{"name":"张三","preferred_username":"ZhangSan","employee_code":"GA-0042","account_id":7788}`)
	mustPerson(t, s, "zzd", "acc-1002", `{"name":"李四","preferred_username":"lisi","employee_code":"GA-0043","email":"zhangsan@example.gov.cn"}`)
	mustPerson(t, s, "dt", "Union_XY", `{"name":"Wang Wu","preferred_username":"wangwu"}`)
	mustPerson(t, s, "dt", "union-100%", `{"name":"赵六_x"}`)

	tests := []struct {
		name   string
		filter storage.UserFilter
		want   []string
	}{
		{"name", storage.UserFilter{Query: "张"}, []string{"zzd_acc-1001"}},
		{"username ignoring case", storage.UserFilter{Query: "zhangsan"}, []string{"zzd_acc-1001"}},
		{"name ignoring case", storage.UserFilter{Query: "WANG w"}, []string{"dt_Union_XY"}},
		{"employee code", storage.UserFilter{Query: "ga-004"}, []string{"zzd_acc-1001", "zzd_acc-1002"}},
		{"numeric account id", storage.UserFilter{Query: "778"}, []string{"zzd_acc-1001"}},
		{"external id", storage.UserFilter{Query: "union_x"}, []string{"dt_Union_XY"}},
		{"subject", storage.UserFilter{Query: "zzd_acc"}, []string{"zzd_acc-1001", "zzd_acc-1002"}},
		{"other claims are not searched", storage.UserFilter{Query: "example.gov.cn"}, nil},
		{"percent is no wildcard", storage.UserFilter{Query: "100%"}, []string{"dt_union-100%"}},
		{"underscore is no wildcard", storage.UserFilter{Query: "六_"}, []string{"dt_union-100%"}},
		{"percent alone", storage.UserFilter{Query: "%"}, []string{"dt_union-100%"}},
		{"with upstream", storage.UserFilter{Query: "a", Upstream: "dt"}, []string{"dt_Union_XY"}},
		{"with limit", storage.UserFilter{Query: "acc", Limit: 1}, []string{"zzd_acc-1001"}},
		{"no match", storage.UserFilter{Query: "nobody"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListUsers(t.Context(), tt.filter)
			noErr(t, "ListUsers", err)
			if ids := userIDs(got); !slices.Equal(ids, tt.want) {
				t.Errorf("ListUsers(%+v) = %q, want %q", tt.filter, ids, tt.want)
			}
		})
	}
}

// Walking the pages with the After cursor visits everyone once, in order.
func testPeoplePages(t *testing.T, s storage.Store) {
	var all []string
	for _, key := range []string{"e", "a", "d", "b", "c"} {
		mustUser(t, s, "zzd", key)
		all = append(all, "zzd_"+key)
	}
	mustUser(t, s, "dt", "z")
	slices.Sort(all)

	for _, size := range []int{1, 2, 5} {
		var seen []string
		f := storage.UserFilter{Upstream: "zzd", Limit: size}
		for page := 0; ; page++ {
			if page > len(all) {
				t.Fatalf("page size %d: more pages than users", size)
			}
			got, err := s.ListUsers(t.Context(), f)
			noErr(t, "ListUsers", err)
			if len(got) > size {
				t.Fatalf("page size %d: got %d users", size, len(got))
			}
			if len(got) == 0 {
				break
			}
			seen = append(seen, userIDs(got)...)
			f.After = got[len(got)-1].ID
		}
		if !slices.Equal(seen, all) {
			t.Errorf("page size %d: pages gave %q, want %q", size, seen, all)
		}
	}

	got, err := s.ListUsers(t.Context(), storage.UserFilter{After: "zzd_b", Query: "zzd_"})
	noErr(t, "ListUsers", err)
	if ids := userIDs(got); !slices.Equal(ids, []string{"zzd_c", "zzd_d", "zzd_e"}) {
		t.Errorf("After with Query = %q", ids)
	}
}

func testPeopleSetUserChecked(t *testing.T, s storage.Store) {
	u := mustUser(t, s, "zzd", "1001")
	if !u.LastCheckedAt.Equal(u.LastLoginAt) {
		t.Errorf("UpsertUser: LastCheckedAt %v, want LastLoginAt %v", u.LastCheckedAt, u.LastLoginAt)
	}

	checked := base.Add(3 * time.Hour)
	noErr(t, "SetUserChecked", s.SetUserChecked(t.Context(), u.ID, checked))
	got, err := s.GetUser(t.Context(), u.ID)
	noErr(t, "GetUser", err)
	want := *u
	want.LastCheckedAt = checked
	check(t, "user after SetUserChecked", &want, got)

	// A login is a confirmation too: it moves LastCheckedAt to the login.
	again := newUser("zzd", "1001")
	again.LastLoginAt = base.Add(4 * time.Hour)
	again.LastCheckedAt = base.Add(-100 * time.Hour) // ignored
	got, err = s.UpsertUser(t.Context(), again)
	noErr(t, "UpsertUser", err)
	if !got.LastCheckedAt.Equal(again.LastLoginAt) {
		t.Errorf("UpsertUser after a check: LastCheckedAt %v, want %v", got.LastCheckedAt, again.LastLoginAt)
	}
}

func testPeopleSetUserCheckedMissing(t *testing.T, s storage.Store) {
	wantErr(t, "SetUserChecked(missing)", s.SetUserChecked(t.Context(), "zzd_nobody", base), storage.ErrNotFound)
}

// A person's live sessions and live, unrevoked grants, newest first; not
// another person's, not expired ones, not revoked ones.
func testPeopleSessionsAndGrants(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustClient(t, s, "grafana")
	mustClient(t, s, "gitlab")
	alice := mustUser(t, s, "zzd", "alice")
	bob := mustUser(t, s, "zzd", "bob")

	older := newSession(alice.ID, "older")
	older.CreatedAt = base.Add(-2 * time.Hour)
	newer := newSession(alice.ID, "newer")
	expired := newSession(alice.ID, "expired")
	expired.ExpiresAt = base.Add(-time.Second)
	for _, sess := range []*storage.Session{older, newer, expired} {
		noErr(t, "CreateSession", s.CreateSession(ctx, sess))
	}
	mustSession(t, s, bob.ID, "bob")

	g1 := newGrant("grafana", alice.ID, "g1")
	g1.CreatedAt = base.Add(-time.Hour)
	g2 := newGrant("gitlab", alice.ID, "g2")
	gExpired := newGrant("gitlab", alice.ID, "expired")
	gExpired.CreatedAt = base.Add(-48 * time.Hour)
	gExpired.ExpiresAt = base.Add(-time.Second)
	gRevoked := newGrant("grafana", alice.ID, "revoked")
	for _, g := range []*storage.Grant{g1, g2, gExpired, gRevoked, newGrant("grafana", bob.ID, "bob")} {
		mustGrant(t, s, g)
	}
	noErr(t, "RevokeGrant", s.RevokeGrant(ctx, gRevoked.ID, base))

	sessions, err := s.ListUserSessions(ctx, alice.ID, base)
	noErr(t, "ListUserSessions", err)
	if len(sessions) != 2 {
		t.Fatalf("ListUserSessions returned %d sessions, want 2 (newer, older)", len(sessions))
	}
	check(t, "newest session", newer, &sessions[0])
	check(t, "older session", older, &sessions[1])

	grants, err := s.ListUserGrants(ctx, alice.ID, base)
	noErr(t, "ListUserGrants", err)
	if len(grants) != 2 {
		t.Fatalf("ListUserGrants returned %d grants, want 2 (g2, g1)", len(grants))
	}
	check(t, "newest grant", g2, &grants[0])
	check(t, "older grant", g1, &grants[1])

	// Unknown people have nothing; nothing is live once everything ended.
	for _, tt := range []struct {
		user string
		now  time.Time
	}{{"zzd_nobody", base}, {alice.ID, base.Add(365 * 24 * time.Hour)}} {
		sessions, err := s.ListUserSessions(ctx, tt.user, tt.now)
		noErr(t, "ListUserSessions", err)
		grants, err := s.ListUserGrants(ctx, tt.user, tt.now)
		noErr(t, "ListUserGrants", err)
		if len(sessions) != 0 || len(grants) != 0 {
			t.Errorf("%s at %v: %d sessions, %d grants, want none", tt.user, tt.now, len(sessions), len(grants))
		}
	}
}

// Revoking everything of a person ends their sessions and grants but leaves
// them enabled (they may sign in again) and leaves others alone.
func testPeopleRevokeUserSessions(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustClient(t, s, "grafana")
	alice := mustUser(t, s, "zzd", "alice")
	bob := mustUser(t, s, "zzd", "bob")
	mustSession(t, s, alice.ID, "a1")
	mustSession(t, s, alice.ID, "a2")
	mustSession(t, s, bob.ID, "b")
	mustGrant(t, s, newGrant("grafana", alice.ID, "a1"))
	mustGrant(t, s, newGrant("grafana", alice.ID, "a2"))
	mustGrant(t, s, newGrant("grafana", alice.ID, "a-revoked"))
	mustGrant(t, s, newGrant("grafana", bob.ID, "b"))
	earlier := base.Add(-time.Hour)
	noErr(t, "RevokeGrant", s.RevokeGrant(ctx, "grant-a-revoked", earlier))

	at := base.Add(time.Minute)
	n, err := s.RevokeUserSessions(ctx, alice.ID, at)
	noErr(t, "RevokeUserSessions", err)
	if n != 4 {
		t.Errorf("RevokeUserSessions ended %d, want 4 (2 sessions, 2 grants)", n)
	}
	for _, name := range []string{"a1", "a2"} {
		_, _, err := s.GetSession(ctx, hash("session:"+name), base)
		wantErr(t, "GetSession after RevokeUserSessions", err, storage.ErrNotFound)
		if g := mustGetGrant(t, s, "grant-"+name, base); !g.RevokedAt.Equal(at) {
			t.Errorf("grant-%s revoked at %v, want %v", name, g.RevokedAt, at)
		}
	}
	if g := mustGetGrant(t, s, "grant-a-revoked", base); !g.RevokedAt.Equal(earlier) {
		t.Errorf("a grant revoked before got a new revocation time %v, want %v", g.RevokedAt, earlier)
	}
	_, err = s.RotateRefresh(ctx, storage.Rotation{
		RefreshID: "refresh-a1", FromGeneration: 0, FromHash: refreshHash("a1", 0),
		NewHash: refreshHash("a1", 1), Now: base, ExpiresAt: base.Add(time.Hour),
	})
	wantErr(t, "RotateRefresh after RevokeUserSessions", err, storage.ErrRevoked)

	u, err := s.GetUser(ctx, alice.ID)
	noErr(t, "GetUser", err)
	if u.Disabled {
		t.Error("RevokeUserSessions disabled the user")
	}
	mustSession(t, s, alice.ID, "after") // may sign in again

	if _, _, err := s.GetSession(ctx, hash("session:b"), base); err != nil {
		t.Errorf("GetSession(bob): %v", err)
	}
	if g := mustGetGrant(t, s, "grant-b", base); g.Revoked() {
		t.Error("another person's grant was revoked")
	}

	// Nothing left to end.
	n, err = s.RevokeUserSessions(ctx, bob.ID, at)
	noErr(t, "RevokeUserSessions(bob)", err)
	if n != 2 {
		t.Errorf("RevokeUserSessions(bob) ended %d, want 2", n)
	}
	n, err = s.RevokeUserSessions(ctx, bob.ID, at)
	noErr(t, "RevokeUserSessions(bob, again)", err)
	if n != 0 {
		t.Errorf("RevokeUserSessions(bob, again) ended %d, want 0", n)
	}
}

func testPeopleRevokeUserSessionsMissing(t *testing.T, s storage.Store) {
	_, err := s.RevokeUserSessions(t.Context(), "zzd_nobody", base)
	wantErr(t, "RevokeUserSessions(missing)", err, storage.ErrNotFound)
}

// The admin revokes one app of a person: that grant alone ends.
func testPeopleRevokeOneGrant(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustClient(t, s, "grafana")
	mustClient(t, s, "gitlab")
	u := mustUser(t, s, "zzd", "1001")
	mustSession(t, s, u.ID, "a")
	keep := newGrant("gitlab", u.ID, "keep")
	keep.SessionID = hash("session:a")
	drop := newGrant("grafana", u.ID, "drop")
	drop.SessionID = hash("session:a")
	mustGrant(t, s, keep)
	mustGrant(t, s, drop)

	noErr(t, "RevokeGrant", s.RevokeGrant(ctx, drop.ID, base))
	grants, err := s.ListUserGrants(ctx, u.ID, base)
	noErr(t, "ListUserGrants", err)
	if len(grants) != 1 || grants[0].ID != keep.ID {
		t.Errorf("ListUserGrants after revoking one = %v, want only %s", grants, keep.ID)
	}
	sessions, err := s.ListUserSessions(ctx, u.ID, base)
	noErr(t, "ListUserSessions", err)
	if len(sessions) != 1 {
		t.Errorf("revoking one grant ended the session: %d sessions", len(sessions))
	}
	wantErr(t, "RevokeGrant(missing)", s.RevokeGrant(ctx, "grant-nobody", base), storage.ErrNotFound)
}
