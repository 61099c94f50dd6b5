package storagetest

import (
	"slices"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

func userTests() []subtest {
	return []subtest{
		{"UpsertCreates", testUserUpsertCreates},
		{"UpsertUpdates", testUserUpsertUpdates},
		{"UpsertKeepsDisabled", testUserUpsertKeepsDisabled},
		{"UpsertSubjectTaken", testUserUpsertSubjectTaken},
		{"GetMissing", testUserGetMissing},
		{"DisableMissing", testUserDisableMissing},
		{"DisableEndsSessionsAndGrants", testUserDisable},
		{"GetSessionDisabled", testUserGetSessionDisabled},
		{"CreateGrantDisabled", testUserCreateGrantDisabled},
		{"CreateGrantUnknownUser", testUserCreateGrantUnknown},
		{"List", testUserList},
	}
}

func testUserUpsertCreates(t *testing.T, s storage.Store) {
	want := newUser("zzd", "1001")
	got, err := s.UpsertUser(t.Context(), want)
	noErr(t, "UpsertUser", err)
	check(t, "returned user", want, got)

	got, err = s.GetUser(t.Context(), want.ID)
	noErr(t, "GetUser", err)
	check(t, "stored user", want, got)
}

func testUserUpsertUpdates(t *testing.T, s storage.Store) {
	first := mustUser(t, s, "zzd", "1001")

	again := newUser("zzd", "1001")
	again.Claims = []byte(`{"name":"张三丰","email":"zhang@example.gov.cn"}`)
	again.CreatedAt = base // must not replace the original
	again.UpdatedAt = base
	again.LastLoginAt = base
	got, err := s.UpsertUser(t.Context(), again)
	noErr(t, "UpsertUser(again)", err)

	want := *again
	want.CreatedAt = first.CreatedAt
	want.LastCheckedAt = base // from LastLoginAt
	check(t, "returned user", &want, got)
	got, err = s.GetUser(t.Context(), again.ID)
	noErr(t, "GetUser", err)
	check(t, "stored user", &want, got)
}

func testUserUpsertKeepsDisabled(t *testing.T, s storage.Store) {
	u := mustUser(t, s, "zzd", "1001")
	noErr(t, "SetUserDisabled", s.SetUserDisabled(t.Context(), u.ID, true, base))

	again := newUser("zzd", "1001")
	again.Disabled = false
	again.LastLoginAt = base
	got, err := s.UpsertUser(t.Context(), again)
	noErr(t, "UpsertUser(disabled)", err)
	if !got.Disabled {
		t.Error("UpsertUser enabled a disabled user")
	}
	if !got.LastLoginAt.Equal(base) {
		t.Errorf("LastLoginAt = %v, want %v", got.LastLoginAt, base)
	}

	noErr(t, "SetUserDisabled(false)", s.SetUserDisabled(t.Context(), u.ID, false, base))
	got, err = s.GetUser(t.Context(), u.ID)
	noErr(t, "GetUser", err)
	if got.Disabled {
		t.Error("SetUserDisabled(false) left the user disabled")
	}
}

// The subject is derived from (upstream, external id); a second identity
// claiming a taken subject is a conflict, not an update of someone else.
func testUserUpsertSubjectTaken(t *testing.T, s storage.Store) {
	mustUser(t, s, "zzd", "1001")
	other := newUser("dt", "1001")
	other.ID = "zzd_1001"
	_, err := s.UpsertUser(t.Context(), other)
	wantErr(t, "UpsertUser(subject taken)", err, storage.ErrConflict)
}

func testUserGetMissing(t *testing.T, s storage.Store) {
	_, err := s.GetUser(t.Context(), "zzd_nobody")
	wantErr(t, "GetUser(missing)", err, storage.ErrNotFound)
}

func testUserDisableMissing(t *testing.T, s storage.Store) {
	wantErr(t, "SetUserDisabled(missing)", s.SetUserDisabled(t.Context(), "zzd_nobody", true, base), storage.ErrNotFound)
}

func testUserDisable(t *testing.T, s storage.Store) {
	mustClient(t, s, "grafana")
	alice := mustUser(t, s, "zzd", "alice")
	bob := mustUser(t, s, "zzd", "bob")
	mustSession(t, s, alice.ID, "alice")
	mustSession(t, s, bob.ID, "bob")
	mustGrant(t, s, newGrant("grafana", alice.ID, "alice"))
	mustGrant(t, s, newGrant("grafana", bob.ID, "bob"))

	disabledAt := base.Add(time.Minute)
	noErr(t, "SetUserDisabled", s.SetUserDisabled(t.Context(), alice.ID, true, disabledAt))

	got, err := s.GetUser(t.Context(), alice.ID)
	noErr(t, "GetUser", err)
	if !got.Disabled {
		t.Error("user not disabled")
	}
	_, _, err = s.GetSession(t.Context(), hash("session:alice"), base)
	wantErr(t, "GetSession of the disabled user (deleted)", err, storage.ErrNotFound)
	g, gu, err := s.GetGrant(t.Context(), "grant-alice", base)
	noErr(t, "GetGrant of the disabled user", err)
	if !g.RevokedAt.Equal(disabledAt) {
		t.Errorf("grant of the disabled user revoked at %v, want %v", g.RevokedAt, disabledAt)
	}
	if !gu.Disabled {
		t.Error("GetGrant returned the user as enabled")
	}

	// Bob is untouched.
	if _, _, err := s.GetSession(t.Context(), hash("session:bob"), base); err != nil {
		t.Errorf("GetSession(bob): %v", err)
	}
	if g := mustGetGrant(t, s, "grant-bob", base); g.Revoked() {
		t.Error("grant of another user revoked")
	}

	// Enabling again does not bring the grant back.
	noErr(t, "SetUserDisabled(false)", s.SetUserDisabled(t.Context(), alice.ID, false, base))
	if g := mustGetGrant(t, s, "grant-alice", base); !g.Revoked() {
		t.Error("enabling the user un-revoked its grant")
	}
}

// A session created while an admin disables the user (the login raced the
// disable) must not be usable.
func testUserGetSessionDisabled(t *testing.T, s storage.Store) {
	u := mustUser(t, s, "zzd", "1001")
	noErr(t, "SetUserDisabled", s.SetUserDisabled(t.Context(), u.ID, true, base))
	mustSession(t, s, u.ID, "late")
	_, _, err := s.GetSession(t.Context(), hash("session:late"), base)
	wantErr(t, "GetSession(disabled user)", err, storage.ErrUserDisabled)
}

func testUserCreateGrantDisabled(t *testing.T, s storage.Store) {
	mustClient(t, s, "grafana")
	u := mustUser(t, s, "zzd", "1001")
	noErr(t, "SetUserDisabled", s.SetUserDisabled(t.Context(), u.ID, true, base))
	_, err := s.CreateGrant(t.Context(), newGrant("grafana", u.ID, "a"))
	wantErr(t, "CreateGrant(disabled user)", err, storage.ErrUserDisabled)
	_, _, err = s.GetGrant(t.Context(), "grant-a", base)
	wantErr(t, "GetGrant of a refused grant", err, storage.ErrNotFound)
}

func testUserCreateGrantUnknown(t *testing.T, s storage.Store) {
	mustClient(t, s, "grafana")
	_, err := s.CreateGrant(t.Context(), newGrant("grafana", "zzd_nobody", "a"))
	wantErr(t, "CreateGrant(unknown user)", err, storage.ErrNotFound)
}

func testUserList(t *testing.T, s storage.Store) {
	got, err := s.ListUsers(t.Context(), storage.UserFilter{})
	noErr(t, "ListUsers(empty store)", err)
	if len(got) != 0 {
		t.Fatalf("ListUsers on an empty store returned %d users", len(got))
	}

	want := map[string]*storage.User{}
	for _, u := range []struct{ upstream, key string }{
		{"zzd", "3"}, {"dt", "b"}, {"zzd", "1"}, {"dt", "a"}, {"zzd", "2"},
	} {
		user := newUser(u.upstream, u.key)
		user.LastLoginAt = base.Add(time.Duration(len(want)) * time.Second)
		user.LastCheckedAt = user.LastLoginAt
		stored, err := s.UpsertUser(t.Context(), user)
		noErr(t, "UpsertUser", err)
		want[stored.ID] = user
	}

	tests := []struct {
		name   string
		filter storage.UserFilter
		want   []string
	}{
		{"all", storage.UserFilter{}, []string{"dt_a", "dt_b", "zzd_1", "zzd_2", "zzd_3"}},
		{"upstream", storage.UserFilter{Upstream: "zzd"}, []string{"zzd_1", "zzd_2", "zzd_3"}},
		{"other upstream", storage.UserFilter{Upstream: "dt"}, []string{"dt_a", "dt_b"}},
		{"limit", storage.UserFilter{Limit: 2}, []string{"dt_a", "dt_b"}},
		{"upstream and limit", storage.UserFilter{Upstream: "zzd", Limit: 1}, []string{"zzd_1"}},
		{"limit above count", storage.UserFilter{Upstream: "dt", Limit: 10}, []string{"dt_a", "dt_b"}},
		{"unknown upstream", storage.UserFilter{Upstream: "nope"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListUsers(t.Context(), tt.filter)
			noErr(t, "ListUsers", err)
			var ids []string
			for i := range got {
				ids = append(ids, got[i].ID)
				check(t, "listed user "+got[i].ID, want[got[i].ID], &got[i])
			}
			if !slices.Equal(ids, tt.want) {
				t.Errorf("ListUsers(%+v) = %q, want %q", tt.filter, ids, tt.want)
			}
		})
	}
}
