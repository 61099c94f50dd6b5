package idp

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

// blockingClients counts ListClients calls and holds each until release
// is closed.
type blockingClients struct {
	fail    atomic.Bool // ListClients fails (without blocking)
	lists   atomic.Int32
	started chan struct{}
	release chan struct{}
}

func (b *blockingClients) ListClients(context.Context) ([]storage.Client, error) {
	if b.fail.Load() {
		b.lists.Add(1)
		return nil, errors.New("database unreachable")
	}
	if b.lists.Add(1) == 1 {
		close(b.started)
	}
	<-b.release
	return []storage.Client{{ID: "app", RedirectURIs: []string{"https://app.example/cb"}}}, nil
}

func (b *blockingClients) GetClient(context.Context, string) (*storage.Client, error) {
	return nil, storage.ErrNotFound
}

// Concurrent callers with nothing cached wait for the load and all get the
// set; once it is stale, one caller reloads while the others get the old set
// at once, without a second load; a failed reload serves the old set.
func TestClientCacheLoadsOnce(t *testing.T) {
	var now atomic.Int64
	st := &blockingClients{started: make(chan struct{}), release: make(chan struct{})}
	cc := &clientCache{
		store: st, ttl: time.Minute,
		now:  func() time.Time { return time.Unix(now.Load(), 0) },
		wrap: func(c storage.Client) *client { return &client{c: c} },
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			byID, _, err := cc.snapshot(t.Context())
			if err == nil && byID["app"] == nil {
				t.Error("app missing from the loaded set")
			}
			errs <- err
		})
	}
	<-st.started
	close(st.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	// Expire the set; one caller reloads (held), the others get the old set.
	now.Add(120)
	st.started, st.release = make(chan struct{}), make(chan struct{})
	st.lists.Store(0)
	loaded := make(chan error, 1)
	go func() { _, _, err := cc.snapshot(t.Context()); loaded <- err }()
	<-st.started
	for range n {
		byID, _, err := cc.snapshot(t.Context())
		if err != nil || byID["app"] == nil {
			t.Fatalf("stale set while reloading: %v %v", byID, err)
		}
	}
	close(st.release)
	if err := <-loaded; err != nil {
		t.Fatal(err)
	}
	if got := st.lists.Load(); got != 1 {
		t.Fatalf("%d loads after expiry, want 1", got)
	}

	// A failed reload serves the old set, and the next call tries again.
	now.Add(120)
	st.fail.Store(true)
	st.lists.Store(0)
	for i := range 2 {
		byID, _, err := cc.snapshot(t.Context())
		if err != nil || byID["app"] == nil {
			t.Fatalf("old set after a failed reload: %v %v", byID, err)
		}
		if got := st.lists.Load(); got != int32(i+1) {
			t.Fatalf("%d loads after %d calls, want one each", got, i+1)
		}
	}
}
