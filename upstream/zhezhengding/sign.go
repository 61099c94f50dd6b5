package zhezhengding

import (
	"net/url"
	"time"

	"github.com/dingoidc/dingoidc/upstream/zhezhengding/gwsig"
)

// The gateway's HMAC authentication, from package gwsig (shared with the
// simulator).
const (
	HeaderAPIKey     = gwsig.HeaderAPIKey
	HeaderTimestamp  = gwsig.HeaderTimestamp
	HeaderVersion    = gwsig.HeaderVersion
	HeaderNonce      = gwsig.HeaderNonce
	HeaderSignature  = gwsig.HeaderSignature
	HeaderIP         = gwsig.HeaderIP
	HeaderMAC        = gwsig.HeaderMAC
	SignatureVersion = gwsig.SignatureVersion
	TimestampLayout  = gwsig.TimestampLayout
)

// StringToSign is gwsig.StringToSign.
func StringToSign(method, timestamp, nonce, path string, params url.Values) string {
	return gwsig.StringToSign(method, timestamp, nonce, path, params)
}

// Sign is gwsig.Sign.
func Sign(secret, method, timestamp, nonce, path string, params url.Values) string {
	return gwsig.Sign(secret, method, timestamp, nonce, path, params)
}

// Shanghai is gwsig.Shanghai.
func Shanghai() *time.Location { return gwsig.Shanghai() }

// Timestamp is gwsig.Timestamp.
func Timestamp(t time.Time) string { return gwsig.Timestamp(t) }

// Nonce is gwsig.Nonce.
func Nonce(t time.Time) string { return gwsig.Nonce(t) }
