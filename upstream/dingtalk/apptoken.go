package dingtalk

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/dingoidc/dingoidc/upstream"
)

// tokenCache holds the app access token of the old API: fetched once for
// all concurrent callers, renewed before it expires, dropped when DingTalk
// refuses it.
type tokenCache struct {
	fetch func(context.Context) (token string, ttl time.Duration, err error)
	now   func() time.Time
	log   *slog.Logger
	sf    singleflight.Group

	mu        sync.Mutex
	token     string
	refreshAt time.Time // renew from here on
	expires   time.Time // DingTalk's expiry
}

// cached returns the current token, whether it needs no renewal yet, and
// whether it is still valid.
func (c *tokenCache) cached() (token string, fresh, valid bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	return c.token, c.token != "" && now.Before(c.refreshAt), c.token != "" && now.Before(c.expires)
}

// get returns a valid app token, fetching one when there is none or the
// current one is due for renewal. Concurrent callers share one fetch; each
// stops waiting when its own ctx ends.
func (c *tokenCache) get(ctx context.Context) (string, error) {
	token, fresh, valid := c.cached()
	if fresh {
		return token, nil
	}
	ch := c.sf.DoChan("app", func() (any, error) {
		// A caller that found the cache stale just before the previous
		// fetch stored its token must not fetch again.
		if t, fresh, _ := c.cached(); fresh {
			return t, nil
		}
		t, ttl, err := c.fetch(context.WithoutCancel(ctx))
		if err != nil {
			// While the current token is valid, try again a little later
			// rather than on every call.
			now := c.now()
			c.mu.Lock()
			if c.token != "" && now.Before(c.expires) {
				c.refreshAt = now.Add(renewRetry)
				if c.refreshAt.After(c.expires) {
					c.refreshAt = c.expires
				}
			}
			c.mu.Unlock()
			return "", err
		}
		now := c.now()
		c.mu.Lock()
		c.token, c.expires, c.refreshAt = t, now.Add(ttl), now.Add(ttl-renewEarly(ttl))
		c.mu.Unlock()
		return t, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			if valid { // renewing early failed; the old token still works
				c.log.WarnContext(ctx, "could not renew the dingtalk app token early; using the current one", "err", r.Err)
				return token, nil
			}
			return "", r.Err
		}
		return r.Val.(string), nil
	case <-ctx.Done():
		return "", fmt.Errorf("get app token: %w: %w", upstream.ErrUnavailable, ctx.Err())
	}
}

// invalidate drops token if it is still the cached one (another caller
// may have renewed it already).
func (c *tokenCache) invalidate(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == token {
		c.token, c.refreshAt, c.expires = "", time.Time{}, time.Time{}
	}
}

// renewEarly is how long before its expiry a token is renewed: a fifth of
// its lifetime, at most 10 minutes (DingTalk's tokens live 2 hours).
func renewEarly(ttl time.Duration) time.Duration {
	return min(ttl/5, 10*time.Minute)
}

// renewRetry is how long a failed early renewal waits before the next.
const renewRetry = 30 * time.Second

// defaultTokenTTL is assumed when DingTalk does not say (it documents 7200s).
const defaultTokenTTL = 2 * time.Hour

// fetchAppToken gets a new app token from /v1.0/oauth2/accessToken.
func (p *Provider) fetchAppToken(ctx context.Context) (string, time.Duration, error) {
	const op = "get app token"
	var out struct {
		AccessToken flexString `json:"accessToken"`
		ExpireIn    flexInt    `json:"expireIn"`
	}
	err := p.callAPI(ctx, call{
		method:  http.MethodPost,
		url:     p.cfg.APIHost + "/v1.0/oauth2/accessToken",
		body:    map[string]string{"appKey": p.cfg.ClientID, "appSecret": p.cfg.ClientSecret},
		secrets: []string{p.cfg.ClientSecret},
	}, &out)
	if err != nil {
		return "", 0, p.apiFailure(op, "", err)
	}
	if out.AccessToken == "" {
		return "", 0, fmt.Errorf("%s: %w: %w: no accessToken", op, upstream.ErrUnavailable, errShape)
	}
	ttl := time.Duration(out.ExpireIn) * time.Second
	if out.ExpireIn <= 0 || ttl > defaultTokenTTL {
		ttl = defaultTokenTTL
	}
	p.log.InfoContext(ctx, "dingtalk app token renewed", "expires_in", ttl.String())
	return string(out.AccessToken), ttl, nil
}
