package storagetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

func signInTests() []subtest {
	return []subtest{
		{"Empty", testSignInsEmpty},
		{"AppendList", testSignInsAppendList},
		{"Filters", testSignInsFilters},
		{"Pages", testSignInsPages},
		{"InvalidBatchWritesNothing", testSignInsInvalid},
		{"LargeBatch", testSignInsLargeBatch},
		{"DeleteBefore", testSignInsDeleteBefore},
		{"DirtyText", testSignInsDirtyText},
		{"DirtySearch", testSignInsDirtySearch},
	}
}

// signIns is a small log: two people, two apps, two upstreams, each
// result, a second apart, in append order.
func signIns() []storage.SignInEvent {
	ev := func(i int, user, client, upstream, result, reason, ip string) storage.SignInEvent {
		return storage.SignInEvent{
			Time: base.Add(time.Duration(i) * time.Second), UserID: user, ClientID: client,
			Upstream: upstream, Result: result, Reason: reason, ClientIP: ip,
			UserAgent: "Mozilla/5.0 (iPhone) DingTalk/7.6.0",
		}
	}
	return []storage.SignInEvent{
		ev(0, "zzd_alice", "grafana", "zzd", "success", "", "10.0.0.1"),
		ev(1, "zzd_alice", "gitlab", "zzd", "sso", "", "10.0.0.1"),
		ev(2, "dt_bob", "grafana", "dt", "refused", "not in allowed_groups", "2001:db8::1"),
		ev(3, "", "grafana", "dt", "refused", "upstream error: 用户取消", "10.0.0.2"),
		ev(4, "zzd_alice", "gitlab", "zzd", "refresh_refused", "left the group", ""),
		ev(5, "dt_bob", "", "dt", "logout", "", "2001:db8::1"),
	}
}

// appendAll appends events and returns them with the IDs the store gave
// them (read back; IDs follow the append order).
func appendAll(t *testing.T, s storage.Store, events []storage.SignInEvent) []storage.SignInEvent {
	t.Helper()
	noErr(t, "AppendSignIns", s.AppendSignIns(t.Context(), events))
	got, err := s.ListSignIns(t.Context(), storage.SignInFilter{})
	noErr(t, "ListSignIns", err)
	if len(got) != len(events) {
		t.Fatalf("ListSignIns returned %d events after appending %d", len(got), len(events))
	}
	out := slices.Clone(events)
	for i := range out {
		out[i].ID = got[len(got)-1-i].ID
	}
	return out
}

func testSignInsEmpty(t *testing.T, s storage.Store) {
	noErr(t, "AppendSignIns(nil)", s.AppendSignIns(t.Context(), nil))
	got, err := s.ListSignIns(t.Context(), storage.SignInFilter{})
	noErr(t, "ListSignIns", err)
	if len(got) != 0 {
		t.Fatalf("ListSignIns on an empty store returned %d events", len(got))
	}
}

func testSignInsAppendList(t *testing.T, s storage.Store) {
	events := appendAll(t, s, signIns())
	for i := 1; i < len(events); i++ {
		if events[i].ID <= events[i-1].ID {
			t.Fatalf("IDs do not follow the append order: %d then %d", events[i-1].ID, events[i].ID)
		}
	}
	got, err := s.ListSignIns(t.Context(), storage.SignInFilter{})
	noErr(t, "ListSignIns", err)
	for i := range got {
		check(t, fmt.Sprintf("event %d", i), &events[len(events)-1-i], &got[i])
	}

	// A second batch comes after the first.
	more := signIns()[:2]
	noErr(t, "AppendSignIns", s.AppendSignIns(t.Context(), more))
	got, err = s.ListSignIns(t.Context(), storage.SignInFilter{Limit: 3})
	noErr(t, "ListSignIns", err)
	if len(got) != 3 || got[2].ID != events[len(events)-1].ID || got[1].ID <= got[2].ID {
		t.Errorf("after a second batch, the newest three are %+v", got)
	}
}

func testSignInsFilters(t *testing.T, s storage.Store) {
	events := appendAll(t, s, signIns())
	// ids returns the IDs of events i…, newest first.
	ids := func(is ...int) []int64 {
		var out []int64
		for _, i := range slices.Backward(is) {
			out = append(out, events[i].ID)
		}
		return out
	}
	tests := []struct {
		name   string
		filter storage.SignInFilter
		want   []int64
	}{
		{"all", storage.SignInFilter{}, ids(0, 1, 2, 3, 4, 5)},
		{"person", storage.SignInFilter{UserID: "zzd_alice"}, ids(0, 1, 4)},
		{"app", storage.SignInFilter{ClientID: "grafana"}, ids(0, 2, 3)},
		{"upstream", storage.SignInFilter{Upstream: "dt"}, ids(2, 3, 5)},
		{"result", storage.SignInFilter{Result: "refused"}, ids(2, 3)},
		{"client ip", storage.SignInFilter{ClientIP: "2001:db8::1"}, ids(2, 5)},
		{"from (inclusive)", storage.SignInFilter{From: base.Add(4 * time.Second)}, ids(4, 5)},
		{"to (exclusive)", storage.SignInFilter{To: base.Add(2 * time.Second)}, ids(0, 1)},
		{"time range", storage.SignInFilter{From: base.Add(time.Second), To: base.Add(3 * time.Second)}, ids(1, 2)},
		{"range in another zone", storage.SignInFilter{From: base.Add(time.Second).In(shanghai()), To: base.Add(3 * time.Second).In(shanghai())}, ids(1, 2)},
		{"combined", storage.SignInFilter{ClientID: "grafana", Upstream: "dt", Result: "refused", From: base.Add(3 * time.Second)}, ids(3)},
		{"before", storage.SignInFilter{Before: events[3].ID}, ids(0, 1, 2)},
		{"before and person", storage.SignInFilter{Before: events[4].ID, UserID: "zzd_alice"}, ids(0, 1)},
		{"limit", storage.SignInFilter{Limit: 2}, ids(4, 5)},
		{"person and limit", storage.SignInFilter{UserID: "zzd_alice", Limit: 2}, ids(1, 4)},
		{"no match", storage.SignInFilter{UserID: "zzd_nobody"}, nil},
		{"empty range", storage.SignInFilter{From: base.Add(time.Hour)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListSignIns(t.Context(), tt.filter)
			noErr(t, "ListSignIns", err)
			var gotIDs []int64
			for _, e := range got {
				gotIDs = append(gotIDs, e.ID)
			}
			if !slices.Equal(gotIDs, tt.want) {
				t.Errorf("ListSignIns(%+v) = %v, want %v", tt.filter, gotIDs, tt.want)
			}
		})
	}
}

// Walking the pages with the Before cursor visits every matching event
// once, newest first.
func testSignInsPages(t *testing.T, s storage.Store) {
	var batch []storage.SignInEvent
	for i := range 23 {
		client := "grafana"
		if i%3 == 0 {
			client = "gitlab"
		}
		batch = append(batch, storage.SignInEvent{Time: base.Add(time.Duration(i) * time.Minute),
			UserID: "zzd_alice", ClientID: client, Upstream: "zzd", Result: "success"})
	}
	noErr(t, "AppendSignIns", s.AppendSignIns(t.Context(), batch))
	for _, size := range []int{1, 5, 15} {
		f := storage.SignInFilter{ClientID: "grafana", Limit: size}
		var times []time.Time
		for page := 0; ; page++ {
			if page > len(batch) {
				t.Fatalf("page size %d: more pages than events", size)
			}
			got, err := s.ListSignIns(t.Context(), f)
			noErr(t, "ListSignIns", err)
			if len(got) > size {
				t.Fatalf("page size %d: got %d events", size, len(got))
			}
			if len(got) == 0 {
				break
			}
			for _, e := range got {
				times = append(times, e.Time)
			}
			f.Before = got[len(got)-1].ID
		}
		var want []time.Time
		for _, e := range slices.Backward(batch) {
			if e.ClientID == "grafana" {
				want = append(want, e.Time)
			}
		}
		if !slices.EqualFunc(times, want, time.Time.Equal) {
			t.Errorf("page size %d: pages gave %d events %v, want %d %v", size, len(times), times, len(want), want)
		}
	}
}

// A batch with an invalid event is refused whole.
func testSignInsInvalid(t *testing.T, s storage.Store) {
	noTime := signIns()
	noTime[3].Time = time.Time{}
	noResult := signIns()
	noResult[5].Result = ""
	for name, batch := range map[string][]storage.SignInEvent{"no time": noTime, "no result": noResult} {
		if err := s.AppendSignIns(t.Context(), batch); err == nil {
			t.Errorf("AppendSignIns(%s) succeeded", name)
		}
	}
	got, err := s.ListSignIns(t.Context(), storage.SignInFilter{})
	noErr(t, "ListSignIns", err)
	if len(got) != 0 {
		t.Errorf("refused batches wrote %d events", len(got))
	}
}

// A batch far larger than any per-statement parameter limit is one call.
func testSignInsLargeBatch(t *testing.T, s storage.Store) {
	const n = 10000
	batch := make([]storage.SignInEvent, n)
	for i := range batch {
		batch[i] = storage.SignInEvent{Time: base.Add(time.Duration(i) * time.Millisecond),
			UserID: fmt.Sprintf("zzd_%d", i), ClientID: "grafana", Upstream: "zzd", Result: "success",
			ClientIP: "10.0.0.1", UserAgent: "curl/8"}
	}
	noErr(t, "AppendSignIns", s.AppendSignIns(t.Context(), batch))
	got, err := s.ListSignIns(t.Context(), storage.SignInFilter{})
	noErr(t, "ListSignIns", err)
	if len(got) != n {
		t.Fatalf("ListSignIns returned %d events, want %d", len(got), n)
	}
	for i, e := range got {
		if want := fmt.Sprintf("zzd_%d", n-1-i); e.UserID != want {
			t.Fatalf("event %d: user %q, want %q (append order)", i, e.UserID, want)
		}
	}
}

func testSignInsDeleteBefore(t *testing.T, s storage.Store) {
	events := appendAll(t, s, signIns())
	n, err := s.DeleteSignInsBefore(t.Context(), base.Add(2*time.Second))
	noErr(t, "DeleteSignInsBefore", err)
	if n != 2 {
		t.Errorf("DeleteSignInsBefore removed %d events, want 2", n)
	}
	got, err := s.ListSignIns(t.Context(), storage.SignInFilter{})
	noErr(t, "ListSignIns", err)
	if len(got) != 4 || got[len(got)-1].ID != events[2].ID {
		t.Errorf("after DeleteSignInsBefore: %d events, oldest %+v; want 4, oldest %d", len(got), got[len(got)-1], events[2].ID)
	}

	// DeleteExpired leaves the log alone: its retention is separate.
	if _, err := s.DeleteExpired(t.Context(), base.Add(365*24*time.Hour)); err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	got, err = s.ListSignIns(t.Context(), storage.SignInFilter{})
	noErr(t, "ListSignIns", err)
	if len(got) != 4 {
		t.Errorf("DeleteExpired removed sign-in events: %d left, want 4", len(got))
	}
}

// Header values reach the log as the client sent them: invalid UTF-8 and
// NUL bytes must not make the batch fail (and lose its other events). They
// are stored with U+FFFD for invalid bytes and without NULs, and a filter
// with the same dirty value finds them.
func testSignInsDirtyText(t *testing.T, s storage.Store) {
	dirty := "Mozilla/5.0 \xff\xfe\x00(evil)"
	clean := "Mozilla/5.0 \uFFFD(evil)"
	batch := signIns()
	batch[1].UserAgent = dirty
	batch[2].Reason = "bad\x00reason"
	batch[3].ClientIP = "10.0.0.\xc3"
	noErr(t, "AppendSignIns(dirty)", s.AppendSignIns(t.Context(), batch))
	got, err := s.ListSignIns(t.Context(), storage.SignInFilter{})
	noErr(t, "ListSignIns", err)
	if len(got) != len(batch) {
		t.Fatalf("ListSignIns returned %d events, want %d", len(got), len(batch))
	}
	if ua := got[len(got)-2].UserAgent; ua != clean {
		t.Errorf("user agent stored as %q, want %q", ua, clean)
	}
	if r := got[len(got)-3].Reason; r != "badreason" {
		t.Errorf("reason stored as %q, want %q", r, "badreason")
	}
	got, err = s.ListSignIns(t.Context(), storage.SignInFilter{ClientIP: "10.0.0.\xc3"})
	noErr(t, "ListSignIns(dirty filter)", err)
	if len(got) != 1 || got[0].ClientIP != "10.0.0.\uFFFD" {
		t.Errorf("a dirty filter found %+v, want the one dirty event", got)
	}
}

// A search box may send anything: no error, just no match.
func testSignInsDirtySearch(t *testing.T, s storage.Store) {
	mustUser(t, s, "zzd", "1001")
	for _, q := range []string{"\x00", "\xff", "zzd\x00_1001"} {
		got, err := s.ListUsers(t.Context(), storage.UserFilter{Query: q, Upstream: q})
		noErr(t, fmt.Sprintf("ListUsers(%q)", q), err)
		if len(got) != 0 {
			t.Errorf("ListUsers(%q) = %d users", q, len(got))
		}
	}
	_, err := s.ListAuditFiltered(t.Context(), storage.AuditFilter{Actor: "\xff\x00"})
	noErr(t, "ListAuditFiltered(dirty)", err)
}
