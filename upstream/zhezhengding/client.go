package zhezhengding

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxBody bounds the answers read from the gateway.
const maxBody = 1 << 20

// client calls the gateway with one app's key pair: every request signed,
// bounded by the timeout, its answer parsed.
type client struct {
	hc      *http.Client
	base    string // API host, no trailing slash
	key     string
	secret  string
	timeout time.Duration
	offset  time.Duration // added to now for the signed timestamp
	now     func() time.Time
	nonces  *nonceSource
}

// call sends one signed request and returns content.data. GET params go in
// the query, POST params in a form body; the signed path is the API path
// (a path prefix of the API host is not signed). Errors say method and
// path, never parameter values or the body; upstream messages are
// scrubbed of the secret and the sensitive parameters (tokens, codes).
func (c *client) call(ctx context.Context, method, path string, params url.Values) (json.RawMessage, error) {
	data, err := c.do(ctx, method, path, params)
	if ge := (*GatewayError)(nil); errors.As(err, &ge) && ge.Code == codeNonceUsed {
		// Another process with this app_key (a replica) sent the same
		// nonce: our nonces are unique only within this process. The
		// gateway refused before doing anything (the scan code is not
		// spent), so once more with a fresh nonce (docs/upstreams.md §1.5).
		data, err = c.do(ctx, method, path, params)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return data, nil
}

func (c *client) do(ctx context.Context, method, path string, params url.Values) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	// Empty values are neither signed nor sent.
	sent := url.Values{}
	for k, vs := range params {
		for _, v := range vs {
			if v != "" {
				sent.Add(k, v)
			}
		}
	}
	target := c.base + path
	var body io.Reader
	if method == http.MethodGet {
		if len(sent) > 0 {
			target += "?" + sent.Encode()
		}
	} else {
		body = strings.NewReader(sent.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, errors.New("cannot build the request")
	}
	now := c.now().Add(c.offset)
	ts, nonce := Timestamp(now), c.nonces.next(now)
	req.Header.Set(HeaderAPIKey, c.key)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderVersion, SignatureVersion)
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set(HeaderSignature, Sign(c.secret, method, ts, nonce, path, sent))
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		// *url.Error quotes the URL, whose query may hold the app secret:
		// keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("request failed: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		// Not followed (New's client): the gateway never redirects an API
		// call; a proxy or a wrong api_host does.
		where := "elsewhere"
		if u, err := resp.Location(); err == nil {
			where = "to " + u.Scheme + "://" + u.Host
		}
		return nil, fmt.Errorf("http %d: %w", resp.StatusCode,
			unexpected("redirected %s; signed calls are never redirected (check api_host)", where))
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("http %d: read answer: %w", resp.StatusCode, err)
	}
	if len(raw) > maxBody {
		return nil, fmt.Errorf("http %d: %w", resp.StatusCode, unexpected("answer larger than %d bytes", maxBody))
	}
	data, err := parseEnvelope(raw, c.redactor(sent))
	var ge *GatewayError
	if errors.As(err, &ge) && signatureRefused(ge) {
		// The same answer for a wrong key pair and a clock the gateway
		// finds off: name both for the operator.
		err = fmt.Errorf("%w (the gateway refused the signature or its timestamp: check app_key and its secret, "+
			"and the clock: this call was stamped %s with clock_offset %s)", err, ts, c.offset)
	}
	if resp.StatusCode >= 300 {
		if err == nil {
			err = unexpected("success envelope with a failure status")
		}
		return nil, fmt.Errorf("http %d: %w", resp.StatusCode, err)
	}
	return data, err
}

// codeNonceUsed is the gateway's SignatureNonceUsed: a nonce it has seen.
const codeNonceUsed = "OPF-B001-05-16-0008"

// signatureRefused reports a gateway error about the signature or its
// timestamp (SignatureDoesNotMatch, OPF-B001-05-16-0009, InvalidTimeStamp…);
// a reused nonce (SignatureNonceUsed) is not the operator's to fix.
func signatureRefused(ge *GatewayError) bool {
	if ge.Code == codeNonceUsed {
		return false
	}
	s := strings.ToLower(ge.Code + " " + ge.Message)
	return ge.Code == "OPF-B001-05-16-0009" || strings.Contains(s, "signature") || strings.Contains(s, "timestamp")
}

// sensitiveParams are the parameters whose values never go into an error
// or a log line.
var sensitiveParams = []string{"appsecret", "access_token", "code", "auth_code"}

// redactor returns a function removing the secret and the sensitive values
// of params from upstream messages (a gateway may echo its string to sign).
func (c *client) redactor(params url.Values) func(string) string {
	secrets := []string{c.secret}
	for _, k := range sensitiveParams {
		for _, v := range params[k] {
			if v != "" {
				secrets = append(secrets, v)
			}
		}
	}
	return func(s string) string {
		for _, x := range secrets {
			if x != "" {
				s = strings.ReplaceAll(s, x, "[redacted]")
			}
		}
		return s
	}
}

// nonceSource makes nonces unique in this process: 13-digit milliseconds
// and 4 random digits never repeated within one millisecond (a clock that
// stands still or goes back keeps counting from the last millisecond).
type nonceSource struct {
	mu   sync.Mutex
	ms   int64
	used map[int]bool
}

func newNonceSource() *nonceSource { return &nonceSource{used: map[int]bool{}} }

func (n *nonceSource) next(t time.Time) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ms := t.UnixMilli(); ms > n.ms {
		n.ms = ms
		clear(n.used)
	}
	if len(n.used) >= 5000 { // keep the random draw quick
		n.ms++
		clear(n.used)
	}
	r := rand.IntN(10000)
	for n.used[r] {
		r = rand.IntN(10000)
	}
	n.used[r] = true
	return fmt.Sprintf("%013d%04d", n.ms, r)
}
