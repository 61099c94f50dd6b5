package keys

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

// fakeStore is an in-memory storage.Store with just the key-set and audit
// methods; any other method panics (nil embedded interface).
type fakeStore struct {
	storage.Store

	mu    sync.Mutex
	set   storage.KeySet
	audit []storage.AuditEvent

	gets, swaps atomic.Int64

	// notFoundWhenEmpty makes GetKeySet answer ErrNotFound before the first
	// swap, as a backend without a key-set row might.
	notFoundWhenEmpty bool
	// getErr, when set, fails GetKeySet.
	getErr error
	// getGate, when set, makes GetKeySet signal getEntered and wait.
	getGate    chan struct{}
	getEntered chan struct{}
	// beforeSwap runs once, outside the lock, before the next swap.
	beforeSwap func()
	// swapped is signalled (without blocking) after each successful swap.
	swapped chan struct{}
}

func (s *fakeStore) GetKeySet(ctx context.Context) (*storage.KeySet, error) {
	s.gets.Add(1)
	s.mu.Lock()
	gate, entered, err := s.getGate, s.getEntered, s.getErr
	s.mu.Unlock()
	if gate != nil {
		select {
		case entered <- struct{}{}:
		default:
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.notFoundWhenEmpty && s.set.Version == 0 {
		return nil, fmt.Errorf("get key set: %w", storage.ErrNotFound)
	}
	return s.copySet(), nil
}

func (s *fakeStore) SwapKeySet(_ context.Context, expectedVersion int64, keys []storage.SigningKey) (*storage.KeySet, error) {
	s.mu.Lock()
	hook := s.beforeSwap
	s.beforeSwap = nil
	s.mu.Unlock()
	if hook != nil {
		hook()
	}
	s.swaps.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if expectedVersion != s.set.Version {
		return nil, fmt.Errorf("swap key set: version %d, want %d: %w", s.set.Version, expectedVersion, storage.ErrConflict)
	}
	s.set.Version++
	s.set.Keys = cloneKeys(keys)
	if s.swapped != nil {
		select {
		case s.swapped <- struct{}{}:
		default:
		}
	}
	return s.copySet(), nil
}

func (s *fakeStore) AppendAudit(_ context.Context, e *storage.AuditEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := *e
	ev.ID = int64(len(s.audit) + 1)
	s.audit = append(s.audit, ev)
	return nil
}

func (s *fakeStore) copySet() *storage.KeySet {
	return &storage.KeySet{Version: s.set.Version, Keys: cloneKeys(s.set.Keys)}
}

func (s *fakeStore) keys() []storage.SigningKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	ks := cloneKeys(s.set.Keys)
	sortKeys(ks)
	return ks
}

func (s *fakeStore) auditLog() []storage.AuditEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.audit)
}

func (s *fakeStore) setGetErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.getErr = err
}

func cloneKeys(ks []storage.SigningKey) []storage.SigningKey {
	out := make([]storage.SigningKey, len(ks))
	for i, k := range ks {
		k.PrivateEnc = bytes.Clone(k.PrivateEnc)
		k.PublicJWK = bytes.Clone(k.PublicJWK)
		out[i] = k
	}
	return out
}

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// testMaster is a fixed master key; otherMaster a different one.
var (
	testMaster  = bytes.Repeat([]byte{0x42}, MasterKeySize)
	otherMaster = bytes.Repeat([]byte{0x17}, MasterKeySize)
)

// Generating RSA-2048 keys is slow (more so under -race), so tests draw
// from a small pool; any six consecutive keys are distinct.
var (
	testKeyPool = sync.OnceValue(func() []*rsa.PrivateKey {
		ks := make([]*rsa.PrivateKey, 6)
		var wg sync.WaitGroup
		for i := range ks {
			wg.Go(func() {
				k, err := rsa.GenerateKey(rand.Reader, rsaBits)
				if err != nil {
					panic(err)
				}
				ks[i] = k
			})
		}
		wg.Wait()
		return ks
	})
	testKeyNext atomic.Int64
)

func poolKey() (*rsa.PrivateKey, error) {
	ks := testKeyPool()
	return ks[int(testKeyNext.Add(1))%len(ks)], nil
}

func newSealer(t testing.TB, master []byte) *Sealer {
	t.Helper()
	s, err := NewSealer(master)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newTestManager returns a Manager over store with the test clock, the
// key pool and a discarding logger, unless opts say otherwise.
func newTestManager(t testing.TB, store storage.Store, clk *fakeClock, opts Options) *Manager {
	t.Helper()
	if opts.Now == nil {
		opts.Now = clk.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := NewManager(store, newSealer(t, testMaster), opts)
	m.genKey = poolKey
	return m
}

func signingKID(t *testing.T, m *Manager) string {
	t.Helper()
	k, err := m.SigningKey(t.Context())
	if err != nil {
		t.Fatalf("SigningKey: %v", err)
	}
	return k.ID()
}

func publishedKIDs(t *testing.T, m *Manager) []string {
	t.Helper()
	ks, err := m.KeySet(t.Context())
	if err != nil {
		t.Fatalf("KeySet: %v", err)
	}
	var ids []string
	for _, k := range ks {
		ids = append(ids, k.ID())
	}
	return ids
}

func storedKIDs(s *fakeStore) []string {
	var ids []string
	for _, k := range s.keys() {
		ids = append(ids, k.ID)
	}
	return ids
}

// immediateDelay is how long after `keys rotate --now` (with the fake
// clock standing still) the new key signs.
const immediateDelay = DefaultCacheTTL + rotateWriteMargin
