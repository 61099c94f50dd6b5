package zhezhengding

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// tokenPath is the app access token API.
const tokenPath = "/gettoken.json"

// tokenSource caches one app's access token. It is refreshed when 80% of
// its lifetime has passed, by a single request whatever the number of
// callers; a refresh that fails while the old token is still valid keeps
// the old one.
type tokenSource struct {
	c      *client
	logger *slog.Logger
	app    string // "scan" or "in-app", for logs
	sf     singleflight.Group

	mu        sync.Mutex
	token     string
	refreshAt time.Time
	expires   time.Time
}

// cached returns the cached token when it is not yet due for a refresh.
func (s *tokenSource) cached() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && s.c.now().Before(s.refreshAt) {
		return s.token, true
	}
	return "", false
}

// get returns a token, fetching one if the cache has none or it is due.
// Concurrent callers share one fetch; each stops waiting when its own ctx
// ends.
func (s *tokenSource) get(ctx context.Context) (string, error) {
	if tok, ok := s.cached(); ok {
		return tok, nil
	}
	// The refresh belongs to every waiting caller: it must not end because
	// the first one gave up. c.call bounds it with the timeout.
	ch := s.sf.DoChan("token", func() (any, error) {
		// A caller that found the cache due just before the previous
		// refresh stored its token must not fetch again.
		if tok, ok := s.cached(); ok {
			return tok, nil
		}
		return s.refresh(context.WithoutCancel(ctx))
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	case <-ctx.Done():
		return "", fmt.Errorf("get app token: %w", ctx.Err())
	}
}

// refresh fetches a token and caches it; when the fetch fails while the
// cached token is still valid, it returns that one.
func (s *tokenSource) refresh(ctx context.Context) (string, error) {
	tok, life, err := s.fetch(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.c.now()
	switch {
	case err == nil:
		s.token = tok
		s.expires = now.Add(life)
		s.refreshAt = now.Add(life * 4 / 5)
		s.logger.Debug("app token refreshed", "app", s.app, "expires_in", int64(life.Seconds()))
		return tok, nil
	case s.token != "" && now.Before(s.expires):
		// Refreshed early and failed: the old token still works.
		s.logger.Warn("app token refresh failed; using the current one until it expires",
			"app", s.app, "expires_at", s.expires.UTC(), "err", err)
		return s.token, nil
	}
	return "", err
}

// fetch asks the gateway for a token. The credentials go in a POST form
// (docs/upstreams.md §1, /gettoken.json: real clients do so), never in the URL, where gateway and
// proxy access logs would record the AppSecret.
func (s *tokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	params := url.Values{"appkey": {s.c.key}, "appsecret": {s.c.secret}}
	data, err := s.c.call(ctx, http.MethodPost, tokenPath, params)
	if err != nil {
		return "", 0, fmt.Errorf("get app token: %w", err)
	}
	tok, life, err := parseToken(data)
	if err != nil {
		return "", 0, fmt.Errorf("get app token: %w", err)
	}
	return tok, life, nil
}

// invalidate forgets tok if it is the cached token (the gateway said it
// expired): the next get fetches a new one.
func (s *tokenSource) invalidate(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token == tok {
		s.token = ""
		s.refreshAt, s.expires = time.Time{}, time.Time{}
	}
}

// parseToken reads /gettoken.json's data: accessToken, and expiresIn in
// seconds as a number or a string.
func parseToken(data json.RawMessage) (string, time.Duration, error) {
	var d struct {
		AccessToken json.RawMessage `json:"accessToken"`
		ExpiresIn   json.RawMessage `json:"expiresIn"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return "", 0, unexpected("token data is not an object")
	}
	var tok string
	if err := json.Unmarshal(d.AccessToken, &tok); err != nil || tok == "" || len(tok) > 512 ||
		strings.ContainsFunc(tok, isSpaceOrControl) {
		return "", 0, unexpected("no usable accessToken")
	}
	s := strings.TrimSpace(string(d.ExpiresIn))
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(d.ExpiresIn, &s); err != nil {
			return "", 0, unexpected("expiresIn is not a number")
		}
		s = strings.TrimSpace(s)
	}
	secs, err := strconv.ParseFloat(s, 64)
	if err != nil || !(secs >= 1 && secs <= 366*24*3600) { // NaN too (FuzzParseToken)
		return "", 0, unexpected("expiresIn is not a usable number of seconds")
	}
	return tok, time.Duration(secs * float64(time.Second)), nil
}

// errInvalidToken tells whether err is the gateway's "token expired or
// unknown" (240133) or "accessToken not correct" (250027): either way the
// cached token is stale.
func errInvalidToken(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && (ae.Code == CodeInvalidToken || ae.Code == CodeTokenNotCorrect)
}

// callWithToken makes a POST call with access_token added to params. When
// the gateway answers 240133 (token expired or unknown) or 250027 (token
// not correct) the token is dropped, a new one fetched and the call made
// once more.
func (s *tokenSource) callWithToken(ctx context.Context, path string, params url.Values) (json.RawMessage, error) {
	tok, err := s.get(ctx)
	if err != nil {
		return nil, err
	}
	p := cloneValues(params)
	p.Set("access_token", tok)
	data, err := s.c.call(ctx, http.MethodPost, path, p)
	if !errInvalidToken(err) {
		return data, err
	}
	var ae *APIError
	errors.As(err, &ae)
	s.logger.Info("app token refused by the gateway; refreshing it", "app", s.app, "path", path, "upstream_code", ae.Code)
	s.invalidate(tok)
	if tok, err = s.get(ctx); err != nil {
		return nil, err
	}
	p.Set("access_token", tok)
	return s.c.call(ctx, http.MethodPost, path, p)
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v)+1)
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
