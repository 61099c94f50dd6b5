package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// countingTransport counts the requests of one operation.
type countingTransport struct {
	base http.RoundTripper
	n    int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n++
	return c.base.RoundTrip(r)
}

type loginResult struct {
	requests        int
	access, refresh string
}

// login runs one code flow with PKCE in the browser whose cookies are jar:
// authorize (following redirects through the upstream, unless the browser
// has a session) → code → token → userinfo. The upstream is recognised by
// -upstream-path: a first login must visit it, an SSO login must not (the
// browser's session should have been used).
func (h *harness) login(ctx context.Context, jar http.CookieJar, client, secret string, sso bool) (res loginResult, err error) {
	ct := &countingTransport{base: h.tr}
	defer func() { res.requests = ct.n }()
	upstreamBase := ""
	if h.c.upstreamPath != "" {
		upstreamBase = h.tgt.issuer + h.c.upstreamPath
	}
	visitedUpstream := false
	browser := &http.Client{Transport: ct, Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), h.c.redirect) {
				return http.ErrUseLastResponse
			}
			if upstreamBase != "" && strings.HasPrefix(req.URL.String(), upstreamBase) {
				visitedUpstream = true
			}
			if len(via) >= 10 {
				return errors.New("more than 10 redirects")
			}
			return nil
		}}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	verifier := base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {client}, "redirect_uri": {h.c.redirect}, "response_type": {"code"}, "scope": {h.c.scope},
		"state": {"loadgen"}, "nonce": {verifier[:16]}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.authorizeURL+"?"+q.Encode(), nil)
	resp, err := browser.Do(req)
	if err != nil {
		return res, fmt.Errorf("authorize: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther || loc == nil || loc.Query().Get("code") == "" {
		detail := ""
		if loc != nil && loc.Query().Get("error") != "" {
			detail = ": " + loc.Query().Get("error") + " " + loc.Query().Get("error_description")
		}
		return res, fmt.Errorf("authorize ended with %s at %s, no code%s (is the upstream auto-approving?)", resp.Status, resp.Request.URL.Path, detail)
	}
	if sso && visitedUpstream {
		return res, errors.New("SSO login went to the upstream: the browser's session was not used")
	}
	if !sso && !visitedUpstream && upstreamBase != "" {
		return res, errors.New("first login did not go to the upstream")
	}
	tok, err := h.tokenVia(ctx, ct, client, secret, url.Values{"grant_type": {"authorization_code"}, "code": {loc.Query().Get("code")},
		"redirect_uri": {h.c.redirect}, "code_verifier": {verifier}})
	if err != nil {
		return res, err
	}
	if tok.IDToken == "" {
		return res, errors.New("token: no id_token")
	}
	if err := h.userinfoVia(ctx, ct, tok.AccessToken); err != nil {
		return res, err
	}
	res.access, res.refresh = tok.AccessToken, tok.RefreshToken
	return res, nil
}

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

func (h *harness) token(ctx context.Context, client, secret string, form url.Values) (tokenResponse, error) {
	return h.tokenVia(ctx, h.tr, client, secret, form)
}

func (h *harness) tokenVia(ctx context.Context, tr http.RoundTripper, client, secret string, form url.Values) (tokenResponse, error) {
	var tok tokenResponse
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.tokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(client), url.QueryEscape(secret))
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return tok, fmt.Errorf("token: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		return tok, fmt.Errorf("token: %s: %w", resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK {
		return tok, fmt.Errorf("token: %s %s %s", resp.Status, tok.Error, tok.Description)
	}
	if tok.AccessToken == "" {
		return tok, errors.New("token: no access_token")
	}
	return tok, nil
}

func (h *harness) userinfo(ctx context.Context, access string) error {
	return h.userinfoVia(ctx, h.tr, access)
}

func (h *harness) userinfoVia(ctx context.Context, tr http.RoundTripper, access string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.userinfoURL, nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err := (&http.Client{Transport: tr, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("userinfo: %w", err)
	}
	defer resp.Body.Close()
	var claims struct {
		Sub string `json:"sub"`
	}
	err = json.NewDecoder(resp.Body).Decode(&claims)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("userinfo: %s", resp.Status)
	}
	if err != nil || claims.Sub == "" {
		return fmt.Errorf("userinfo: no sub (%v)", err)
	}
	return nil
}
