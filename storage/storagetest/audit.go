package storagetest

import (
	"slices"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

func auditTests() []subtest {
	return []subtest{
		{"Empty", testAuditEmpty},
		{"AppendListNewestFirst", testAuditAppendList},
		{"Filtered", testAuditFiltered},
		{"FilteredPages", testAuditFilteredPages},
	}
}

func testAuditEmpty(t *testing.T, s storage.Store) {
	got, err := s.ListAudit(t.Context(), 10)
	noErr(t, "ListAudit", err)
	if len(got) != 0 {
		t.Fatalf("ListAudit on an empty store returned %d events", len(got))
	}
}

func testAuditAppendList(t *testing.T, s storage.Store) {
	events := []*storage.AuditEvent{
		{Time: base, Actor: "cli", Action: "client.create", Target: "grafana", Details: []byte(`{"redirect_uris":["https://grafana.example.gov.cn/cb"]}`)},
		{Time: base.Add(time.Second), Actor: "admin-api:ops", Action: "user.disable", Target: "zzd_1001", Details: []byte(`{"reason":"离职"}`)},
		{Time: base.Add(2 * time.Second), Actor: "system", Action: "keys.rotate", Target: "k2"},
	}
	for _, e := range events {
		noErr(t, "AppendAudit", s.AppendAudit(t.Context(), e))
	}
	newestFirst := slices.Clone(events)
	slices.Reverse(newestFirst)

	tests := []struct {
		name  string
		limit int
		want  []*storage.AuditEvent
	}{
		{"no limit", 0, newestFirst},
		{"limit", 2, newestFirst[:2]},
		{"limit above count", 10, newestFirst},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListAudit(t.Context(), tt.limit)
			noErr(t, "ListAudit", err)
			if len(got) != len(tt.want) {
				t.Fatalf("ListAudit(%d) returned %d events, want %d", tt.limit, len(got), len(tt.want))
			}
			seen := map[int64]bool{}
			for i := range got {
				if got[i].ID == 0 || seen[got[i].ID] {
					t.Errorf("event %d: ID %d is zero or repeated", i, got[i].ID)
				}
				seen[got[i].ID] = true
				want := *tt.want[i]
				want.ID = got[i].ID // assigned by the store
				check(t, "audit event "+want.Action, &want, &got[i])
			}
		})
	}
}

func testAuditFiltered(t *testing.T, s storage.Store) {
	events := []*storage.AuditEvent{
		{Time: base, Actor: "cli", Action: "client.create", Target: "grafana"},
		{Time: base.Add(time.Second), Actor: "admin-api:zzd_ops", Action: "client.update", Target: "grafana", Details: []byte(`{"fields":["name"]}`)},
		{Time: base.Add(2 * time.Second), Actor: "admin-api:zzd_ops", Action: "user.disable", Target: "zzd_1001"},
		{Time: base.Add(3 * time.Second), Actor: "config", Action: "client.update", Target: "gitlab"},
		{Time: base.Add(4 * time.Second), Actor: "system", Action: "keys.rotate", Target: "k2"},
	}
	for _, e := range events {
		noErr(t, "AppendAudit", s.AppendAudit(t.Context(), e))
	}
	ids := func(is ...int) []int64 {
		var out []int64
		for _, i := range slices.Backward(is) {
			out = append(out, events[i].ID)
		}
		return out
	}
	tests := []struct {
		name   string
		filter storage.AuditFilter
		want   []int64
	}{
		{"all", storage.AuditFilter{}, ids(0, 1, 2, 3, 4)},
		{"actor", storage.AuditFilter{Actor: "admin-api:zzd_ops"}, ids(1, 2)},
		{"action", storage.AuditFilter{Action: "client.update"}, ids(1, 3)},
		{"target", storage.AuditFilter{Target: "grafana"}, ids(0, 1)},
		{"from (inclusive)", storage.AuditFilter{From: base.Add(3 * time.Second)}, ids(3, 4)},
		{"to (exclusive)", storage.AuditFilter{To: base.Add(time.Second)}, ids(0)},
		{"range and action", storage.AuditFilter{Action: "client.update", From: base.Add(time.Second), To: base.Add(3 * time.Second)}, ids(1)},
		{"before", storage.AuditFilter{Before: events[2].ID}, ids(0, 1)},
		{"limit", storage.AuditFilter{Limit: 2}, ids(3, 4)},
		{"no match", storage.AuditFilter{Actor: "cli", Target: "gitlab"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListAuditFiltered(t.Context(), tt.filter)
			noErr(t, "ListAuditFiltered", err)
			var gotIDs []int64
			for i := range got {
				gotIDs = append(gotIDs, got[i].ID)
				for _, e := range events {
					if e.ID == got[i].ID {
						check(t, "audit event", e, &got[i])
					}
				}
			}
			if !slices.Equal(gotIDs, tt.want) {
				t.Errorf("ListAuditFiltered(%+v) = %v, want %v", tt.filter, gotIDs, tt.want)
			}
		})
	}
}

func testAuditFilteredPages(t *testing.T, s storage.Store) {
	var want []int64
	for i := range 12 {
		e := &storage.AuditEvent{Time: base.Add(time.Duration(i) * time.Second), Actor: "cli", Action: "client.update", Target: "grafana"}
		if i%4 == 0 {
			e.Target = "gitlab"
		}
		noErr(t, "AppendAudit", s.AppendAudit(t.Context(), e))
		if e.Target == "grafana" {
			want = append(want, e.ID)
		}
	}
	slices.Reverse(want)
	f := storage.AuditFilter{Target: "grafana", Limit: 4}
	var got []int64
	for page := 0; ; page++ {
		if page > 12 {
			t.Fatal("more pages than events")
		}
		es, err := s.ListAuditFiltered(t.Context(), f)
		noErr(t, "ListAuditFiltered", err)
		if len(es) == 0 {
			break
		}
		for _, e := range es {
			got = append(got, e.ID)
		}
		f.Before = es[len(es)-1].ID
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages gave %v, want %v", got, want)
	}
}
