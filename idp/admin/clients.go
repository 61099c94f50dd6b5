// Package admin holds the rules of client administration that the CLI
// (cmd/dingoidc), the config file's `clients` and the admin API (idp,
// adminapi*.go) share: client validation, id and secret generation and
// hashing, the reconciliation of config-file clients, and the audit
// helper. It imports only storage, so both idp and cmd import it
// (docs/architecture.md, "Administration").
package admin

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/dingoidc/dingoidc/storage"
)

// Size caps of a client's lists and their entries.
const (
	MaxListEntries = 100
	MaxEntryLen    = 256
	MaxURILen      = 2048
	MaxNameLen     = 200
)

// FieldError is one problem with one field of a client. Field is the JSON
// (and config-file) name of the field: "redirect_uris", "allowed_groups"…
type FieldError struct {
	Field string
	Index int    // position in a list field; -1 for a scalar or the whole list
	Value string // the entry at fault, when it helps (a URI)
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Index >= 0 && e.Value != "" {
		return fmt.Sprintf("%s[%d]: %q: %s", e.Field, e.Index, e.Value, e.Msg)
	}
	if e.Index >= 0 {
		return fmt.Sprintf("%s[%d]: %s", e.Field, e.Index, e.Msg)
	}
	return e.Field + ": " + e.Msg
}

// Rules are what validation needs from the server's configuration.
type Rules struct {
	// Upstreams are the configured upstream ids; nil skips the check
	// (a CLI without upstreams configured).
	Upstreams []string
}

// CheckClient validates a client and returns every problem, in field
// order. The caller fills in defaults (Name) first.
func CheckClient(c *storage.Client, r Rules) []*FieldError {
	var errs []*FieldError
	add := func(field string, i int, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Index: i, Msg: fmt.Sprintf(format, args...)})
	}
	if err := CheckClientID(c.ID); err != nil {
		add("id", -1, "%v", err)
	}
	if len(c.Name) > MaxNameLen {
		add("name", -1, "%d bytes; at most %d", len(c.Name), MaxNameLen)
	}
	if len(c.RedirectURIs) == 0 {
		add("redirect_uris", -1, "at least one is required")
	}
	uris := func(field string, list []string) {
		if len(list) > MaxListEntries {
			add(field, -1, "%d entries; at most %d", len(list), MaxListEntries)
			return
		}
		for i, u := range list {
			if len(u) > MaxURILen {
				add(field, i, "%d bytes; at most %d", len(u), MaxURILen)
			} else if err := CheckRedirectURI(u); err != nil {
				errs = append(errs, &FieldError{Field: field, Index: i, Value: u, Msg: err.Error()})
			}
		}
	}
	uris("redirect_uris", c.RedirectURIs)
	uris("post_logout_redirect_uris", c.PostLogoutRedirectURIs)
	if !ValidAccessTokenFormat(c.AccessTokenFormat) {
		add("access_token_format", -1, "unknown format %q (want jwt or opaque)", c.AccessTokenFormat)
	}
	if len(c.Upstreams) > MaxListEntries {
		add("upstreams", -1, "%d entries; at most %d", len(c.Upstreams), MaxListEntries)
	} else if r.Upstreams != nil {
		for _, u := range c.Upstreams {
			if !slices.Contains(r.Upstreams, u) {
				add("upstreams", -1, "unknown upstream %q", u)
			}
		}
	}
	names := func(field string, list []string) {
		if len(list) > MaxListEntries {
			add(field, -1, "%d entries; at most %d", len(list), MaxListEntries)
			return
		}
		for i, s := range list {
			switch {
			case s == "":
				add(field, i, "empty")
			case len(s) > MaxEntryLen:
				add(field, i, "%d bytes; at most %d", len(s), MaxEntryLen)
			case strings.ContainsRune(s, 0) || !utf8Valid(s):
				add(field, i, "not valid text")
			}
		}
	}
	names("allowed_groups", c.AllowedGroups)
	names("allowed_tenants", c.AllowedTenants)
	return errs
}

// Join turns field errors into one error (nil for none).
func Join(fe []*FieldError) error {
	errs := make([]error, len(fe))
	for i, e := range fe {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// ValidAccessTokenFormat reports whether f is an access token format: jwt,
// opaque, or "" (the server's default).
func ValidAccessTokenFormat(f string) bool { return f == "" || f == "jwt" || f == "opaque" }

// ConsoleClientID is the admin console's built-in client, registered in
// memory by the server; no stored client may take its id.
const ConsoleClientID = "dingoidc-admin"

// CheckClientID accepts 1–128 RFC 3986 unreserved characters, other than
// ConsoleClientID.
func CheckClientID(id string) error {
	switch {
	case id == "":
		return errors.New("required")
	case id == ConsoleClientID:
		return fmt.Errorf("%q is reserved for the admin console", id)
	case len(id) > 128:
		return fmt.Errorf("%d characters; at most 128", len(id))
	case !IsUnreserved(id):
		return fmt.Errorf("%q may only use letters, digits and - . _ ~", id)
	}
	return nil
}

// IsUnreserved reports whether s has only RFC 3986 unreserved characters.
func IsUnreserved(s string) bool {
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

// CheckRedirectURI accepts an absolute URI without a fragment; http(s)
// URIs need a host.
func CheckRedirectURI(s string) error {
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

// CheckClientSecret demands a long secret of unreserved characters: apps
// differ on whether they URL-encode the secret in HTTP Basic auth, and only
// for such a secret do both decodings agree.
func CheckClientSecret(s string) error {
	if len(s) < 16 {
		return fmt.Errorf("secret is %d characters; want at least 16 (32 random bytes as base64url is best)", len(s))
	}
	if len(s) > MaxEntryLen {
		return fmt.Errorf("secret is %d characters; at most %d", len(s), MaxEntryLen)
	}
	if !IsUnreserved(s) {
		return errors.New("secret may only use letters, digits and - . _ ~ (some apps do not URL-encode it in Basic auth)")
	}
	return nil
}

// NewClientID returns a random id: 16 lowercase base32 characters (never a
// leading '-', so it reads well as a command argument).
func NewClientID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// NewSecret returns 32 random bytes as unpadded base64url: only
// unreserved characters, so the raw and the URL-decoded forms of HTTP
// Basic credentials agree whichever way an app sends them. Admin API
// tokens use it too.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashSecret is how client secrets and admin tokens are stored: SHA-256.
func HashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// SecretMatches compares a presented client secret with the stored hash in
// constant time; a public client or one without a hash matches nothing.
func SecretMatches(c *storage.Client, secret string) bool {
	if c.Public || len(c.SecretHash) == 0 {
		return false
	}
	return subtle.ConstantTimeCompare(HashSecret(secret), c.SecretHash) == 1
}

// Details is what the audit log records of a client (never a secret).
func Details(c *storage.Client) map[string]any {
	return map[string]any{
		"name":                      c.Name,
		"public":                    c.Public,
		"redirect_uris":             NonNil(c.RedirectURIs),
		"post_logout_redirect_uris": NonNil(c.PostLogoutRedirectURIs),
		"upstreams":                 NonNil(c.Upstreams),
		"allowed_groups":            NonNil(c.AllowedGroups),
		"allowed_tenants":           NonNil(c.AllowedTenants),
		"legacy_api":                c.LegacyAPI,
		"access_token_format":       c.AccessTokenFormat,
		"static":                    c.Static,
	}
}

// Changes names the fields in which want differs from cur ("secret" for
// the secret hash; never a value).
func Changes(cur, want *storage.Client) []string {
	var changed []string
	eq := func(a, b []string) bool { return slices.Equal(NonNil(a), NonNil(b)) }
	if cur.Name != want.Name {
		changed = append(changed, "name")
	}
	if !eq(cur.RedirectURIs, want.RedirectURIs) {
		changed = append(changed, "redirect_uris")
	}
	if !eq(cur.PostLogoutRedirectURIs, want.PostLogoutRedirectURIs) {
		changed = append(changed, "post_logout_redirect_uris")
	}
	if cur.Public != want.Public {
		changed = append(changed, "public")
	}
	if !eq(cur.Upstreams, want.Upstreams) {
		changed = append(changed, "upstreams")
	}
	if !eq(cur.AllowedGroups, want.AllowedGroups) {
		changed = append(changed, "allowed_groups")
	}
	if !eq(cur.AllowedTenants, want.AllowedTenants) {
		changed = append(changed, "allowed_tenants")
	}
	if cur.LegacyAPI != want.LegacyAPI {
		changed = append(changed, "legacy_api")
	}
	if cur.AccessTokenFormat != want.AccessTokenFormat {
		changed = append(changed, "access_token_format")
	}
	if !bytes.Equal(cur.SecretHash, want.SecretHash) {
		changed = append(changed, "secret")
	}
	if cur.Static != want.Static {
		changed = append(changed, "static")
	}
	return changed
}

// NonNil returns s, or an empty slice for nil (JSON [] rather than null).
func NonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }
