package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/dingoidc/dingoidc/idp"
	"github.com/dingoidc/dingoidc/storage"
)

// checkClient validates a client built from flags; problems name the flag.
func checkClient(cfg *FileConfig, cl *storage.Client) error {
	var errs []error
	if err := checkClientID(cl.ID); err != nil {
		errs = append(errs, fmt.Errorf("--id: %w", err))
	}
	if len(cl.RedirectURIs) == 0 {
		errs = append(errs, errors.New("--redirect-uri: at least one is required"))
	}
	for _, u := range cl.RedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			errs = append(errs, fmt.Errorf("--redirect-uri %q: %w", u, err))
		}
	}
	for _, u := range cl.PostLogoutRedirectURIs {
		if err := checkRedirectURI(u); err != nil {
			errs = append(errs, fmt.Errorf("--post-logout-redirect-uri %q: %w", u, err))
		}
	}
	if !idp.ValidAccessTokenFormat(cl.AccessTokenFormat) {
		errs = append(errs, fmt.Errorf("--access-token-format: unknown format %q (want jwt or opaque)", cl.AccessTokenFormat))
	}
	if len(cfg.Upstreams) > 0 {
		for _, u := range cl.Upstreams {
			if !slices.ContainsFunc(cfg.Upstreams, func(e UpstreamEntry) bool { return e.ID == u }) {
				errs = append(errs, fmt.Errorf("--upstream: unknown upstream %q", u))
			}
		}
	}
	return errors.Join(errs...)
}

// checkClientID accepts 1–128 RFC 3986 unreserved characters.
func checkClientID(id string) error {
	switch {
	case id == "":
		return errors.New("required")
	case len(id) > 128:
		return fmt.Errorf("%d characters; at most 128", len(id))
	case !isUnreserved(id):
		return fmt.Errorf("%q may only use letters, digits and - . _ ~", id)
	}
	return nil
}

// isUnreserved reports whether s has only RFC 3986 unreserved characters.
func isUnreserved(s string) bool {
	for _, r := range s {
		switch {
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9',
			r == '-', r == '.', r == '_', r == '~':
		default:
			return false
		}
	}
	return true
}

// checkRedirectURI accepts an absolute URI without a fragment; http(s)
// URIs need a host.
func checkRedirectURI(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("not a URI: %w", err)
	case !u.IsAbs():
		return errors.New("must be absolute (scheme and host)")
	case strings.Contains(s, "#"):
		return errors.New("must not have a fragment")
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host == "":
		return errors.New("must have a host")
	}
	return nil
}

// newClientID returns a random id: 16 lowercase base32 characters (never a
// leading '-', so it reads well as a command argument).
func newClientID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// newClientSecret returns 32 random bytes as unpadded base64url: only
// unreserved characters, so the raw and the URL-decoded forms of HTTP
// Basic credentials agree whichever way an app sends them.
func newClientSecret() Secret {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return Secret(base64.RawURLEncoding.EncodeToString(b))
}

// hashSecret is how client secrets are stored: SHA-256.
func hashSecret(s Secret) []byte {
	h := sha256.Sum256([]byte(s.Value()))
	return h[:]
}
