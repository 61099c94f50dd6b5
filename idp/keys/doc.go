// Package keys holds the master key and the provider's signing keys.
//
// The master key (32 bytes, from the environment or a file; dev mode
// generates one) is never used directly: Derive gives each use its own
// subkey by HKDF-SHA256 label. The label "signing-keys" keys the Sealer,
// AES-256-GCM, which encrypts every private signing key (PKCS#8 DER, with
// its kid as additional data) before it reaches storage.
//
// Manager keeps the set of RSA-2048 / RS256 signing keys in storage and in
// memory. Its schedule, all from one injectable clock:
//
//   - the signing key at time t is the key with the latest ActiveFrom ≤ t;
//   - the next key is added (and published in the JWKS) PublishAhead before
//     the current one has signed for RotationPeriod;
//   - a key that stopped signing gets RetireAt = the time its successor
//     took over + MaxTokenLifetime, so everything it signed still
//     verifies, and is removed from the set at RetireAt;
//   - the JWKS is every key whose RetireAt is zero or later than now.
//
// Every change is a compare-and-swap of the whole set against its
// version, so replicas may all run the schedule; the loser of a race
// re-reads the winner's set. Replicas converge through the database: each
// trusts its in-memory copy for CacheTTL, and one reload serves all
// concurrent callers.
//
// Files: manager.go is the lifecycle (NewManager, Ensure, Maintain, Rotate,
// Run, List) over the three-method Store; cache.go the in-memory snapshot,
// its reload and the decoding of keys; schedule.go the schedule as pure
// functions; options.go Options with its defaults and rules; sealer.go the
// master key and the Sealer.
package keys
