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
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"

	"github.com/dingoidc/dingoidc/storage"
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

// Store is what a Manager needs of the database: the key set, swapped
// whole, and the audit log. storage.Store has it.
type Store interface {
	GetKeySet(ctx context.Context) (*storage.KeySet, error)
	SwapKeySet(ctx context.Context, expectedVersion int64, keys []storage.SigningKey) (*storage.KeySet, error)
	AppendAudit(ctx context.Context, e *storage.AuditEvent) error
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
	store  Store
	sealer *Sealer
	opts   Options
	log    *slog.Logger
	genKey func() (*rsa.PrivateKey, error) // replaced in tests: RSA generation is slow

	snap atomic.Pointer[snapshot] // the cached set; nil until first loaded

	flight singleflight.Group // one reload at a time for all callers

	decMu   sync.Mutex
	decoded map[string]decodedKey // kid → private key, decrypted once
}

// NewManager returns a Manager over store. Call Ensure before serving.
// sealer may be nil for a Manager that only lists keys (List needs no
// master key); anything else then fails with ErrNoMasterKey.
func NewManager(store Store, sealer *Sealer, opts Options) *Manager {
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
// that signs PublishAhead from now, or if immediate (when the current key
// may be compromised) CacheTTL from now: as soon as every replica publishes
// it, so that a token signed with it verifies against any replica's JWKS
// (relying parties that cached the JWKS refetch on the unknown kid). A next key that has not signed yet is
// replaced. The rotation is recorded in the audit log as "keys.rotate".
// The returned key carries no private material; if only the audit write
// failed, it is returned together with the error.
func (m *Manager) Rotate(ctx context.Context, immediate bool) (storage.SigningKey, error) {
	return m.RotateAs(ctx, immediate, auditActor)
}

// RotateAs is Rotate recorded in the audit log with actor (the admin API's
// token or admin).
func (m *Manager) RotateAs(ctx context.Context, immediate bool, actor string) (storage.SigningKey, error) {
	var (
		added    storage.SigningKey
		replaced []string
	)
	_, err := m.update(ctx, "rotate signing key", func(ks []storage.SigningKey, now time.Time) ([]storage.SigningKey, error) {
		replaced = nil
		activeFrom := ceilSecond(now.Add(m.opts.PublishAhead))
		cur := signingIndex(ks, now)
		switch {
		case cur < 0:
			activeFrom = floorSecond(now)
		case immediate:
			// Published now, signing as soon as every replica publishes it
			// too (each reloads the set within CacheTTL). Signing at once
			// would hand out tokens that a relying party fetching the JWKS
			// from a replica still on the old set cannot verify.
			activeFrom = ceilSecond(now.Add(m.opts.CacheTTL))
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
		if immediate && cur >= 0 {
			// Generating the key took time, and the write follows: a
			// replica that reads the set until the write commits keeps a
			// copy without the new key for CacheTTL from that read (its
			// start, install). Count CacheTTL from after the generation,
			// plus a margin for the write.
			if after := ceilSecond(m.now().Add(m.opts.CacheTTL + rotateWriteMargin)); after.After(k.ActiveFrom) {
				k.ActiveFrom = after.UTC()
			}
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
	if immediate && m.now().Add(m.opts.CacheTTL).After(added.ActiveFrom) {
		// The write took longer than rotateWriteMargin: a replica that
		// read the set just before it commits may not publish the key
		// until after it signs.
		m.log.WarnContext(ctx, "key set write was slow: the new key may sign before every replica publishes it",
			"kid", added.ID, "active_from", added.ActiveFrom)
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
		Actor:   actor,
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

func (m *Manager) now() time.Time { return m.opts.Now() }

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
