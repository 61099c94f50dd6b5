// Package gwsig is the 浙政钉 gateway's HMAC request signing (docs/upstreams.md §1,
// Request signing), shared by the provider (upstream/zhezhengding) and the
// simulator (upstream/zzdsim), which must not import each other.
package gwsig

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Header names of the gateway's HMAC authentication. Every API call, the
// token call included, carries all of them but the optional IP and MAC.
const (
	HeaderAPIKey    = "apiKey"
	HeaderTimestamp = "X-Hmac-Auth-Timestamp"
	HeaderVersion   = "X-Hmac-Auth-Version"
	HeaderNonce     = "X-Hmac-Auth-Nonce"
	HeaderSignature = "X-Hmac-Auth-Signature"
	HeaderIP        = "X-Hmac-Auth-IP"  // optional, not signed
	HeaderMAC       = "X-Hmac-Auth-MAC" // optional, not signed

	// SignatureVersion is the value of HeaderVersion.
	SignatureVersion = "1.0"
	// TimestampLayout is the layout of HeaderTimestamp, in Asia/Shanghai.
	TimestampLayout = "2006-01-02T15:04:05.000+08:00"
)

// StringToSign returns the gateway's string to sign:
//
//	METHOD \n TIMESTAMP \n NONCE \n PATH [\n PARAMS]
//
// path is the URL path only (no host, no query). PARAMS are all request
// parameters (query for GET, form fields for POST) as raw, not URL-encoded,
// k=v pairs joined by "&" and sorted by key; empty values are dropped, a
// repeated key gives one pair per value with the values sorted. Without
// parameters the trailing "\n" and PARAMS are left out.
func StringToSign(method, timestamp, nonce, path string, params url.Values) string {
	var b strings.Builder
	b.WriteString(method)
	b.WriteByte('\n')
	b.WriteString(timestamp)
	b.WriteByte('\n')
	b.WriteString(nonce)
	b.WriteByte('\n')
	b.WriteString(path)
	if p := canonicalParams(params); p != "" {
		b.WriteByte('\n')
		b.WriteString(p)
	}
	return b.String()
}

// canonicalParams renders params as sorted raw k=v pairs joined by "&".
func canonicalParams(params url.Values) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		vs := make([]string, 0, len(params[k]))
		for _, v := range params[k] {
			if v != "" {
				vs = append(vs, v)
			}
		}
		slices.Sort(vs)
		for _, v := range vs {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(v)
		}
	}
	return b.String()
}

// Sign returns the value of HeaderSignature: the standard, padded Base64 of
// HMAC-SHA256 keyed with the AppSecret over StringToSign.
func Sign(secret, method, timestamp, nonce, path string, params url.Values) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(StringToSign(method, timestamp, nonce, path, params)))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

var (
	shanghaiOnce sync.Once
	shanghai     *time.Location
)

// Shanghai returns the Asia/Shanghai location, or a fixed +08:00 zone when
// the time zone database is missing (China has had no DST since 1991).
func Shanghai() *time.Location {
	shanghaiOnce.Do(func() {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			loc = time.FixedZone("CST", 8*60*60)
		}
		shanghai = loc
	})
	return shanghai
}

// Timestamp formats t for HeaderTimestamp:
// 2006-01-02T15:04:05.000+08:00 in Asia/Shanghai.
func Timestamp(t time.Time) string {
	return t.In(Shanghai()).Format(TimestampLayout)
}

// Nonce returns a value for HeaderNonce: the 13-digit Unix time of t in
// milliseconds followed by 4 random digits.
func Nonce(t time.Time) string {
	n, err := rand.Int(rand.Reader, big.NewInt(10000))
	if err != nil { // crypto/rand does not fail on supported platforms
		panic(err)
	}
	return fmt.Sprintf("%013d%04d", t.UnixMilli(), n.Int64())
}
