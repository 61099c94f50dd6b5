package idp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

// fakeSignIns is a sign-in store that records batches and can fail.
type fakeSignIns struct {
	mu      sync.Mutex
	batches [][]storage.SignInEvent
	fail    error
	calls   chan struct{} // one send (non-blocking) per call
}

func newFakeSignIns() *fakeSignIns { return &fakeSignIns{calls: make(chan struct{}, 1000)} }

func (f *fakeSignIns) AppendSignIns(_ context.Context, events []storage.SignInEvent) error {
	f.mu.Lock()
	defer func() {
		f.mu.Unlock()
		select {
		case f.calls <- struct{}{}:
		default:
		}
	}()
	if f.fail != nil {
		return f.fail
	}
	f.batches = append(f.batches, append([]storage.SignInEvent(nil), events...))
	return nil
}

func (f *fakeSignIns) setFail(err error) {
	f.mu.Lock()
	f.fail = err
	f.mu.Unlock()
}

// written is every stored event's Reason, in write order, and the batch sizes.
func (f *fakeSignIns) written() (reasons []string, sizes []int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range f.batches {
		sizes = append(sizes, len(b))
		for _, e := range b {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons, sizes
}

// waitCall waits for the next AppendSignIns call (the bound only stops a
// broken test from hanging).
func (f *fakeSignIns) waitCall(t *testing.T) {
	t.Helper()
	select {
	case <-f.calls:
	case <-time.After(time.Minute):
		t.Fatal("no write")
	}
}

func ev(i int) storage.SignInEvent {
	return storage.SignInEvent{Time: time.Unix(1700000000, 0), Result: SignInSuccess, Reason: fmt.Sprint(i)}
}

func seq(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprint(i))
	}
	return out
}

// TestSignInQueueBatch: a full batch is written at once, without waiting
// for the interval, and a flush writes the rest in order.
func TestSignInQueueBatch(t *testing.T) {
	st := newFakeSignIns()
	q := newSignInQueue(st, slog.New(slog.DiscardHandler), SignInLogConfig{FlushEvery: time.Hour, QueueSize: 100, BatchSize: 3})
	for i := range 3 {
		q.add(ev(i))
	}
	st.waitCall(t)
	if got, _ := st.written(); strings.Join(got, ",") != "0,1,2" {
		t.Fatalf("after a full batch: %v", got)
	}
	for i := 3; i < 5; i++ {
		q.add(ev(i))
	}
	if err := q.flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, sizes := st.written(); strings.Join(got, ",") != strings.Join(seq(0, 5), ",") || len(sizes) != 2 {
		t.Fatalf("written %v in batches %v", got, sizes)
	}
}

// TestSignInQueueInterval: a lone event is written after FlushEvery.
func TestSignInQueueInterval(t *testing.T) {
	st := newFakeSignIns()
	q := newSignInQueue(st, slog.New(slog.DiscardHandler), SignInLogConfig{FlushEvery: 5 * time.Millisecond, QueueSize: 100, BatchSize: 50})
	q.add(ev(0))
	st.waitCall(t)
	if got, _ := st.written(); len(got) != 1 {
		t.Fatalf("written %v", got)
	}
}

// TestSignInQueueFullAndFailing: with the database failing, events wait
// (up to QueueSize; more are dropped, counted and logged once) and are
// written in order once it is back.
func TestSignInQueueFullAndFailing(t *testing.T) {
	st := newFakeSignIns()
	st.setFail(storage.ErrUnavailable)
	var logs syncBuf
	q := newSignInQueue(st, slog.New(slog.NewTextHandler(&logs, nil)), SignInLogConfig{FlushEvery: time.Hour, QueueSize: 3, BatchSize: 100})
	for i := range 4 {
		q.add(ev(i))
	}
	if err := q.flush(t.Context()); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("flush with the database down: %v", err)
	}
	q.add(ev(4))
	if n := q.dropped.Load(); n != 2 {
		t.Errorf("dropped %d, want 2 (the 4th and 5th)", n)
	}
	if c := strings.Count(logs.String(), "sign-in log events dropped"); c != 1 {
		t.Errorf("%d dropped lines, want 1 (at most one per 10s):\n%s", c, logs.String())
	}
	st.setFail(nil)
	if err := q.flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.written(); strings.Join(got, ",") != "0,1,2" {
		t.Fatalf("written %v", got)
	}
}

// TestSignInQueueClose: Close writes what waits; later events are written
// at once.
func TestSignInQueueClose(t *testing.T) {
	st := newFakeSignIns()
	q := newSignInQueue(st, slog.New(slog.DiscardHandler), SignInLogConfig{FlushEvery: time.Hour, QueueSize: 100, BatchSize: 50})
	q.add(ev(0))
	q.add(ev(1))
	if err := q.close(t.Context()); err != nil {
		t.Fatal(err)
	}
	q.add(ev(2))
	if got, sizes := st.written(); strings.Join(got, ",") != "0,1,2" || len(sizes) != 2 {
		t.Fatalf("written %v in %v", got, sizes)
	}
}

// TestSignInQueueConcurrent: events added from many goroutines while
// flushes run are all written exactly once, each goroutine's in order
// (run with -race -count=20).
func TestSignInQueueConcurrent(t *testing.T) {
	st := newFakeSignIns()
	q := newSignInQueue(st, slog.New(slog.DiscardHandler), SignInLogConfig{FlushEvery: time.Millisecond, QueueSize: 100000, BatchSize: 7})
	const workers, each = 8, 200
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				e := ev(i)
				e.UserID = fmt.Sprint(w)
				q.add(e)
				if i%50 == 0 {
					_ = q.flush(context.Background())
				}
			}
		})
	}
	wg.Wait()
	if err := q.close(t.Context()); err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	next := map[string]int{}
	n := 0
	for _, b := range st.batches {
		if len(b) > 7 {
			t.Errorf("batch of %d > BatchSize", len(b))
		}
		for _, e := range b {
			if e.Reason != fmt.Sprint(next[e.UserID]) {
				t.Fatalf("worker %s: event %s after %d", e.UserID, e.Reason, next[e.UserID])
			}
			next[e.UserID]++
			n++
		}
	}
	if n != workers*each || q.dropped.Load() != 0 {
		t.Fatalf("written %d of %d, dropped %d", n, workers*each, q.dropped.Load())
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestPolicyRefusal(t *testing.T) {
	groups := storage.Client{AllowedGroups: []string{"运维组", "SRE"}}
	tenants := storage.Client{AllowedTenants: []string{"196729"}}
	both := storage.Client{AllowedGroups: []string{"运维组"}, AllowedTenants: []string{"196729"}}
	cases := []struct {
		name   string
		c      storage.Client
		claims map[string]any
		want   string
	}{
		{"no policy", storage.Client{}, map[string]any{}, ""},
		{"in a group", groups, map[string]any{"groups": []any{"开发组", "SRE"}}, ""},
		{"groups from the mapper", groups, map[string]any{"groups": []string{"运维组"}}, ""},
		{"in no group", groups, map[string]any{"groups": []any{"开发组"}}, ReasonPolicyGroups},
		{"case matters", groups, map[string]any{"groups": []any{"sre"}}, ReasonPolicyGroups},
		{"no groups claim", groups, map[string]any{"name": "x"}, ReasonPolicyGroups},
		{"a group as a string", groups, map[string]any{"groups": "SRE"}, ""},
		{"tenant", tenants, map[string]any{"tenant_id": "196729"}, ""},
		{"tenant as a number", tenants, map[string]any{"tenant_id": float64(196729)}, ""},
		{"other tenant", tenants, map[string]any{"tenant_id": "12371"}, ReasonPolicyTenants},
		{"no tenant (DingTalk)", tenants, map[string]any{"groups": []any{"运维组"}}, ReasonPolicyTenants},
		{"two tenants", tenants, map[string]any{"tenant_id": []any{"196729", "12371"}}, ReasonPolicyTenants},
		{"both pass", both, map[string]any{"groups": []any{"运维组"}, "tenant_id": "196729"}, ""},
		{"both, wrong tenant", both, map[string]any{"groups": []any{"运维组"}, "tenant_id": "1"}, ReasonPolicyTenants},
		{"both, wrong group", both, map[string]any{"groups": []any{"x"}, "tenant_id": "196729"}, ReasonPolicyGroups},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := policyRefusal(&c.c, c.claims); got != c.want {
				t.Errorf("policyRefusal = %q, want %q", got, c.want)
			}
		})
	}
}

func TestTruncateBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{{"abc", 5, "abc"}, {"abcdef", 3, "abc"}, {"张三李四", 7, "张三"}, {"张三", 2, ""}} {
		if got := truncateBytes(c.in, c.n); got != c.want {
			t.Errorf("truncateBytes(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestSignInLogConfigProblems(t *testing.T) {
	if p := (SignInLogConfig{}).Problems(nil); len(p) != 0 {
		t.Errorf("zero config: %v", p)
	}
	p := SignInLogConfig{Retention: time.Hour, FlushEvery: time.Hour, QueueSize: -1, BatchSize: -1}.Problems(func(f string) string { return "x." + f })
	if len(p) != 4 || !strings.HasPrefix(p[0].Error(), "x.Retention: must be at least 24h") {
		t.Errorf("problems %v", p)
	}
}
