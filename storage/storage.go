package storage

import (
	"context"
	"time"
)

// Client is an application registered by an admin (an OIDC relying party).
type Client struct {
	ID                     string
	SecretHash             []byte // SHA-256 of the secret; empty for a public client
	Name                   string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	Public                 bool     // no secret; PKCE required
	Upstreams              []string // allowed upstream ids; empty means all
	AccessTokenFormat      string   // "jwt" (default) or "opaque"
	Static                 bool     // reconciled from the config file
	CreatedAt              time.Time
	UpdatedAt              time.Time

	// Access policies, enforced by the caller at login and refresh: a
	// person may use the client only when one of their groups is in
	// AllowedGroups and their tenant is in AllowedTenants. An empty list
	// means no restriction.
	AllowedGroups  []string
	AllowedTenants []string
	// LegacyAPI opts the client in to the legacy DingTalk SSO endpoints
	// (<issuer>/dingtalk/...).
	LegacyAPI bool

	// Version is set by the store: 1 on CreateClient, moved on by every
	// update (UpdateClient, UpdateClientIf), which write the new version
	// back into the Client they are given. It guards compare-and-swap edits
	// (an admin API's ETag).
	Version int64
}

// User is one person as seen through one upstream identity. ID is the OIDC
// subject (`<upstream id>_<stable key>` by default) and never changes.
type User struct {
	ID          string
	Upstream    string // upstream id from the config
	ExternalID  string // the upstream's stable key (accountId, unionId…)
	Claims      []byte // JSON object of mapped claims (without sub)
	Disabled    bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
	LastLoginAt time.Time
	// LastCheckedAt is when the upstream last confirmed the person: set to
	// LastLoginAt by UpsertUser, moved on by SetUserChecked (a re-check at
	// refresh).
	LastCheckedAt time.Time
}

// Session is an SSO session: the browser holds a random id in a cookie, the
// database holds its hash.
type Session struct {
	IDHash         []byte // SHA-256 of the cookie value
	UserID         string
	Upstream       string
	AuthTime       time.Time
	AMR            []string
	ExpiresAt      time.Time
	LoginStateHash []byte // SHA-256 of the upstream state that created it; unique (single use)
	CreatedAt      time.Time
}

// Grant is what one redeemed authorization code produced: access tokens
// (JWTs or opaque, carrying the grant id) and optionally a refresh-token
// family that rotates in place.
type Grant struct {
	ID        string // random; carried by access tokens (jti)
	ClientID  string
	UserID    string
	SessionID []byte // Session.IDHash, for logout
	Scopes    []string
	Audience  []string
	AuthTime  time.Time
	AMR       []string
	CodeHash  []byte // SHA-256 of the authorization code; unique (single use)

	// Refresh family; RefreshID is empty when no refresh token was issued.
	RefreshID         string // random lookup key, only ever inside refresh tokens
	RefreshGeneration int64
	RefreshHash       []byte // hash of the current generation's secret
	PrevRefreshHash   []byte // hash of the previous generation's secret
	RotatedAt         time.Time

	CreatedAt time.Time
	ExpiresAt time.Time // when the grant (its refresh token, or its last access token) ends
	RevokedAt time.Time // zero unless revoked
}

// Revoked reports whether the grant was revoked.
func (g *Grant) Revoked() bool { return !g.RevokedAt.IsZero() }

// Rotation asks RotateRefresh to move a refresh family one generation on.
type Rotation struct {
	RefreshID      string
	FromGeneration int64  // the generation presented
	FromHash       []byte // hash of the presented secret
	NewHash        []byte // hash of the next generation's secret
	Now            time.Time
	ExpiresAt      time.Time // new expiry of the grant
}

// SigningKey is one RSA signing key. The private key is encrypted by the
// caller (AES-256-GCM under the master key) before it reaches storage.
type SigningKey struct {
	ID         string // kid
	Algorithm  string // RS256
	PrivateEnc []byte // encrypted PKCS#8 DER
	PublicJWK  []byte // JSON of the public JWK
	CreatedAt  time.Time
	ActiveFrom time.Time // signs from this time on (published before)
	RetireAt   time.Time // zero while current; removed from JWKS (and deleted) after
}

// KeySet is the whole set of signing keys with the version that guards
// compare-and-swap updates.
type KeySet struct {
	Version int64
	Keys    []SigningKey
}

// AuditEvent records an admin or security-relevant change.
type AuditEvent struct {
	ID      int64
	Time    time.Time
	Actor   string // "cli", "config", "admin-api:<who>", "system"
	Action  string // "client.create", "user.disable", "keys.rotate", "grant.revoke_reuse"…
	Target  string // client id, user id, kid…
	Details []byte // JSON object; never a secret
}

// AuditFilter narrows ListAuditFiltered. Empty fields match anything.
type AuditFilter struct {
	Actor  string    // exact
	Action string    // exact
	Target string    // exact
	From   time.Time // Time >= From; zero: unbounded
	To     time.Time // Time < To; zero: unbounded
	Before int64     // cursor: only IDs strictly below; 0: from the newest
	Limit  int       // 0: no limit
}

// SignInEvent is one entry of the sign-in log: a completed or refused login,
// an SSO session reuse, a refresh refused by policy, a logout. Its strings
// come from outside (headers) and are stored cleaned: invalid UTF-8 as
// U+FFFD, NUL bytes dropped; filters are cleaned alike.
type SignInEvent struct {
	ID        int64     // assigned by the store, increasing in append order
	Time      time.Time // required
	UserID    string    // subject; empty when nobody was identified
	ClientID  string
	Upstream  string
	Result    string // required: "success", "refused", "sso", "logout", "refresh_refused"…
	Reason    string // why, for a refusal
	ClientIP  string
	UserAgent string
}

// SignInFilter narrows ListSignIns. Empty fields match anything; strings
// match exactly.
type SignInFilter struct {
	UserID   string
	ClientID string
	Upstream string
	Result   string
	ClientIP string
	From     time.Time // Time >= From; zero: unbounded
	To       time.Time // Time < To; zero: unbounded
	Before   int64     // cursor: only IDs strictly below; 0: from the newest
	Limit    int       // 0: no limit
}

// AdminToken is a credential for the admin API. Only the SHA-256 of the
// token is stored.
type AdminToken struct {
	ID         string
	Name       string
	Hash       []byte // SHA-256 of the token; unique
	Scope      string // "read" or "write"
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never
	RevokedAt  time.Time // zero unless revoked
	LastUsedAt time.Time // zero until TouchAdminToken
}

// Admin token scopes.
const (
	ScopeRead  = "read"
	ScopeWrite = "write"
)

// UserFilter narrows ListUsers, whose results are ordered by ID.
type UserFilter struct {
	Upstream string // empty: any
	// Query, when set, keeps the users in whose ID, ExternalID or claims
	// name, preferred_username, employee_code or account_id it occurs as a
	// substring, ignoring case (case folding is ASCII-only on SQLite). A
	// filter field with invalid UTF-8 or a NUL byte matches nobody.
	Query string
	After string // cursor: only IDs strictly after (the last ID of the previous page)
	Limit int    // 0: no limit
}

// AdminTokenRetention is how long DeleteExpired keeps an admin token after
// it expired or was revoked (so that the admin still sees it listed).
const AdminTokenRetention = 30 * 24 * time.Hour

// Store is the whole persistence contract. Every method takes ctx first and
// returns sentinel errors from this package (wrapped) for the expected
// failures. All times are stored and returned in UTC.
type Store interface {
	// Clients.
	CreateClient(ctx context.Context, c *Client) error // ErrConflict if the id exists
	GetClient(ctx context.Context, id string) (*Client, error)
	ListClients(ctx context.Context) ([]Client, error)
	// UpdateClient replaces everything but the id and CreatedAt, whatever
	// the stored version (ErrNotFound if absent), and sets c.Version to the
	// new one.
	UpdateClient(ctx context.Context, c *Client) error
	// UpdateClientIf is UpdateClient only if the stored version is still
	// expectedVersion: ErrConflict when another update came first (nothing
	// is written), ErrNotFound when the client is absent.
	UpdateClientIf(ctx context.Context, c *Client, expectedVersion int64) error
	DeleteClient(ctx context.Context, id string, now time.Time) error // ErrNotFound if absent; revokes its grants at now

	// Users. UpsertUser creates the user or refreshes its claims,
	// LastLoginAt and LastCheckedAt (both set to u.LastLoginAt; u's own
	// LastCheckedAt is ignored), in one statement, and returns the stored
	// row (Disabled tells the caller whether to refuse the login).
	UpsertUser(ctx context.Context, u *User) (*User, error)
	GetUser(ctx context.Context, id string) (*User, error)
	// ListUsers returns the users narrowed by f, ordered by ID, in one
	// statement.
	ListUsers(ctx context.Context, f UserFilter) ([]User, error)
	// SetUserDisabled disables or enables a user at now; disabling also
	// deletes its sessions and revokes its grants.
	SetUserDisabled(ctx context.Context, id string, disabled bool, now time.Time) error
	// SetUserChecked records that the upstream confirmed the person at
	// (LastCheckedAt); ErrNotFound if absent.
	SetUserChecked(ctx context.Context, id string, at time.Time) error
	// ListUserSessions returns the user's sessions live at now, newest
	// first (none for an unknown user).
	ListUserSessions(ctx context.Context, userID string, now time.Time) ([]Session, error)
	// ListUserGrants returns the user's grants live at now and not revoked,
	// newest first (none for an unknown user).
	ListUserGrants(ctx context.Context, userID string, now time.Time) ([]Grant, error)
	// RevokeUserSessions deletes all the user's sessions and revokes all its
	// grants at now, like disabling without disabling, and returns how many
	// sessions and grants it ended; ErrNotFound if the user is absent.
	RevokeUserSessions(ctx context.Context, userID string, now time.Time) (int64, error)

	// Sessions. CreateSession fails with ErrConflict when LoginStateHash was
	// used before (the upstream state is single-use).
	CreateSession(ctx context.Context, s *Session) error
	// UpsertUserAndCreateSession is UpsertUser followed by CreateSession,
	// all or nothing (one statement on postgres, one transaction on
	// sqlite): the login's success path. s.UserID is set to the stored
	// user's ID. When the stored user is disabled no session is created
	// and the user is returned (Disabled tells the caller to refuse);
	// ErrConflict when s's ID or LoginStateHash was used before, and then
	// the user is not written either.
	UpsertUserAndCreateSession(ctx context.Context, u *User, s *Session) (*User, error)
	// GetSession returns the live session and its user; ErrNotFound when
	// absent or expired at now, ErrUserDisabled when the user is disabled.
	GetSession(ctx context.Context, idHash []byte, now time.Time) (*Session, *User, error)
	// DeleteSession ends a session and revokes the grants issued under it.
	DeleteSession(ctx context.Context, idHash []byte, now time.Time) error

	// Upstream login states. ClaimLoginState marks a state (the hash of its
	// nonce) used until expiresAt, ErrConflict when it was claimed before:
	// one state drives one code exchange with the upstream.
	// ReleaseLoginState gives it back (the upstream was unreachable, so the
	// person may retry); a released or absent state is no error.
	ClaimLoginState(ctx context.Context, hash []byte, expiresAt time.Time) error
	ReleaseLoginState(ctx context.Context, hash []byte) error

	// Grants. CreateGrant redeems an authorization code: it fails with
	// ErrConflict when CodeHash was redeemed before, ErrUserDisabled when the
	// user is disabled, ErrRevoked when SessionID is set and names no session
	// live at CreatedAt (the person logged out before the app redeemed the
	// code); on success it returns the user (for claims). The checks and the
	// insert are one statement or one transaction.
	CreateGrant(ctx context.Context, g *Grant) (*User, error)
	// RevokeGrantByCode revokes the grant an authorization code produced
	// (code reuse). ErrNotFound if the code was never redeemed.
	RevokeGrantByCode(ctx context.Context, codeHash []byte, now time.Time) error
	// GetGrant returns a grant with its user. Revoked grants are returned
	// with RevokedAt set; expired ones are ErrNotFound.
	GetGrant(ctx context.Context, id string, now time.Time) (*Grant, *User, error)
	// GetGrantByRefreshID finds a refresh family (expired: ErrNotFound).
	GetGrantByRefreshID(ctx context.Context, refreshID string, now time.Time) (*Grant, *User, error)
	// RotateRefresh moves the family from r.FromGeneration to the next one if
	// and only if the grant is live, not revoked, at that generation and its
	// current hash equals r.FromHash. Otherwise ErrConflict (someone else
	// rotated first), ErrRevoked, ErrUserDisabled or ErrNotFound.
	RotateRefresh(ctx context.Context, r Rotation) (*Grant, error)
	// RevokeGrant revokes one grant (revocation endpoint, reuse detection).
	RevokeGrant(ctx context.Context, id string, now time.Time) error

	// Signing keys: read the set, or replace it if the version still matches
	// (ErrConflict otherwise; the winner's set is then current).
	GetKeySet(ctx context.Context) (*KeySet, error)
	SwapKeySet(ctx context.Context, expectedVersion int64, keys []SigningKey) (*KeySet, error)

	// Audit log. ListAudit orders by Time, ListAuditFiltered by ID (append
	// order), both newest first.
	AppendAudit(ctx context.Context, e *AuditEvent) error
	ListAudit(ctx context.Context, limit int) ([]AuditEvent, error)
	ListAuditFiltered(ctx context.Context, f AuditFilter) ([]AuditEvent, error)

	// Sign-in log. AppendSignIns writes a batch in one statement (nothing
	// for an empty batch; nothing at all when an event lacks Time or
	// Result) and does not set the events' IDs. ListSignIns returns the
	// events narrowed by f, newest (highest ID) first. DeleteSignInsBefore
	// removes the events older than t (retention) and returns how many went.
	AppendSignIns(ctx context.Context, events []SignInEvent) error
	ListSignIns(ctx context.Context, f SignInFilter) ([]SignInEvent, error)
	DeleteSignInsBefore(ctx context.Context, t time.Time) (int64, error)

	// Admin API tokens. CreateAdminToken fails with ErrConflict when the id
	// or the hash exists. GetAdminTokenByHash returns the token usable at
	// now: ErrNotFound when absent, expired or revoked. ListAdminTokens
	// returns every token kept (revoked and expired ones too), newest first.
	// RevokeAdminToken keeps a first revocation time (ErrNotFound if
	// absent). TouchAdminToken moves LastUsedAt on to at (never back);
	// ErrNotFound if absent.
	CreateAdminToken(ctx context.Context, t *AdminToken) error
	GetAdminTokenByHash(ctx context.Context, hash []byte, now time.Time) (*AdminToken, error)
	ListAdminTokens(ctx context.Context) ([]AdminToken, error)
	RevokeAdminToken(ctx context.Context, id string, now time.Time) error
	TouchAdminToken(ctx context.Context, id string, at time.Time) error

	// DeleteExpired removes sessions, grants, login states and retired keys that ended
	// before now (grants revoked longer than a day ago too) and admin tokens
	// expired or revoked more than AdminTokenRetention ago, and returns how
	// many rows went. The sign-in log has its own retention
	// (DeleteSignInsBefore).
	DeleteExpired(ctx context.Context, now time.Time) (int64, error)

	// Ping checks the database (readiness). Close releases it.
	Ping(ctx context.Context) error
	Close() error
}

// Stats counts what a backend sent to its database since it was opened:
// statements executed (queries included) and rows written (inserted,
// updated or deleted). Tests use it to hold the per-login budget.
type Stats struct {
	Statements int64
	RowWrites  int64
}

// StatsReporter is implemented by backends that count their work.
type StatsReporter interface {
	Stats() Stats
}

// MigrationState is one migration as the CLI's `migrate status` shows it.
type MigrationState struct {
	Version   int64
	Source    string // file name
	Applied   bool
	AppliedAt time.Time
}

// Migrator is implemented by backends with schema migrations.
type Migrator interface {
	MigrateUp(ctx context.Context) error
	MigrationStatus(ctx context.Context) ([]MigrationState, error)
}
