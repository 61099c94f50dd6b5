package idp

import (
	"errors"
	"sync"
	"time"

	"github.com/dingoidc/dingoidc/upstream"
)

// upstreamHealth remembers, per upstream, the last successful and the last
// failed identity exchange (callback.go reports each), for the admin API's
// GET /upstreams. It is per process: each replica knows its own calls.
type upstreamHealth struct {
	mu sync.Mutex
	m  map[string]*upstreamStatus
}

type upstreamStatus struct {
	LastSuccess     time.Time
	LastFailure     time.Time
	LastFailureKind string
}

// record notes the outcome of one exchange with upstream id at now.
func (h *upstreamHealth) record(id string, now time.Time, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.m == nil {
		h.m = map[string]*upstreamStatus{}
	}
	st := h.m[id]
	if st == nil {
		st = &upstreamStatus{}
		h.m[id] = st
	}
	if err == nil {
		st.LastSuccess = now
		return
	}
	st.LastFailure, st.LastFailureKind = now, failureKind(err)
}

func (h *upstreamHealth) get(id string) upstreamStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	if st := h.m[id]; st != nil {
		return *st
	}
	return upstreamStatus{}
}

// failureKind names an upstream error by its kind (upstream's sentinels).
func failureKind(err error) string {
	switch {
	case errors.Is(err, upstream.ErrCodeInvalid):
		return "code_invalid"
	case errors.Is(err, upstream.ErrNotAllowed):
		return "not_allowed"
	case errors.Is(err, upstream.ErrDenied):
		return "denied"
	case errors.Is(err, upstream.ErrMisconfigured):
		return "misconfigured"
	case errors.Is(err, upstream.ErrUnavailable):
		return "unavailable"
	}
	return "other"
}

// appTokenAger is implemented by upstreams that cache an application
// access token (DingTalk's and 浙政钉's app tokens): its age, false when
// none is held.
type appTokenAger interface {
	AppTokenAge() (time.Duration, bool)
}
