package idp

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/sync/singleflight"

	"github.com/dingoidc/dingoidc/idp/admin"
	"github.com/dingoidc/dingoidc/storage"
)

// client adapts storage.Client to op.Client.
type client struct {
	c        storage.Client
	loginURL string // path prefix of the login page
	idTTL    time.Duration
	format   string
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                    { return c.c.ID }
func (c *client) RedirectURIs() []string           { return c.c.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return c.c.PostLogoutRedirectURIs }
func (c *client) ApplicationType() op.ApplicationType {
	if c.c.Public {
		return op.ApplicationTypeNative // loopback redirects with any port (RFC 8252)
	}
	return op.ApplicationTypeWeb
}
func (c *client) AuthMethod() oidc.AuthMethod {
	if c.c.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic // client_secret_post is accepted as well (T1)
}
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *client) LoginURL(id string) string { return c.loginURL + "?id=" + url.QueryEscape(id) }
func (c *client) AccessTokenType() op.AccessTokenType {
	if c.format == "opaque" {
		return op.AccessTokenTypeBearer
	}
	return op.AccessTokenTypeJWT
}
func (c *client) IDTokenLifetime() time.Duration { return c.idTTL }
func (c *client) DevMode() bool                  { return false }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) IsScopeAllowed(scope string) bool { return scope == ScopeGroups }

// IDTokenUserinfoClaimsAssertion puts the identity claims of the granted
// scopes into the ID token too (docs/relying-parties.md, I5: Kubernetes, Argo CD,
// Grafana's JMESPath and JumpServer read only the ID token).
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }

func (c *client) checkSecret(secret string) bool { return admin.SecretMatches(&c.c, secret) }

func (c *client) allowsUpstream(id string) bool {
	return len(c.c.Upstreams) == 0 || slices.Contains(c.c.Upstreams, id)
}

// clientStore is what the client cache reads.
type clientStore interface {
	ListClients(ctx context.Context) ([]storage.Client, error)
	GetClient(ctx context.Context, id string) (*storage.Client, error)
}

// clientCache keeps every client in memory and reloads the whole set when it
// is older than ttl (replicas converge through the database). A client not
// in the set is looked up once, so a new registration works at once.
type clientCache struct {
	store    clientStore
	ttl      time.Duration
	now      func() time.Time
	wrap     func(storage.Client) *client
	flight   singleflight.Group
	mu       sync.Mutex
	loading  bool // a load is in flight
	byID     map[string]*client
	origins  map[string]bool
	loadedAt time.Time
	// missing remembers unknown client ids for ttl, so junk /authorize
	// traffic does not reach the database on every request.
	missing map[string]time.Time
	// builtin are clients that live in memory only (the admin console,
	// adminsession.go); set before serving, read-only after.
	builtin map[string]*client
}

// maxMissing bounds the negative cache (an attacker controls the ids).
const maxMissing = 10000

func (cc *clientCache) snapshot(ctx context.Context) (map[string]*client, map[string]bool, error) {
	cc.mu.Lock()
	if cc.byID != nil && cc.now().Sub(cc.loadedAt) < cc.ttl {
		byID, origins := cc.byID, cc.origins
		cc.mu.Unlock()
		return byID, origins, nil
	}
	if cc.loading && cc.byID != nil {
		byID, origins := cc.byID, cc.origins
		cc.mu.Unlock()
		return byID, origins, nil // serve the old set while one caller reloads
	}
	cc.mu.Unlock()

	// One load for all callers; it runs detached from ctx (others wait for
	// it), a caller whose ctx ends stops waiting.
	ch := cc.flight.DoChan("clients", func() (any, error) {
		cc.setLoading(true)
		defer cc.setLoading(false)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), clientLoadTimeout)
		defer cancel()
		return nil, cc.load(ctx)
	})
	select {
	case r := <-ch:
		cc.mu.Lock()
		defer cc.mu.Unlock()
		// On error the old set is served, except while the database is
		// unreachable: then the request fails early with a 503
		// (unavailable.go) rather than after the person has scanned.
		if r.Err != nil && (cc.byID == nil || errors.Is(r.Err, storage.ErrUnavailable)) {
			return nil, nil, r.Err
		}
		return cc.byID, cc.origins, nil // on error: the old set
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
}

// clientLoadTimeout bounds a reload of every client.
const clientLoadTimeout = 10 * time.Second

func (cc *clientCache) setLoading(v bool) {
	cc.mu.Lock()
	cc.loading = v
	cc.mu.Unlock()
}

// load reads every client and installs the set; on error it keeps the
// old one.
func (cc *clientCache) load(ctx context.Context) error {
	list, err := cc.store.ListClients(ctx)
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if err != nil {
		return err
	}
	byID := make(map[string]*client, len(list))
	origins := map[string]bool{}
	for _, c := range list {
		byID[c.ID] = cc.wrap(c)
		for _, u := range c.RedirectURIs {
			if o := originOf(u); o != "" {
				origins[o] = true
			}
		}
	}
	cc.byID, cc.origins, cc.loadedAt = byID, origins, cc.now()
	return nil
}

var errUnknownClient = errors.New("unknown client")

func (cc *clientCache) get(ctx context.Context, id string) (*client, error) {
	if c, ok := cc.builtin[id]; ok {
		return c, nil
	}
	byID, _, err := cc.snapshot(ctx)
	if err != nil {
		noteUnavailable(ctx, err)
		return nil, storageError(err, "load clients")
	}
	if c, ok := byID[id]; ok {
		return c, nil
	}
	unknown := oidc.ErrInvalidClient().WithDescription("unknown client").WithParent(errUnknownClient)
	cc.mu.Lock()
	at, miss := cc.missing[id]
	cc.mu.Unlock()
	if miss && cc.now().Sub(at) < cc.ttl {
		return nil, unknown
	}
	c, err := cc.store.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		cc.mu.Lock()
		if cc.missing == nil || len(cc.missing) >= maxMissing {
			cc.missing = map[string]time.Time{}
		}
		cc.missing[id] = cc.now()
		cc.mu.Unlock()
		return nil, unknown
	}
	if err != nil {
		noteUnavailable(ctx, err)
		return nil, storageError(err, "get client")
	}
	w := cc.wrap(*c)
	cc.mu.Lock()
	if cc.byID != nil {
		m := make(map[string]*client, len(cc.byID)+1)
		for k, v := range cc.byID {
			m[k] = v
		}
		m[id] = w
		cc.byID = m
		o := make(map[string]bool, len(cc.origins)+len(c.RedirectURIs))
		for k, v := range cc.origins {
			o[k] = v
		}
		for _, u := range c.RedirectURIs {
			if origin := originOf(u); origin != "" {
				o[origin] = true
			}
		}
		cc.origins = o
	}
	delete(cc.missing, id)
	cc.mu.Unlock()
	return w, nil
}

// allowedOrigin reports whether a browser origin belongs to a registered
// redirect URI (CORS is open only to registered apps).
func (cc *clientCache) allowedOrigin(ctx context.Context, origin string) bool {
	_, origins, err := cc.snapshot(ctx)
	return err == nil && origins[origin]
}

// postLogoutAllowed reports whether any client registered uri.
func (cc *clientCache) postLogoutAllowed(ctx context.Context, uri string) bool {
	byID, _, err := cc.snapshot(ctx)
	if err != nil {
		return false
	}
	for _, c := range byID {
		if slices.Contains(c.c.PostLogoutRedirectURIs, uri) {
			return true
		}
	}
	return false
}

func originOf(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "" || p.Host == "" {
		return ""
	}
	return p.Scheme + "://" + p.Host
}
