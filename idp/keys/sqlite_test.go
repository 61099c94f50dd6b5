package keys

import (
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage/sqlite"
)

// TestSQLite runs two replicas against one real SQLite database through a
// rotation, then restarts with the right and a wrong master key.
func TestSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dingoidc.db")
	store, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { store.Close() })

	clk := newClock(t0)
	a := newTestManager(t, store, clk, Options{})
	b := newTestManager(t, store, clk, Options{})
	var wg sync.WaitGroup
	for _, m := range []*Manager{a, b} {
		wg.Go(func() {
			if err := m.Ensure(t.Context()); err != nil {
				t.Errorf("Ensure: %v", err)
			}
		})
	}
	wg.Wait()
	first := signingKID(t, a)
	if got := signingKID(t, b); got != first {
		t.Fatalf("replicas sign with %s and %s", first, got)
	}

	// Both replicas maintain at publish time: one next key.
	clk.Set(t0.Add(719 * time.Hour))
	for _, m := range []*Manager{a, b} {
		wg.Go(func() {
			if err := m.Maintain(t.Context()); err != nil {
				t.Errorf("Maintain: %v", err)
			}
		})
	}
	wg.Wait()
	set, err := store.GetKeySet(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 {
		t.Fatalf("%d stored keys, want 2", len(set.Keys))
	}
	next := set.Keys[1].ID
	if set.Keys[0].ID != first {
		next = set.Keys[0].ID
	}
	clk.Set(t0.Add(720 * time.Hour))
	for name, m := range map[string]*Manager{"a": a, "b": b} {
		if got := signingKID(t, m); got != next {
			t.Errorf("replica %s signs with %s, want the next key %s", name, got, next)
		}
		if got := publishedKIDs(t, m); !slices.Equal(got, []string{next, first}) {
			t.Errorf("replica %s publishes %v", name, got)
		}
	}

	clk.Set(t0.Add(720*time.Hour + 30*time.Minute))
	added, err := a.Rotate(t.Context(), true)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	events, err := store.ListAudit(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Action != "keys.rotate" || events[0].Target != added.ID {
		t.Errorf("audit log %+v", events)
	}

	// A restarted replica decodes what was stored; the new key signs once
	// every replica has it.
	if !added.ActiveFrom.Equal(clk.Now().Add(immediateDelay)) {
		t.Errorf("ActiveFrom %v, want CacheTTL + the write margin after %v", added.ActiveFrom, clk.Now())
	}
	clk.Set(added.ActiveFrom)
	restarted := newTestManager(t, store, clk, Options{})
	if err := restarted.Ensure(t.Context()); err != nil {
		t.Fatalf("Ensure after restart: %v", err)
	}
	if got := signingKID(t, restarted); got != added.ID {
		t.Errorf("restarted replica signs with %s, want %s", got, added.ID)
	}
	list, err := restarted.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var states []string
	for _, k := range list {
		states = append(states, string(k.State))
		if k.ID == added.ID && !k.ActiveFrom.Equal(added.ActiveFrom) {
			t.Errorf("ActiveFrom read back as %v, want %v", k.ActiveFrom, clk.Now())
		}
	}
	if got := strings.Join(states, " "); got != "retired retired signing" {
		t.Errorf("states %q", got)
	}

	wrong := NewManager(store, newSealer(t, otherMaster), Options{Now: clk.Now, Logger: slog.New(slog.DiscardHandler)})
	if err := wrong.Ensure(t.Context()); err == nil || !strings.Contains(err.Error(), "wrong master key?") {
		t.Errorf("Ensure with another master key: %v", err)
	}
}
