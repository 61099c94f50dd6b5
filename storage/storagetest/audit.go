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
