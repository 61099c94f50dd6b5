package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// MasterKeySize is the length of the master key in bytes.
const MasterKeySize = 32

// sealLabel is the HKDF label of the key that seals private signing keys.
const sealLabel = "signing-keys"

// ErrOpen is returned by Sealer.Open when a sealed value does not
// authenticate: it was sealed under another master key or with other
// additional data, or it was altered.
var ErrOpen = errors.New("open sealed value: message authentication failed")

// ParseMasterKey decodes a master key: 32 bytes written as base64 (standard
// or URL alphabet, padded or not) or as 64 hexadecimal characters. Leading
// and trailing white space is ignored, so the key may come from a file.
// Errors never repeat the input.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("parse master key: empty")
	}
	if len(s) == 2*MasterKeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding,
		base64.URLEncoding, base64.RawURLEncoding,
	} {
		b, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(b) != MasterKeySize {
			return nil, fmt.Errorf("parse master key: decodes to %d bytes, want %d", len(b), MasterKeySize)
		}
		return b, nil
	}
	return nil, fmt.Errorf("parse master key: want %d bytes as base64 or %d hex characters (%d characters given)",
		MasterKeySize, 2*MasterKeySize, len(s))
}

// GenerateMasterKey returns a new random master key as unpadded base64url,
// the form dev mode writes into its data directory.
func GenerateMasterKey() string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(MasterKeySize))
}

// Derive returns the 32-byte subkey of master for label: HKDF-SHA256 with
// no salt and the label as info. Each use of the master key has its own
// label ("signing-keys", "op-crypto", "cookie", "refresh"…), so no two uses
// share a key.
func Derive(master []byte, label string) [32]byte {
	b, err := hkdf.Key(sha256.New, master, nil, label, 32)
	if err != nil {
		// Only possible for output lengths beyond 255*32 bytes.
		panic("keys: hkdf: " + err.Error())
	}
	return [32]byte(b)
}

// Sealer encrypts values under a key derived from the master key
// (AES-256-GCM, label "signing-keys"). It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for a 32-byte master key.
func NewSealer(master []byte) (*Sealer, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("new sealer: master key is %d bytes, want %d", len(master), MasterKeySize)
	}
	key := Derive(master, sealLabel)
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("new sealer: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("new sealer: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts and authenticates plaintext, binding it to additionalData
// (which is authenticated, not stored). The result is a random 12-byte
// nonce followed by the ciphertext and tag.
func (s *Sealer) Seal(plaintext, additionalData []byte) []byte {
	nonce := randomBytes(s.aead.NonceSize())
	out := make([]byte, len(nonce), len(nonce)+len(plaintext)+s.aead.Overhead())
	copy(out, nonce)
	return s.aead.Seal(out, nonce, plaintext, additionalData)
}

// Open reverses Seal. It fails with ErrOpen unless sealed was produced by
// Seal under the same master key with the same additionalData.
func (s *Sealer) Open(sealed, additionalData []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, ErrOpen
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], additionalData)
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

// randomBytes returns n bytes from crypto/rand, which never fails (it
// crashes the program rather than return short).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}
