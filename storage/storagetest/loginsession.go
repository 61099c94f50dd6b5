package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

// UpsertUserAndCreateSession is the login's success path: UpsertUser and
// CreateSession with their semantics, all or nothing.
func loginSessionTests() []subtest {
	return []subtest{
		{"NewUser", testLoginSessionNewUser},
		{"ExistingUserRefreshed", testLoginSessionExistingUser},
		{"DisabledUserNoSession", testLoginSessionDisabled},
		{"LoginStateUsedWritesNothing", testLoginSessionStateUsed},
		{"SessionIDUsedWritesNothing", testLoginSessionIDUsed},
		{"LoginStateRaced", testLoginSessionStateRaced},
		{"SamePersonAtOnce", testLoginSessionSamePerson},
		{"SubjectTaken", testLoginSessionSubjectTaken},
	}
}

func testLoginSessionNewUser(t *testing.T, s storage.Store) {
	want := newUser("zzd", "1001")
	sess := newSession("", "a")
	got, err := s.UpsertUserAndCreateSession(t.Context(), want, sess)
	noErr(t, "UpsertUserAndCreateSession", err)
	check(t, "returned user", want, got)
	if sess.UserID != want.ID {
		t.Errorf("session UserID = %q, want %q", sess.UserID, want.ID)
	}
	stored, err := s.GetUser(t.Context(), want.ID)
	noErr(t, "GetUser", err)
	check(t, "stored user", want, stored)
	gotSess, gotUser, err := s.GetSession(t.Context(), sess.IDHash, base)
	noErr(t, "GetSession", err)
	check(t, "session", sess, gotSess)
	check(t, "session user", want, gotUser)
}

// An existing person is refreshed as UpsertUser does (claims, UpdatedAt,
// LastLoginAt, LastCheckedAt; id and CreatedAt kept), and the session is
// the stored user's even when the caller derived another id.
func testLoginSessionExistingUser(t *testing.T, s storage.Store) {
	first := mustUser(t, s, "zzd", "1001")
	noErr(t, "SetUserChecked", s.SetUserChecked(t.Context(), first.ID, base.Add(-30*time.Minute)))

	again := newUser("zzd", "1001")
	again.ID = "zzd_other-derivation"
	again.Claims = []byte(`{"name":"张三丰","email":"zhang@example.gov.cn"}`)
	again.CreatedAt = base // must not replace the original
	again.UpdatedAt = base
	again.LastLoginAt = base
	sess := newSession("", "a")
	got, err := s.UpsertUserAndCreateSession(t.Context(), again, sess)
	noErr(t, "UpsertUserAndCreateSession", err)

	want := *again
	want.ID = first.ID
	want.CreatedAt = first.CreatedAt
	want.LastCheckedAt = base // from LastLoginAt
	check(t, "returned user", &want, got)
	stored, err := s.GetUser(t.Context(), first.ID)
	noErr(t, "GetUser", err)
	check(t, "stored user", &want, stored)
	if sess.UserID != first.ID {
		t.Errorf("session UserID = %q, want the stored %q", sess.UserID, first.ID)
	}
	gotSess, _, err := s.GetSession(t.Context(), sess.IDHash, base)
	noErr(t, "GetSession", err)
	check(t, "session", sess, gotSess)
	if _, err := s.GetUser(t.Context(), again.ID); err == nil {
		t.Error("a second user was created under the derived id")
	}
}

// A disabled user is refreshed (as UpsertUser does) and returned; no
// session is created.
func testLoginSessionDisabled(t *testing.T, s storage.Store) {
	u := mustUser(t, s, "zzd", "1001")
	noErr(t, "SetUserDisabled", s.SetUserDisabled(t.Context(), u.ID, true, base))

	again := newUser("zzd", "1001")
	again.LastLoginAt = base
	sess := newSession("", "a")
	got, err := s.UpsertUserAndCreateSession(t.Context(), again, sess)
	noErr(t, "UpsertUserAndCreateSession(disabled)", err)
	if !got.Disabled {
		t.Fatal("the disabled user came back enabled")
	}
	if !got.LastLoginAt.Equal(base) {
		t.Errorf("LastLoginAt = %v, want %v", got.LastLoginAt, base)
	}
	stored, err := s.GetUser(t.Context(), u.ID)
	noErr(t, "GetUser", err)
	check(t, "stored user", got, stored)
	_, _, err = s.GetSession(t.Context(), sess.IDHash, base)
	wantErr(t, "GetSession(disabled user's login)", err, storage.ErrNotFound)
	live, err := s.ListUserSessions(t.Context(), u.ID, base)
	noErr(t, "ListUserSessions", err)
	if len(live) != 0 {
		t.Errorf("disabled user has %d sessions", len(live))
	}
	// The login state was not spent: enabled again, the same state logs in.
	noErr(t, "SetUserDisabled(false)", s.SetUserDisabled(t.Context(), u.ID, false, base))
	_, err = s.UpsertUserAndCreateSession(t.Context(), newUser("zzd", "1001"), newSession("", "a"))
	noErr(t, "UpsertUserAndCreateSession(enabled)", err)
}

// A login state used before is ErrConflict, and neither an existing user's
// refresh nor a new user is written.
func testLoginSessionStateUsed(t *testing.T, s storage.Store) {
	old := mustUser(t, s, "zzd", "1001")
	first := mustSession(t, s, old.ID, "a")

	again := newUser("zzd", "1001")
	again.Claims = []byte(`{"name":"someone else"}`)
	again.UpdatedAt = base
	again.LastLoginAt = base
	replay := newSession("", "b")
	replay.LoginStateHash = first.LoginStateHash
	_, err := s.UpsertUserAndCreateSession(t.Context(), again, replay)
	wantErr(t, "UpsertUserAndCreateSession(same login state)", err, storage.ErrConflict)
	stored, err := s.GetUser(t.Context(), old.ID)
	noErr(t, "GetUser", err)
	check(t, "user after the refused login", old, stored)
	_, _, err = s.GetSession(t.Context(), replay.IDHash, base)
	wantErr(t, "GetSession(refused session)", err, storage.ErrNotFound)

	newcomer := newUser("zzd", "2002")
	replay = newSession("", "c")
	replay.LoginStateHash = first.LoginStateHash
	_, err = s.UpsertUserAndCreateSession(t.Context(), newcomer, replay)
	wantErr(t, "UpsertUserAndCreateSession(new user, same login state)", err, storage.ErrConflict)
	_, err = s.GetUser(t.Context(), newcomer.ID)
	wantErr(t, "GetUser(user of the refused login)", err, storage.ErrNotFound)
}

func testLoginSessionIDUsed(t *testing.T, s storage.Store) {
	old := mustUser(t, s, "zzd", "1001")
	first := mustSession(t, s, old.ID, "a")
	newcomer := newUser("zzd", "2002")
	dup := newSession("", "b")
	dup.IDHash = first.IDHash
	_, err := s.UpsertUserAndCreateSession(t.Context(), newcomer, dup)
	wantErr(t, "UpsertUserAndCreateSession(same session id)", err, storage.ErrConflict)
	_, err = s.GetUser(t.Context(), newcomer.ID)
	wantErr(t, "GetUser(user of the refused login)", err, storage.ErrNotFound)
}

// One login state raced by logins of different new people: one wins; every
// other is ErrConflict and leaves no user behind.
func testLoginSessionStateRaced(t *testing.T, s storage.Store) {
	const n = 8
	errs := race(n, func(i int) error {
		sess := newSession("", fmt.Sprint("s", i))
		sess.LoginStateHash = hash("state:shared")
		_, err := s.UpsertUserAndCreateSession(t.Context(), newUser("zzd", fmt.Sprint(3000+i)), sess)
		return err
	})
	winner := exactlyOneWinner(t, "UpsertUserAndCreateSession(shared login state)", errs, storage.ErrConflict)
	users, err := s.ListUsers(t.Context(), storage.UserFilter{})
	noErr(t, "ListUsers", err)
	if want := newUser("zzd", fmt.Sprint(3000+winner)).ID; len(users) != 1 || users[0].ID != want {
		t.Errorf("users after the race: %v, want only %s", users, want)
	}
}

// The same new person logging in from several browsers at once: every login
// succeeds, with one user and a session each.
func testLoginSessionSamePerson(t *testing.T, s storage.Store) {
	const n = 8
	errs := race(n, func(i int) error {
		_, err := s.UpsertUserAndCreateSession(t.Context(), newUser("zzd", "1001"), newSession("", fmt.Sprint("p", i)))
		return err
	})
	for i, err := range errs {
		noErr(t, fmt.Sprint("UpsertUserAndCreateSession ", i), err)
	}
	live, err := s.ListUserSessions(t.Context(), newUser("zzd", "1001").ID, base)
	noErr(t, "ListUserSessions", err)
	if len(live) != n {
		t.Errorf("%d sessions, want %d", len(live), n)
	}
}

// A subject taken by another person is ErrConflict, as with UpsertUser, and
// no session is created.
func testLoginSessionSubjectTaken(t *testing.T, s storage.Store) {
	owner := mustUser(t, s, "zzd", "1001")
	other := newUser("dt", "1001")
	other.ID = owner.ID
	sess := newSession("", "a")
	_, err := s.UpsertUserAndCreateSession(t.Context(), other, sess)
	wantErr(t, "UpsertUserAndCreateSession(subject taken)", err, storage.ErrConflict)
	_, _, err = s.GetSession(t.Context(), sess.IDHash, base)
	wantErr(t, "GetSession(refused session)", err, storage.ErrNotFound)
	stored, err := s.GetUser(t.Context(), owner.ID)
	noErr(t, "GetUser", err)
	check(t, "the subject's owner", owner, stored)
}
