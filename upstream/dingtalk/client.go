package dingtalk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dingoidc/dingoidc/upstream"
)

// call is one request to DingTalk.
type call struct {
	method string      // GET or POST
	url    string      // without secrets in the path; the query may hold the app token
	header http.Header // extra headers
	body   any         // JSON body, or nil
	// secrets are the values sent with the request that an upstream
	// message must never repeat into an error or log.
	secrets []string
}

// do sends c and returns the status and body (at most maxBody bytes).
// Transport errors name the host and path, never the query (which may
// hold the app token), and wrap context errors.
func (p *Provider) do(ctx context.Context, c call) (int, []byte, error) {
	where := c.method + " " + redactURL(c.url)
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	var body io.Reader
	if c.body != nil {
		b, err := json.Marshal(c.body)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: encode request: %w", where, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, body)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, fmt.Errorf("%s: %w", where, err)
	}
	req.Header.Set("Accept", "application/json")
	if c.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the whole URL
		}
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			if ctxErr := ctx.Err(); ctxErr != nil {
				err = ctxErr
			}
			return 0, nil, fmt.Errorf("%s: no answer within %s: %w", where, p.cfg.Timeout, err)
		}
		return 0, nil, fmt.Errorf("%s: %w", where, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return 0, nil, fmt.Errorf("%s: read answer: %w", where, err)
	}
	if len(b) > maxBody {
		return 0, nil, fmt.Errorf("%s: %w: answer larger than %d bytes", where, errShape, maxBody)
	}
	return resp.StatusCode, b, nil
}

// redactURL drops the query (the app token) from u for messages.
func redactURL(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}

// callAPI makes a call to api.dingtalk.com and decodes a 2xx answer into
// out. A 4xx/5xx answer is an *APIError; the error is not yet classified.
func (p *Provider) callAPI(ctx context.Context, c call, out any) error {
	body, err := p.callAPIRaw(ctx, c)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s %s: %w", c.method, redactURL(c.url), shapeError(err))
	}
	return nil
}

// callAPIRaw makes a call to api.dingtalk.com and returns a 2xx answer's
// body. A 4xx/5xx answer is an *APIError.
// A throttled call is made once more after a short pause.
func (p *Provider) callAPIRaw(ctx context.Context, c call) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		status, body, err := p.do(ctx, c)
		if err != nil {
			return nil, err
		}
		if status >= 200 && status <= 299 {
			return body, nil
		}
		e := parseAPIError(status, body)
		e.Message = scrub(e.Message, c.secrets)
		e.Code = scrub(e.Code, c.secrets)
		if attempt == 0 && e.throttled() && p.pauseThrottled(ctx, c.method+" "+redactURL(c.url), e.Code) {
			continue
		}
		return nil, e
	}
}

// throttlePause is how long a throttled call waits before its one retry,
// plus up to as much again at random (so that waiting callers do not all
// come back at once).
const throttlePause = 300 * time.Millisecond

// pauseThrottled logs that DingTalk throttled the call and waits before
// its retry; false when ctx ends first.
func (p *Provider) pauseThrottled(ctx context.Context, where, code string) bool {
	p.log.WarnContext(ctx, "dingtalk is throttling calls (rate limit); retrying once", "call", where, "upstream_code", code)
	t := time.NewTimer(throttlePause + rand.N(throttlePause))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// postOAPI posts body to path on oapi.dingtalk.com with the app token and
// decodes the result into out. An error answer is an *OAPIError.
func (p *Provider) postOAPI(ctx context.Context, path, token string, body, out any) error {
	c := call{
		method:  http.MethodPost,
		url:     p.cfg.OAPIHost + path + "?access_token=" + url.QueryEscape(token),
		body:    body,
		secrets: []string{token},
	}
	status, b, err := p.do(ctx, c)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("POST %s: %w: HTTP %d", redactURL(c.url), errShape, status)
	}
	err = parseOAPI(b, out)
	var oe *OAPIError
	if errors.As(err, &oe) {
		oe.ErrMsg, oe.SubMsg = scrub(oe.ErrMsg, c.secrets), scrub(oe.SubMsg, c.secrets)
		oe.Path = path
	}
	return err
}

// callOAPI posts body to path on oapi.dingtalk.com with the app token and
// decodes the result into out. When DingTalk refuses the token, the token
// is refreshed once and the call retried; when DingTalk throttles it, it
// is retried once after a short pause. Errors are classified except
// *OAPIError answers, which the caller judges (the same code means
// different things to different calls) with oapiFailure.
func (p *Provider) callOAPI(ctx context.Context, path string, body, out any) error {
	retriedToken, retriedThrottled := false, false
	for {
		token, err := p.tokens.get(ctx)
		if err != nil {
			return err
		}
		err = p.postOAPI(ctx, path, token, body, out)
		var oe *OAPIError
		switch {
		case !errors.As(err, &oe):
		case !retriedToken && oe.tokenInvalid():
			p.log.WarnContext(ctx, "dingtalk refused the app token; getting a new one",
				"errcode", oe.ErrCode, "sub_code", oe.SubCode)
			p.tokens.invalidate(token)
			retriedToken = true
			continue
		case !retriedThrottled && oe.throttled():
			retriedThrottled = true
			if p.pauseThrottled(ctx, "POST "+path, strconv.Itoa(oe.ErrCode)) {
				continue
			}
		}
		return err
	}
}

// apiFailure classifies an error of a call to api.dingtalk.com. perm is
// the app permission the call needs, named when DingTalk does not say.
func (p *Provider) apiFailure(op, perm string, err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("%s: %w: %w", op, upstream.ErrUnavailable, err)
	}
	switch {
	case badClient(ae):
		return fmt.Errorf("%s: %w: DingTalk rejected client_id %q and its client_secret (check both in the upstream config): %w [%w]",
			op, upstream.ErrUnavailable, p.cfg.ClientID, ae, upstream.ErrMisconfigured)
	case ae.throttled():
		return fmt.Errorf("%s: %w: DingTalk is throttling app %s (over its rate limit, even after a retry): %w",
			op, upstream.ErrUnavailable, p.cfg.ClientID, ae)
	case ae.Status == http.StatusForbidden || len(ae.RequiredScopes) > 0:
		if len(ae.RequiredScopes) > 0 {
			perm = strings.Join(ae.RequiredScopes, ", ")
		}
		if perm == "" {
			perm = "for " + op
		}
		return fmt.Errorf("%s: %w: app lacks permission %s (grant it to app %s in the DingTalk developer console): %w [%w]",
			op, upstream.ErrUnavailable, perm, p.cfg.ClientID, ae, upstream.ErrMisconfigured)
	case ae.Status >= 500:
		return fmt.Errorf("%s: %w: DingTalk server error: %w", op, upstream.ErrUnavailable, ae)
	}
	return fmt.Errorf("%s: %w: %w", op, upstream.ErrUnavailable, ae)
}

// badClient reports an answer refusing the app's credentials.
func badClient(ae *APIError) bool {
	c := strings.ToLower(ae.Code)
	return strings.Contains(c, "invalidclientidorsecret") || strings.Contains(c, "invalidclient") ||
		strings.Contains(c, "appkey") || strings.Contains(c, "appsecret")
}

// codeRefused reports an answer of the token call refusing the auth code
// (expired, used, or not this app's). DingTalk does not document the code
// for it; the real service and the simulator say 400
// invalidParameter.authCode.notFound "不合法的临时授权码" (docs/upstreams.md §2, Errors).
func codeRefused(ae *APIError) bool {
	if ae.Status < 400 || ae.Status > 499 || ae.Status == http.StatusUnauthorized ||
		ae.Status == http.StatusForbidden || ae.Status == http.StatusTooManyRequests || badClient(ae) {
		return false
	}
	c, m := strings.ToLower(ae.Code), strings.ToLower(ae.Message)
	return strings.Contains(c, "code") || strings.Contains(c, "invalid_grant") ||
		strings.Contains(m, "authcode") || strings.Contains(m, "auth code") || strings.Contains(m, "授权码")
}

// oapiFailure classifies an error of a call to oapi.dingtalk.com.
func (p *Provider) oapiFailure(op string, err error) error {
	var oe *OAPIError
	if !errors.As(err, &oe) {
		if errors.Is(err, upstream.ErrUnavailable) { // the app token call, classified
			return fmt.Errorf("%s: %w", op, err)
		}
		return fmt.Errorf("%s: %w: %w", op, upstream.ErrUnavailable, err)
	}
	switch code := oe.code(); {
	case code == oapiBadAppKey:
		return fmt.Errorf("%s: %w: DingTalk rejected client_id %q and its client_secret (check both in the upstream config): %w [%w]",
			op, upstream.ErrUnavailable, p.cfg.ClientID, oe, upstream.ErrMisconfigured)
	case code == oapiNoPermission && oapiPermissions[oe.Path] != "":
		return fmt.Errorf("%s: %w: app lacks the permission for %s, %s (grant it to app %s in the DingTalk developer console): %w [%w]",
			op, upstream.ErrUnavailable, op, oapiPermissions[oe.Path], p.cfg.ClientID, oe, upstream.ErrMisconfigured)
	case code == oapiNoPermission:
		return fmt.Errorf("%s: %w: app lacks the permission for %s (grant it to app %s in the DingTalk developer console): %w [%w]",
			op, upstream.ErrUnavailable, op, p.cfg.ClientID, oe, upstream.ErrMisconfigured)
	case oe.throttled():
		return fmt.Errorf("%s: %w: DingTalk is throttling app %s (over its rate limit, even after a retry): %w",
			op, upstream.ErrUnavailable, p.cfg.ClientID, oe)
	case code == oapiIPNotAllowed:
		return fmt.Errorf("%s: %w: this server's IP address is not in app %s's IP allow-list: %w [%w]",
			op, upstream.ErrUnavailable, p.cfg.ClientID, oe, upstream.ErrMisconfigured)
	case oe.tokenInvalid():
		return fmt.Errorf("%s: %w: DingTalk refused a fresh app token: %w", op, upstream.ErrUnavailable, oe)
	}
	return fmt.Errorf("%s: %w: %w", op, upstream.ErrUnavailable, oe)
}

// scrub replaces any of secrets found in s (an upstream message) with
// "[redacted]".
func scrub(s string, secrets []string) string {
	for _, x := range secrets {
		if len(x) >= 4 {
			s = strings.ReplaceAll(s, x, "[redacted]")
		}
	}
	return s
}
