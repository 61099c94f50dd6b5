package storagetest

import (
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

// checkTests cover the record of upstream checks (leavers at refresh).
func checkTests() []subtest {
	return []subtest{
		{"NeverChecked", testCheckNever},
		{"SetAndRenew", testCheckSetAndRenew},
		{"UnknownUser", testCheckUnknownUser},
	}
}

func testCheckNever(t *testing.T, s storage.Store) {
	u := mustUser(t, s, "zzd", "1001")
	at, err := s.UserCheckedAt(t.Context(), u.ID)
	noErr(t, "UserCheckedAt", err)
	if !at.IsZero() {
		t.Errorf("a user never checked: checked at %v", at)
	}
	at, err = s.UserCheckedAt(t.Context(), "nobody")
	noErr(t, "UserCheckedAt(unknown)", err)
	if !at.IsZero() {
		t.Errorf("an unknown user: checked at %v", at)
	}
}

func testCheckSetAndRenew(t *testing.T, s storage.Store) {
	u := mustUser(t, s, "zzd", "1001")
	other := mustUser(t, s, "zzd", "1002")
	first := base.Add(time.Hour).In(time.FixedZone("CST", 8*3600))
	noErr(t, "SetUserChecked", s.SetUserChecked(t.Context(), u.ID, first))
	at, err := s.UserCheckedAt(t.Context(), u.ID)
	noErr(t, "UserCheckedAt", err)
	sameTime(t, "checked at", first, at)

	later := first.Add(2 * time.Hour)
	noErr(t, "SetUserChecked(later)", s.SetUserChecked(t.Context(), u.ID, later))
	at, err = s.UserCheckedAt(t.Context(), u.ID)
	noErr(t, "UserCheckedAt(later)", err)
	sameTime(t, "checked again at", later, at)

	at, err = s.UserCheckedAt(t.Context(), other.ID)
	noErr(t, "UserCheckedAt(other)", err)
	if !at.IsZero() {
		t.Errorf("another user: checked at %v", at)
	}
}

func testCheckUnknownUser(t *testing.T, s storage.Store) {
	wantErr(t, "SetUserChecked(unknown)", s.SetUserChecked(t.Context(), "nobody", base), storage.ErrNotFound)
}

// sameTime checks that got is want, in UTC.
func sameTime(t *testing.T, what string, want, got time.Time) {
	t.Helper()
	if !got.Equal(want) || got.Location() != time.UTC {
		t.Errorf("%s: got %v, want %v in UTC", what, got, want)
	}
}
