package idp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/dingoidc/dingoidc/idp/clientip"
	"github.com/dingoidc/dingoidc/storage"
)

// The sign-in log (storage.SignInEvent) records every completed or refused
// login, SSO reuse, refresh refused by policy and logout, with the
// person's address (clientip, through trusted_proxies) and user agent.
//
// Events do not cost the login a statement: they wait in a bounded queue
// in memory and a flush writes them in one statement per batch
// (storage.AppendSignIns) every SignInLogConfig.FlushEvery, or at once
// when BatchSize are waiting. Folding the record into a login's existing
// statements was the other way; it would tie the log's schema to the
// session and grant statements of both backends, and refusals, logouts and
// refreshes have no statement to fold into. The price: events still
// queued when the process dies without Close are lost (Close flushes; serve
// calls it on shutdown), and a full queue (the database down for long)
// drops new events, counted and logged.

// Sign-in log results (storage.SignInEvent.Result).
const (
	SignInSuccess        = "success"         // a login with a scan (or in-app code)
	SignInSSO            = "sso"             // a login through the SSO session, no scan
	SignInRefused        = "refused"         // a login refused (Reason says why)
	SignInRefreshRefused = "refresh_refused" // a refresh refused by policy; the grant is revoked
	SignInLogout         = "logout"          // the SSO session ended at end_session
)

// Sign-in log reasons (storage.SignInEvent.Reason) for refusals.
const (
	ReasonPolicyGroups       = "policy_groups"        // none of the person's groups is in the client's allowed_groups
	ReasonPolicyTenants      = "policy_tenants"       // the person's tenant is not in the client's allowed_tenants
	ReasonDisabled           = "disabled"             // disabled by an admin
	ReasonUpstreamNotAllowed = "upstream_not_allowed" // the upstream refused the person (organisation, tenant)
	ReasonUpstreamDenied     = "upstream_denied"      // the person cancelled at the upstream
	ReasonHintMismatch       = "hint_mismatch"        // someone else than the id_token_hint's person scanned
	ReasonUpstreamLeaver     = "upstream_leaver"      // gone or disabled upstream (re-check at refresh)
)

// SignInLogConfig configures the sign-in log; zero fields take the
// defaults below.
type SignInLogConfig struct {
	// Retention: Run's garbage collection deletes older events
	// (signin_log_retention; at least a day).
	Retention time.Duration
	// FlushEvery is the longest an event waits in memory (1ms–1m).
	FlushEvery time.Duration
	// QueueSize bounds the events waiting; when it is full new events are
	// dropped, counted and logged.
	QueueSize int
	// BatchSize: a flush starts as soon as this many events wait, and one
	// statement writes at most this many (at most QueueSize).
	BatchSize int
}

// Defaults of SignInLogConfig.
const (
	DefaultSignInRetention  = 180 * 24 * time.Hour
	DefaultSignInFlushEvery = time.Second
	DefaultSignInQueueSize  = 10000
	DefaultSignInBatchSize  = 500
)

// MaxUserAgent bounds the user agent kept in the sign-in log and logs
// (bytes, cut at a character boundary).
const MaxUserAgent = 512

func (c *SignInLogConfig) setDefaults() {
	if c.Retention == 0 {
		c.Retention = DefaultSignInRetention
	}
	if c.FlushEvery == 0 {
		c.FlushEvery = DefaultSignInFlushEvery
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultSignInQueueSize
	}
	if c.BatchSize == 0 {
		c.BatchSize = min(DefaultSignInBatchSize, c.QueueSize)
	}
}

// Problems checks a SignInLogConfig (zero fields are defaults) and returns
// every problem. name maps a field name to the operator's key (nil: the
// field names).
func (c SignInLogConfig) Problems(name func(field string) string) []error {
	if name == nil {
		name = func(f string) string { return f }
	}
	var errs []error
	if c.Retention != 0 && c.Retention < 24*time.Hour {
		errs = append(errs, fmt.Errorf("%s: must be at least 24h (got %s)", name("Retention"), shortDuration(c.Retention)))
	}
	if c.FlushEvery < 0 || c.FlushEvery > time.Minute || (c.FlushEvery > 0 && c.FlushEvery < time.Millisecond) {
		errs = append(errs, fmt.Errorf("%s: must be between 1ms and 1m (got %s)", name("FlushEvery"), c.FlushEvery))
	}
	if c.QueueSize < 0 {
		errs = append(errs, fmt.Errorf("%s: must not be negative", name("QueueSize")))
	}
	if c.BatchSize < 0 || (c.QueueSize > 0 && c.BatchSize > c.QueueSize) {
		errs = append(errs, fmt.Errorf("%s: must be between 1 and the queue size", name("BatchSize")))
	}
	return errs
}

// signInStore is what the sign-in log writes with.
type signInStore interface {
	AppendSignIns(ctx context.Context, events []storage.SignInEvent) error
}

// signInQueue holds events until a flush writes them.
type signInQueue struct {
	store signInStore
	log   *slog.Logger
	cfg   SignInLogConfig

	mu       sync.Mutex
	pending  []storage.SignInEvent
	timer    *time.Timer // the next flush, when events wait
	kicked   bool        // a flush for a full batch is on its way
	closed   bool        // Close ran: events are written at once
	lastWarn time.Time   // of the last "dropped" line

	write   sync.Mutex // one flush at a time, so batches keep their order
	dropped atomic.Int64
}

func newSignInQueue(st signInStore, log *slog.Logger, cfg SignInLogConfig) *signInQueue {
	return &signInQueue{store: st, log: log, cfg: cfg}
}

// add queues e; it never blocks on the database.
func (q *signInQueue) add(e storage.SignInEvent) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := q.store.AppendSignIns(ctx, []storage.SignInEvent{e}); err != nil {
			q.drop(1, err)
		}
		return
	}
	if len(q.pending) >= q.cfg.QueueSize {
		q.mu.Unlock()
		q.drop(1, errors.New("queue full"))
		return
	}
	q.pending = append(q.pending, e)
	switch {
	case len(q.pending) >= q.cfg.BatchSize && !q.kicked:
		q.kicked = true
		go q.flushBackground()
	case q.timer == nil:
		q.timer = time.AfterFunc(q.cfg.FlushEvery, q.flushBackground)
	}
	q.mu.Unlock()
}

// drop counts n lost events and says so, at most every 10 seconds.
func (q *signInQueue) drop(n int, why error) {
	total := q.dropped.Add(int64(n))
	q.mu.Lock()
	now := time.Now()
	warn := now.Sub(q.lastWarn) >= 10*time.Second
	if warn {
		q.lastWarn = now
	}
	q.mu.Unlock()
	if warn {
		q.log.Warn("sign-in log events dropped", "dropped_total", total, "queue_size", q.cfg.QueueSize, "err", why)
	}
}

func (q *signInQueue) flushBackground() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = q.flush(ctx)
}

// flush writes every waiting event, BatchSize a statement. Events a
// failed write could not store go back to the head of the queue (as many
// as fit) for the next try.
func (q *signInQueue) flush(ctx context.Context) error {
	q.write.Lock()
	defer q.write.Unlock()
	q.mu.Lock()
	batch := q.pending
	q.pending = nil
	if q.timer != nil {
		q.timer.Stop()
		q.timer = nil
	}
	q.kicked = false
	q.mu.Unlock()
	for len(batch) > 0 {
		n := min(len(batch), q.cfg.BatchSize)
		if err := q.store.AppendSignIns(ctx, batch[:n]); err != nil {
			q.requeue(batch, err)
			return fmt.Errorf("write sign-in log: %w", err)
		}
		batch = batch[n:]
	}
	return nil
}

func (q *signInQueue) requeue(batch []storage.SignInEvent, err error) {
	q.mu.Lock()
	all := slices.Concat(batch, q.pending)
	lost := 0
	if len(all) > q.cfg.QueueSize {
		lost = len(all) - q.cfg.QueueSize
		all = all[:q.cfg.QueueSize] // the oldest stay: a full queue drops new events
	}
	q.pending = all
	if !q.closed && q.timer == nil {
		q.timer = time.AfterFunc(max(q.cfg.FlushEvery, 5*time.Second), q.flushBackground)
	}
	q.mu.Unlock()
	q.log.Warn("write sign-in log; will retry", "waiting", len(all), "err", err)
	if lost > 0 {
		q.drop(lost, err)
	}
}

// close flushes what waits; later events are written one by one.
func (q *signInQueue) close(ctx context.Context) error {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	err := q.flush(ctx)
	q.mu.Lock()
	lost := len(q.pending)
	q.pending = nil
	if q.timer != nil {
		q.timer.Stop()
		q.timer = nil
	}
	q.mu.Unlock()
	if lost > 0 {
		q.drop(lost, err)
	}
	return err
}

// FlushSignIns writes the sign-in events waiting in memory now.
func (s *Server) FlushSignIns(ctx context.Context) error { return s.signIns.flush(ctx) }

// SignInsDropped is how many sign-in events were lost since start (queue
// full, or still unwritten at Close).
func (s *Server) SignInsDropped() int64 { return s.signIns.dropped.Load() }

// Close flushes the sign-in log. Call it once requests have stopped
// (after http.Server.Shutdown) and before the store closes; events that
// arrive later are written one statement each.
func (s *Server) Close(ctx context.Context) error { return s.signIns.close(ctx) }

// recordSignIn queues a sign-in event with the person's address and user
// agent from ctx (the request's).
func (s *Server) recordSignIn(ctx context.Context, e storage.SignInEvent) {
	if e.Time.IsZero() {
		e.Time = s.now().UTC()
	}
	e.ClientIP = clientip.FromContext(ctx)
	e.UserAgent = userAgent(ctx)
	s.signIns.add(e)
}

// pruneSignIns applies the retention (from Run's garbage collection).
func (s *Server) pruneSignIns(ctx context.Context) {
	n, err := s.store.DeleteSignInsBefore(ctx, s.now().Add(-s.cfg.SignInLog.Retention))
	if err != nil {
		s.log.WarnContext(ctx, "delete old sign-in log events", "err", err)
		return
	}
	if n > 0 {
		s.log.InfoContext(ctx, "deleted old sign-in log events", "rows", n, "retention", shortDuration(s.cfg.SignInLog.Retention))
	}
}

// ctxUserAgent holds the request's User-Agent, cut to MaxUserAgent.
type ctxUserAgentKey struct{}

// withUserAgent keeps the request's user agent in its context, for the
// sign-in log and log lines made where only the context is at hand (op's
// token endpoint).
func withUserAgent(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ua := r.UserAgent(); ua != "" {
			r = r.WithContext(context.WithValue(r.Context(), ctxUserAgentKey{}, truncateBytes(ua, MaxUserAgent)))
		}
		h.ServeHTTP(w, r)
	})
}

func userAgent(ctx context.Context) string {
	s, _ := ctx.Value(ctxUserAgentKey{}).(string)
	return s
}

// addPersonAttrs gives a log record made with a request's context the
// person's client_ip and user_agent, so every line about a login, SSO
// reuse, logout, refresh or refusal says who was behind it.
func addPersonAttrs(ctx context.Context, r *slog.Record) {
	if ip := clientip.FromContext(ctx); ip != "" {
		r.AddAttrs(slog.String("client_ip", ip))
	}
	if ua := userAgent(ctx); ua != "" {
		r.AddAttrs(slog.String("user_agent", ua))
	}
}

// truncateBytes cuts s to at most n bytes at a character boundary.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
