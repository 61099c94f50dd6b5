package keys

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dingoidc/dingoidc/storage"
)

// Defaults for the zero values of Options.
const (
	DefaultRotationPeriod   = 720 * time.Hour
	DefaultPublishAhead     = time.Hour
	DefaultMaxTokenLifetime = time.Hour
	DefaultCacheTTL         = 30 * time.Second
	DefaultMaintainEvery    = time.Minute
)

const (
	algorithm = string(jose.RS256)
	rsaBits   = 2048
	kidBytes  = 16 // 22 base64url characters

	// reloadTimeout bounds a cache reload, which runs detached from the
	// request that triggered it because other requests wait for it too.
	reloadTimeout = 10 * time.Second

	// auditActor is who Rotate records in the audit log: forced rotation
	// is a command of the CLI (`dingoidc keys rotate`).
	auditActor = "cli"
)

// ErrNoSigningKey means the key set is empty: Ensure has not run against
// this database.
var ErrNoSigningKey = errors.New("no signing key (key set is empty; run Ensure first)")

// ErrNoMasterKey is returned by a Manager made without a Sealer (one that
// only lists keys) when it would need to decrypt or create a key.
var ErrNoMasterKey = errors.New("no master key")

// Options tune a Manager. Zero values take the defaults.
type Options struct {
	// RotationPeriod is how long a key signs before the next one takes
	// over. Default 720h (30 days).
	RotationPeriod time.Duration
	// PublishAhead is how long a new key is in the JWKS before it signs,
	// so relying parties that cache the JWKS know it. Default 1h.
	PublishAhead time.Duration
	// MaxTokenLifetime is the longest lifetime of anything signed (ID and
	// access tokens); a key that stopped signing stays published this
	// long. Default 1h.
	MaxTokenLifetime time.Duration
	// CacheTTL is how long the in-memory key set is trusted before it is
	// read again from the database (replicas converge through the
	// database). Default 30s.
	CacheTTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives key events (kids only, never key material).
	// Default slog.Default().
	Logger *slog.Logger
	// Random is the source for key ids (and for RSA generation, which
	// since Go 1.26 ignores it unless GODEBUG=cryptocustomrand=1).
	// Default crypto/rand.Reader.
	Random io.Reader
}

// Problems checks the rotation schedule as it is (zero values count as
// unset, not as defaults) and returns every problem. name turns an Options
// field name into the name the operator knows ("RotationPeriod" →
// "keys.rotation_period"); nil keeps the field names.
func (o Options) Problems(name func(field string) string) []error {
	if name == nil {
		name = func(f string) string { return f }
	}
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name(field), fmt.Sprintf(format, args...)))
	}
	switch {
	case o.RotationPeriod <= 0:
		add("RotationPeriod", "must be positive (got %s)", shortDuration(o.RotationPeriod))
	case o.RotationPeriod < time.Hour:
		add("RotationPeriod", "must be at least 1h (got %s)", shortDuration(o.RotationPeriod))
	}
	if o.PublishAhead <= 0 {
		add("PublishAhead", "must be positive (got %s)", shortDuration(o.PublishAhead))
	} else if o.RotationPeriod > 0 && o.PublishAhead >= o.RotationPeriod {
		add("PublishAhead", "must be shorter than %s (%s >= %s)", name("RotationPeriod"), shortDuration(o.PublishAhead), shortDuration(o.RotationPeriod))
	}
	return errs
}

// shortDuration writes d without zero units ("1h", "1h30m", "10s").
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// State is where a key is in its life.
type State string

// Key states, in the order a key goes through them.
const (
	StateNext    State = "next"    // published, signs from ActiveFrom on
	StateSigning State = "signing" // signs new tokens
	StateRetired State = "retired" // no longer signs; published until RetireAt
)

// KeyInfo describes one key for the CLI. It holds no private material.
type KeyInfo struct {
	ID         string // kid
	Algorithm  string // RS256
	CreatedAt  time.Time
	ActiveFrom time.Time
	RetireAt   time.Time // zero until the key has stopped signing
	State      State
}

// Manager owns the signing keys: it creates, rotates and retires them in
// the database and serves the decoded set from memory.
//
// SigningKey and KeySet read an in-memory snapshot; they go to the
// database only when the snapshot is older than CacheTTL, and then only
// one reload runs for all concurrent callers. Private keys are decrypted
// once, when first loaded. Changes (Ensure, Maintain, Rotate) are
// compare-and-swap writes of the whole set, so replicas may run them
// concurrently.
type Manager struct {
	store  storage.Store
	sealer *Sealer
	opts   Options
	log    *slog.Logger
	genKey func() (*rsa.PrivateKey, error) // replaced in tests: RSA generation is slow

	snap atomic.Pointer[snapshot] // the cached set; nil until first loaded

	mu     sync.Mutex // guards flight
	flight *flight    // the reload in progress, if any

	decMu   sync.Mutex
	decoded map[string]decodedKey // kid → private key, decrypted once
}

// snapshot is one decoded version of the key set. It is never modified
// after it is published.
type snapshot struct {
	version  int64
	stored   []storage.SigningKey // sorted by activation (sortKeys)
	keys     []loadedKey          // parallel to stored
	loadedAt time.Time
}

type loadedKey struct {
	signer *signingKey
	public *publicKey
}

type decodedKey struct {
	sealed []byte
	priv   *rsa.PrivateKey
}

type flight struct {
	done chan struct{}
	snap *snapshot
	err  error
}

// NewManager returns a Manager over store. Call Ensure before serving.
// sealer may be nil for a Manager that only lists keys (List needs no
// master key); anything else then fails with ErrNoMasterKey.
func NewManager(store storage.Store, sealer *Sealer, opts Options) *Manager {
	if opts.RotationPeriod <= 0 {
		opts.RotationPeriod = DefaultRotationPeriod
	}
	if opts.PublishAhead <= 0 {
		opts.PublishAhead = DefaultPublishAhead
	}
	if opts.MaxTokenLifetime <= 0 {
		opts.MaxTokenLifetime = DefaultMaxTokenLifetime
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = DefaultCacheTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Random == nil {
		opts.Random = rand.Reader
	}
	m := &Manager{
		store:   store,
		sealer:  sealer,
		opts:    opts,
		log:     opts.Logger.With("component", "keys"),
		decoded: make(map[string]decodedKey),
	}
	m.genKey = func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(m.opts.Random, rsaBits) }
	return m
}

// Ensure loads the key set and, if it is empty, creates the first key,
// signing at once. When another replica creates it first, Ensure loads
// theirs. It fails if a stored key cannot be decrypted.
func (m *Manager) Ensure(ctx context.Context) error {
	_, err := m.update(ctx, "ensure signing key", func(ks []storage.SigningKey, now time.Time) ([]storage.SigningKey, error) {
		if len(ks) > 0 {
			return nil, nil
		}
		k, err := m.newKey(now, floorSecond(now))
		if err != nil {
			return nil, err
		}
		return []storage.SigningKey{k}, nil
	})
	return err
}

// Maintain runs one step of the schedule at the current time: it creates
// a key if there is none, publishes the next key PublishAhead before the
// current one has signed for RotationPeriod, sets RetireAt on keys that
// stopped signing (MaxTokenLifetime after their successor took over) and
// removes keys whose RetireAt has passed.
func (m *Manager) Maintain(ctx context.Context) error {
	_, err := m.update(ctx, "maintain signing keys", func(ks []storage.SigningKey, now time.Time) ([]storage.SigningKey, error) {
		changed := false
		if at, ok := nextActivation(ks, now, m.opts); ok {
			k, err := m.newKey(now, at)
			if err != nil {
				return nil, err
			}
			ks = append(ks, k)
			sortKeys(ks)
			changed = true
		}
		ks, retired := retire(ks, now, m.opts)
		if !changed && !retired {
			return nil, nil
		}
		return ks, nil
	})
	return err
}

// Rotate forces a rotation (`dingoidc keys rotate`): it adds a new key
// that signs PublishAhead from now, or at once if immediate (when the
// current key may be compromised; relying parties that cached the JWKS
// refetch on the unknown kid). A next key that has not signed yet is
// replaced. The rotation is recorded in the audit log as "keys.rotate".
// The returned key carries no private material; if only the audit write
// failed, it is returned together with the error.
func (m *Manager) Rotate(ctx context.Context, immediate bool) (storage.SigningKey, error) {
	var (
		added    storage.SigningKey
		replaced []string
	)
	_, err := m.update(ctx, "rotate signing key", func(ks []storage.SigningKey, now time.Time) ([]storage.SigningKey, error) {
		replaced = nil
		activeFrom := ceilSecond(now.Add(m.opts.PublishAhead))
		cur := signingIndex(ks, now)
		if immediate || cur < 0 {
			activeFrom = floorSecond(now)
		}
		if cur >= 0 {
			// Next keys never signed: drop them, or they would take over
			// from the new key at their own ActiveFrom.
			for _, k := range ks[cur+1:] {
				replaced = append(replaced, k.ID)
			}
			ks = ks[:cur+1]
			// Activation times are whole seconds and strictly increasing,
			// so the order of keys never depends on a tie (or on the time
			// precision of the database).
			if earliest := ks[cur].ActiveFrom.Add(time.Second); activeFrom.Before(earliest) {
				activeFrom = earliest
			}
		}
		k, err := m.newKey(now, activeFrom)
		if err != nil {
			return nil, err
		}
		ks = append(ks, k)
		sortKeys(ks)
		ks, _ = retire(ks, now, m.opts)
		added = k
		return ks, nil
	})
	if err != nil {
		return storage.SigningKey{}, err
	}
	added.PrivateEnc = nil
	details, err := json.Marshal(struct {
		Immediate  bool      `json:"immediate"`
		ActiveFrom time.Time `json:"active_from"`
		Replaced   []string  `json:"replaced,omitempty"`
	}{immediate, added.ActiveFrom, replaced})
	if err != nil {
		return added, fmt.Errorf("rotate signing key: audit: %w", err)
	}
	err = m.store.AppendAudit(ctx, &storage.AuditEvent{
		Time:    m.now().UTC(),
		Actor:   auditActor,
		Action:  "keys.rotate",
		Target:  added.ID,
		Details: details,
	})
	if err != nil {
		return added, fmt.Errorf("rotate signing key: audit: %w", err)
	}
	return added, nil
}

// Run calls Maintain now and then every interval (DefaultMaintainEvery if
// not positive) until ctx is done, logging failures.
func (m *Manager) Run(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = DefaultMaintainEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := m.Maintain(ctx); err != nil && ctx.Err() == nil {
			m.log.ErrorContext(ctx, "maintain signing keys", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// List reads the key set from the database (not the cache) and describes
// it, in activation order. It needs no master key.
func (m *Manager) List(ctx context.Context) ([]KeyInfo, error) {
	set, err := m.getKeySet(ctx)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	ks := slices.Clone(set.Keys)
	sortKeys(ks)
	now := m.now()
	cur := signingIndex(ks, now)
	out := make([]KeyInfo, len(ks))
	for i, k := range ks {
		st := StateSigning
		switch {
		case cur < 0 || i < cur:
			st = StateRetired
		case i > cur:
			st = StateNext
		}
		out[i] = KeyInfo{
			ID:         k.ID,
			Algorithm:  k.Algorithm,
			CreatedAt:  k.CreatedAt,
			ActiveFrom: k.ActiveFrom,
			RetireAt:   k.RetireAt,
			State:      st,
		}
	}
	return out, nil
}

// SigningKey returns the key that signs at the current time, from memory.
func (m *Manager) SigningKey(ctx context.Context) (op.SigningKey, error) {
	now := m.now()
	s, err := m.cached(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	i := signingIndex(s.stored, now)
	if i < 0 {
		return nil, ErrNoSigningKey
	}
	return s.keys[i].signer, nil
}

// KeySet returns every published key (the JWKS), from memory: the signing
// key first, then the others, newest first. It includes the next key
// before it signs and retired keys until their RetireAt.
func (m *Manager) KeySet(ctx context.Context) ([]op.Key, error) {
	now := m.now()
	s, err := m.cached(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("key set: %w", err)
	}
	cur := signingIndex(s.stored, now)
	out := make([]op.Key, 0, len(s.keys))
	if cur >= 0 {
		out = append(out, s.keys[cur].public)
	}
	for i := len(s.keys) - 1; i >= 0; i-- {
		if i != cur && published(&s.stored[i], now) {
			out = append(out, s.keys[i].public)
		}
	}
	return out, nil
}

// SignatureAlgorithms lists the algorithms keys sign with: RS256.
func (m *Manager) SignatureAlgorithms() []jose.SignatureAlgorithm {
	return []jose.SignatureAlgorithm{jose.RS256}
}

func (m *Manager) now() time.Time { return m.opts.Now() }

// cached returns the snapshot, reloading it first if it is older than
// CacheTTL.
func (m *Manager) cached(ctx context.Context, now time.Time) (*snapshot, error) {
	if s := m.snap.Load(); s != nil && m.fresh(s, now) {
		return s, nil
	}
	return m.reload(ctx)
}

func (m *Manager) fresh(s *snapshot, now time.Time) bool {
	return now.Sub(s.loadedAt) < m.opts.CacheTTL
}

// reload reads the set again, once for all concurrent callers. The read
// runs detached from ctx (other callers wait for it); a caller whose ctx
// ends stops waiting.
func (m *Manager) reload(ctx context.Context) (*snapshot, error) {
	m.mu.Lock()
	if s := m.snap.Load(); s != nil && m.fresh(s, m.now()) {
		m.mu.Unlock()
		return s, nil
	}
	f := m.flight
	if f == nil {
		f = &flight{done: make(chan struct{})}
		m.flight = f
		go m.runFlight(context.WithoutCancel(ctx), f)
	}
	m.mu.Unlock()
	select {
	case <-f.done:
		return f.snap, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (m *Manager) runFlight(ctx context.Context, f *flight) {
	ctx, cancel := context.WithTimeout(ctx, reloadTimeout)
	defer cancel()
	var s *snapshot
	set, err := m.getKeySet(ctx)
	if err == nil {
		s, err = m.install(set)
	} else if old := m.snap.Load(); old != nil {
		// The database is unreachable: keep serving what we have (its
		// schedule stays valid for a while) and try again after another
		// CacheTTL. A set that cannot be decoded is an error, not this.
		m.log.WarnContext(ctx, "reload signing keys failed; serving the cached set", "err", err)
		stale := *old
		stale.loadedAt = m.now()
		m.snap.CompareAndSwap(old, &stale)
		s, err = m.snap.Load(), nil
	}
	f.snap, f.err = s, err
	m.mu.Lock()
	m.flight = nil
	m.mu.Unlock()
	close(f.done)
}

// update reads the stored set, lets edit compute the next one (nil: no
// change) and swaps it in. When the compare-and-swap loses, it reads the
// set again and lets edit decide once more.
func (m *Manager) update(ctx context.Context, what string,
	edit func(ks []storage.SigningKey, now time.Time) ([]storage.SigningKey, error),
) (*snapshot, error) {
	for attempt := 0; ; attempt++ {
		s, err := m.load(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		now := m.now().UTC()
		next, err := edit(slices.Clone(s.stored), now)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if next == nil {
			return s, nil
		}
		set, err := m.store.SwapKeySet(ctx, s.version, next)
		if errors.Is(err, storage.ErrConflict) && attempt == 0 {
			m.log.InfoContext(ctx, "key set changed concurrently; re-evaluating", "op", what)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: swap key set: %w", what, err)
		}
		m.logChanges(ctx, s.stored, set.Keys)
		ns, err := m.install(set)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return ns, nil
	}
}

// load reads the set from the database, decodes it and caches it.
func (m *Manager) load(ctx context.Context) (*snapshot, error) {
	set, err := m.getKeySet(ctx)
	if err != nil {
		return nil, err
	}
	return m.install(set)
}

func (m *Manager) getKeySet(ctx context.Context) (*storage.KeySet, error) {
	set, err := m.store.GetKeySet(ctx)
	if errors.Is(err, storage.ErrNotFound) {
		return &storage.KeySet{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get key set: %w", err)
	}
	return set, nil
}

// install decodes set and caches it, unless a newer version is cached
// already.
func (m *Manager) install(set *storage.KeySet) (*snapshot, error) {
	s, err := m.decode(set)
	if err != nil {
		return nil, err
	}
	s.loadedAt = m.now()
	for {
		old := m.snap.Load()
		if old != nil && old.version > s.version {
			return s, nil
		}
		if m.snap.CompareAndSwap(old, s) {
			return s, nil
		}
	}
}

// decode builds a snapshot, decrypting only keys not seen before.
func (m *Manager) decode(set *storage.KeySet) (*snapshot, error) {
	stored := slices.Clone(set.Keys)
	sortKeys(stored)
	s := &snapshot{version: set.Version, stored: stored, keys: make([]loadedKey, len(stored))}

	m.decMu.Lock()
	defer m.decMu.Unlock()
	live := make(map[string]decodedKey, len(stored))
	for i := range stored {
		k := &stored[i]
		d, ok := m.decoded[k.ID]
		if !ok || !slices.Equal(d.sealed, k.PrivateEnc) {
			priv, err := m.decryptKey(k)
			if err != nil {
				return nil, err
			}
			d = decodedKey{sealed: k.PrivateEnc, priv: priv}
		}
		live[k.ID] = d
		s.keys[i] = loadedKey{
			signer: &signingKey{id: k.ID, priv: d.priv},
			public: &publicKey{id: k.ID, pub: &d.priv.PublicKey},
		}
	}
	m.decoded = live
	return s, nil
}

func (m *Manager) decryptKey(k *storage.SigningKey) (*rsa.PrivateKey, error) {
	if k.Algorithm != algorithm {
		return nil, fmt.Errorf("signing key %s: unsupported algorithm %q", k.ID, k.Algorithm)
	}
	if m.sealer == nil {
		return nil, fmt.Errorf("decrypt signing key %s: %w", k.ID, ErrNoMasterKey)
	}
	der, err := m.sealer.Open(k.PrivateEnc, []byte(k.ID))
	if err != nil {
		return nil, fmt.Errorf("decrypt signing key %s: wrong master key?: %w", k.ID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("decode signing key %s: %w", k.ID, err)
	}
	priv, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("decode signing key %s: not an RSA key", k.ID)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(k.PublicJWK); err != nil {
		return nil, fmt.Errorf("decode signing key %s: public JWK: %w", k.ID, err)
	}
	if pub, ok := jwk.Key.(*rsa.PublicKey); !ok || !priv.PublicKey.Equal(pub) || jwk.KeyID != k.ID {
		return nil, fmt.Errorf("decode signing key %s: public JWK does not match the private key", k.ID)
	}
	return priv, nil
}

// newKey generates a key that signs from activeFrom, seals it and keeps
// the decoded form so that loading it after the swap costs nothing.
func (m *Manager) newKey(now, activeFrom time.Time) (storage.SigningKey, error) {
	if m.sealer == nil {
		return storage.SigningKey{}, fmt.Errorf("create signing key: %w", ErrNoMasterKey)
	}
	b := make([]byte, kidBytes)
	if _, err := io.ReadFull(m.opts.Random, b); err != nil {
		return storage.SigningKey{}, fmt.Errorf("generate key id: %w", err)
	}
	kid := base64.RawURLEncoding.EncodeToString(b)
	priv, err := m.genKey()
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("encode signing key: %w", err)
	}
	sealed := m.sealer.Seal(der, []byte(kid))
	clear(der)
	pub, err := jose.JSONWebKey{Key: &priv.PublicKey, KeyID: kid, Algorithm: algorithm, Use: "sig"}.MarshalJSON()
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("encode public key: %w", err)
	}
	m.decMu.Lock()
	m.decoded[kid] = decodedKey{sealed: sealed, priv: priv}
	m.decMu.Unlock()
	return storage.SigningKey{
		ID:         kid,
		Algorithm:  algorithm,
		PrivateEnc: sealed,
		PublicJWK:  pub,
		CreatedAt:  floorSecond(now),
		ActiveFrom: activeFrom.UTC(),
	}, nil
}

// logChanges logs what a successful swap changed, by kid.
func (m *Manager) logChanges(ctx context.Context, before, after []storage.SigningKey) {
	old := make(map[string]*storage.SigningKey, len(before))
	for i := range before {
		old[before[i].ID] = &before[i]
	}
	kept := make(map[string]bool, len(after))
	for _, k := range after {
		kept[k.ID] = true
		o, ok := old[k.ID]
		switch {
		case !ok:
			m.log.InfoContext(ctx, "signing key added", "kid", k.ID, "active_from", k.ActiveFrom)
		case o.RetireAt.IsZero() && !k.RetireAt.IsZero():
			m.log.InfoContext(ctx, "signing key retiring", "kid", k.ID, "retire_at", k.RetireAt)
		}
	}
	for _, k := range before {
		if !kept[k.ID] {
			m.log.InfoContext(ctx, "signing key removed", "kid", k.ID)
		}
	}
}

// The schedule, as pure functions of a set sorted by sortKeys.

// sortKeys orders keys by activation (ties: creation, then kid).
func sortKeys(ks []storage.SigningKey) {
	slices.SortStableFunc(ks, func(a, b storage.SigningKey) int {
		if c := a.ActiveFrom.Compare(b.ActiveFrom); c != 0 {
			return c
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// published reports whether k is in the JWKS at now.
func published(k *storage.SigningKey, now time.Time) bool {
	return k.RetireAt.IsZero() || k.RetireAt.After(now)
}

// signingIndex returns the index of the key that signs at now: among the
// published keys, the one with the latest ActiveFrom not after now. If
// every published key activates later (a replica whose clock is behind
// the one that created the first key), the earliest of them signs: it is
// published already. -1 if no key is published.
func signingIndex(ks []storage.SigningKey, now time.Time) int {
	cur, first := -1, -1
	for i := range ks {
		if !published(&ks[i], now) {
			continue
		}
		if first < 0 {
			first = i
		}
		if ks[i].ActiveFrom.After(now) {
			break
		}
		cur = i
	}
	if cur < 0 {
		return first
	}
	return cur
}

// nextActivation reports whether a key must be added at now, and when it
// is to start signing: at once if there is no key; otherwise, if no next
// key is waiting and the current one is due for rotation within
// PublishAhead, at max(now+PublishAhead, current.ActiveFrom+RotationPeriod).
func nextActivation(ks []storage.SigningKey, now time.Time, o Options) (time.Time, bool) {
	cur := signingIndex(ks, now)
	if cur < 0 {
		return floorSecond(now), true
	}
	if cur < len(ks)-1 {
		return time.Time{}, false // a next key is published already
	}
	due := ks[cur].ActiveFrom.Add(o.RotationPeriod)
	if now.Before(due.Add(-o.PublishAhead)) {
		return time.Time{}, false
	}
	at := ceilSecond(now.Add(o.PublishAhead))
	if due.After(at) {
		at = due
	}
	return at, true
}

// retire sets RetireAt on keys that stopped signing (their successor's
// ActiveFrom plus MaxTokenLifetime) and drops keys retired by now. It
// reports whether anything changed.
func retire(ks []storage.SigningKey, now time.Time, o Options) ([]storage.SigningKey, bool) {
	cur := signingIndex(ks, now)
	changed := false
	for i := 0; i < cur; i++ {
		if ks[i].RetireAt.IsZero() {
			ks[i].RetireAt = ceilSecond(ks[i+1].ActiveFrom.Add(o.MaxTokenLifetime))
			changed = true
		}
	}
	out := ks[:0]
	for _, k := range ks {
		if published(&k, now) {
			out = append(out, k)
		} else {
			changed = true
		}
	}
	return out, changed
}

// floorSecond and ceilSecond round to whole seconds in UTC: every time the
// manager stores is whole seconds, which any backend keeps exactly.
func floorSecond(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

func ceilSecond(t time.Time) time.Time {
	f := floorSecond(t)
	if f.Before(t) {
		return f.Add(time.Second)
	}
	return f
}

// signingKey is a private key as zitadel's op package signs with it.
type signingKey struct {
	id   string
	priv *rsa.PrivateKey
}

var _ op.SigningKey = (*signingKey)(nil)

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *signingKey) Key() any                                    { return k.priv }
func (k *signingKey) ID() string                                  { return k.id }

// publicKey is a published key as zitadel's op package serves the JWKS.
type publicKey struct {
	id  string
	pub *rsa.PublicKey
}

var _ op.Key = (*publicKey)(nil)

func (k *publicKey) ID() string                         { return k.id }
func (k *publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *publicKey) Use() string                        { return "sig" }
func (k *publicKey) Key() any                           { return k.pub }
