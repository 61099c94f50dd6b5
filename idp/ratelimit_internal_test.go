package idp

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestLimiterBucket(t *testing.T) {
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := newLimiter(RateLimit{Rate: 2, Burst: 3}, c.now)
	for i := range 3 {
		if ok, _ := l.take("a"); !ok {
			t.Fatalf("take %d of the burst refused", i+1)
		}
	}
	ok, wait := l.take("a")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("beyond the burst: ok=%v wait=%v, want refused for 500ms", ok, wait)
	}
	if ok, _ := l.take("b"); !ok {
		t.Fatal("another key shares a's bucket")
	}
	c.add(499 * time.Millisecond)
	if ok, _ := l.take("a"); ok {
		t.Fatal("a token before the refill")
	}
	c.add(time.Millisecond)
	if ok, _ := l.take("a"); !ok {
		t.Fatal("no token after the refill")
	}
	if ok, _ := l.take("a"); ok {
		t.Fatal("refused takes must not have spent tokens: only one is due")
	}
}

// TestLimiterMemory: idle buckets are dropped once refilled, and the
// number of buckets never exceeds the cap however many keys come.
func TestLimiterMemory(t *testing.T) {
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := newLimiter(RateLimit{Rate: 10, Burst: 20}, c.now) // refill: 2s
	l.max = 100
	for i := range 1000 {
		l.take(fmt.Sprint("10.0.", i/256, ".", i%256))
		if n := l.size(); n > l.max {
			t.Fatalf("%d buckets after %d keys, cap %d", n, i+1, l.max)
		}
	}
	c.add(2 * time.Minute)
	l.take("fresh")
	if n := l.size(); n != 1 {
		t.Fatalf("%d buckets after every other was idle for 2 minutes, want 1", n)
	}
	// An evicted bucket was full: forgetting it changes nothing.
	for i := range 20 {
		if ok, _ := l.take("10.0.0.0"); !ok {
			t.Fatalf("take %d refused after eviction", i+1)
		}
	}
}

func TestRateLimitsProblems(t *testing.T) {
	bad := RateLimits{Login: RateLimit{Rate: -1}, Token: RateLimit{Rate: 5, Burst: 0}}
	if p := bad.Problems(); len(p) != 2 {
		t.Fatalf("problems %q, want 2", p)
	}
	var good RateLimits
	good.SetDefaults()
	if p := good.Problems(); len(p) != 0 || good.Login != DefaultLoginRateLimit {
		t.Fatalf("defaults: %+v %q", good, p)
	}
}

// TestLimiterConcurrent: parallel takes on one bucket never spend more
// tokens than it has.
func TestLimiterConcurrent(t *testing.T) {
	c := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	l := newLimiter(RateLimit{Rate: 0.001, Burst: 50}, c.now)
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 40 {
				key := "shared"
				if i%4 == 0 {
					key = fmt.Sprint("own-", g, "-", i)
				}
				if ok, _ := l.take(key); ok && key == "shared" {
					mu.Lock()
					granted++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if granted != 50 {
		t.Fatalf("%d takes granted on a bucket of 50", granted)
	}
}
