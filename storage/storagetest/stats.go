package storagetest

import (
	"testing"

	"github.com/dingoidc/dingoidc/storage"
)

func statsTests() []subtest {
	return []subtest{
		{"CountsUpsertUser", testStatsUpsertUser},
	}
}

// Backends that report statistics count the statements and row writes of
// each call; package idp holds the per-login budget on top of them.
func testStatsUpsertUser(t *testing.T, s storage.Store) {
	sr, ok := s.(storage.StatsReporter)
	if !ok {
		t.Skip("the store does not implement storage.StatsReporter")
	}
	for _, step := range []string{"create", "update"} {
		before := sr.Stats()
		mustUser(t, s, "zzd", "1001")
		after := sr.Stats()
		if after.Statements <= before.Statements {
			t.Errorf("%s: Statements %d → %d, want an increase", step, before.Statements, after.Statements)
		}
		if after.RowWrites <= before.RowWrites {
			t.Errorf("%s: RowWrites %d → %d, want an increase", step, before.RowWrites, after.RowWrites)
		}
		t.Logf("UpsertUser (%s): %d statements, %d row writes", step,
			after.Statements-before.Statements, after.RowWrites-before.RowWrites)
	}
}
