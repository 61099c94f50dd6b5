// Package storage holds dingoidc's domain types, the Store interface every
// backend implements, and the sentinel errors backends translate their driver
// errors into. It knows nothing of OpenID Connect libraries.
//
// State that is only in flight (an authorization request on its way through
// the upstream login) is not stored here: it travels in encrypted, expiring
// values (see package idp). What must be durable is: clients, users, SSO
// sessions, grants (one row per authorization code redemption, carrying the
// refresh-token family), signing keys, the audit log, the sign-in log and
// the admin API tokens (hashed). Single use of the
// upstream login state and of authorization codes is enforced by unique
// hashes on the session and grant rows.
package storage
