package keys

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/dingoidc/dingoidc/storage"
)

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

// reload reads the set again, once for all concurrent callers
// (singleflight). The read runs detached from ctx (other callers wait for
// it); a caller whose ctx ends stops waiting.
func (m *Manager) reload(ctx context.Context) (*snapshot, error) {
	ch := m.flight.DoChan("reload", func() (any, error) {
		if s := m.snap.Load(); s != nil && m.fresh(s, m.now()) {
			return s, nil // another flight reloaded it just before
		}
		return m.reloadNow(context.WithoutCancel(ctx))
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*snapshot), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// reloadNow reads the set from the database; when that fails, it keeps
// serving the cached set, if any.
func (m *Manager) reloadNow(ctx context.Context) (*snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, reloadTimeout)
	defer cancel()
	start := m.now()
	set, err := m.getKeySet(ctx)
	if err == nil {
		return m.install(set, start)
	}
	old := m.snap.Load()
	if old == nil {
		return nil, err
	}
	// The database is unreachable: keep serving what we have (its
	// schedule stays valid for a while) and try again after another
	// CacheTTL. A set that cannot be decoded is an error, not this.
	m.log.WarnContext(ctx, "reload signing keys failed; serving the cached set", "err", err)
	stale := *old
	stale.loadedAt = m.now()
	m.snap.CompareAndSwap(old, &stale)
	return m.snap.Load(), nil
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
		ns, err := m.install(set, now)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		return ns, nil
	}
}

// load reads the set from the database, decodes it and caches it.
func (m *Manager) load(ctx context.Context) (*snapshot, error) {
	start := m.now()
	set, err := m.getKeySet(ctx)
	if err != nil {
		return nil, err
	}
	return m.install(set, start)
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
// already. readStart is when the read of set began: the copy is trusted
// for CacheTTL from then, not from when the read ended, since a change
// committed during the read may be missing from it (RotateAs relies on
// this bound).
func (m *Manager) install(set *storage.KeySet, readStart time.Time) (*snapshot, error) {
	s, err := m.decode(set)
	if err != nil {
		return nil, err
	}
	s.loadedAt = readStart
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
