// Package storagetest is the conformance suite every storage backend runs:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Store { … })
//	}
//
// Every subtest gets a fresh, empty store from newStore. The suite never
// sleeps and never reads the wall clock: it passes a fixed base time as the
// `now` arguments. All times it uses are whole microseconds (the precision
// every backend keeps); some are given in a non-UTC location and must come
// back equal and in UTC.
package storagetest

import (
	"testing"

	"github.com/dingoidc/dingoidc/storage"
)

// subtest is one named check against a fresh store.
type subtest struct {
	name string
	run  func(t *testing.T, s storage.Store)
}

// Run runs the whole conformance suite. newStore must return an empty store
// and arrange for it to be closed when t ends (t.Cleanup).
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	t.Helper()
	groups := []struct {
		name  string
		tests []subtest
	}{
		{"Clients", clientTests()},
		{"Users", userTests()},
		{"Sessions", sessionTests()},
		{"LoginSessions", loginSessionTests()},
		{"Codes", codeTests()},
		{"Grants", grantTests()},
		{"Refresh", refreshTests()},
		{"Keys", keyTests()},
		{"Audit", auditTests()},
		{"People", peopleTests()},
		{"SignIns", signInTests()},
		{"AdminTokens", adminTokenTests()},
		{"LoginStates", loginStateTests()},
		{"GC", gcTests()},
		{"Times", timeTests()},
		{"Stats", statsTests()},
		{"Ping", []subtest{{"Ping", testPing}}},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, newStore(t))
				})
			}
		})
	}
}

func testPing(t *testing.T, s storage.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
