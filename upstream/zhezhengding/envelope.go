package zhezhengding

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Codes the gateway answers in content.responseCode.
const (
	// CodeOK is success.
	CodeOK = "0"
	// CodeInvalidCode: the scan or in-app code expired, is unknown or was
	// used already.
	CodeInvalidCode = "240111"
	// CodeInvalidToken: the app access token expired or is unknown.
	CodeInvalidToken = "240133"
	// CodeTokenNotCorrect: "accessToken not correct", the gateway's other
	// answer to a stale app token (docs/upstreams.md §1, More about the
	// person): treated like CodeInvalidToken.
	CodeTokenNotCorrect = "250027"
)

// APIError is a business failure: the gateway accepted the call and the
// API refused it (content.success false or content.responseCode not "0").
type APIError struct {
	Code      string // content.responseCode (or bizErrorCode), e.g. "240111"
	Message   string // content.responseMessage, e.g. "code失效或不存在"
	RequestID string // content.requestId
}

func (e *APIError) Error() string {
	s := "api error " + e.Code
	if e.Message != "" {
		s += " " + e.Message
	}
	if e.RequestID != "" {
		s += " (request id " + e.RequestID + ")"
	}
	return s
}

// GatewayError is a failure of the gateway itself (bad signature, unknown
// apiKey, clock skew…): an answer without content.
type GatewayError struct {
	Code      string // Code or errorCode or bizErrorCode, e.g. "OPF-B001-05-16-0009"
	Message   string // Message or errorMsg, e.g. "SignatureDoesNotMatch"
	RequestID string // _RequestId
}

func (e *GatewayError) Error() string {
	s := "gateway"
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += " " + e.Message
	}
	if e.RequestID != "" {
		s += " (request id " + e.RequestID + ")"
	}
	return s
}

// ErrUnexpectedAnswer is an answer of a shape the client does not know.
var ErrUnexpectedAnswer = errors.New("unexpected answer")

// errNoData is a success without data: an unexpected answer, except from
// a lookup of something that does not exist (getEmployeeByCode).
var errNoData = errors.New("success without data")

func unexpected(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnexpectedAnswer, fmt.Sprintf(format, args...))
}

// text is a JSON string, number, boolean or null read as a string: the
// gateway is not consistent about the types of its codes.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*t = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = text(s)
	case b[0] == '{' || b[0] == '[':
		*t = "" // not a scalar: ignored rather than failing the whole answer
	default:
		*t = text(b)
	}
	return nil
}

// flag is a JSON boolean; anything else (missing, null, strings) is false.
type flag bool

func (f *flag) UnmarshalJSON(b []byte) error {
	*f = string(bytes.TrimSpace(b)) == "true"
	return nil
}

// envelope is the answer of every API: the outer layer, with either
// content (the API's answer) or the gateway's error fields.
type envelope struct {
	Success      flag            `json:"success"`
	Content      json.RawMessage `json:"content"`
	BizErrorCode text            `json:"bizErrorCode"`
	Code         text            `json:"Code"`
	Message      text            `json:"Message"`
	ErrorCode    text            `json:"errorCode"`
	ErrorMsg     text            `json:"errorMsg"`
	RequestID    text            `json:"_RequestId"`
}

type content struct {
	Success         flag            `json:"success"`
	Data            json.RawMessage `json:"data"`
	RequestID       text            `json:"requestId"`
	ResponseMessage text            `json:"responseMessage"`
	ResponseCode    text            `json:"responseCode"`
	BizErrorCode    text            `json:"bizErrorCode"`
}

// ParseEnvelope reads an API answer. It returns content.data when the
// outer success, content.success are true and content.responseCode is
// "0"; an *APIError for a business failure; a *GatewayError for a gateway
// failure; an error wrapping ErrUnexpectedAnswer for anything else. Errors
// never quote the body.
func ParseEnvelope(body []byte) (json.RawMessage, error) {
	return parseEnvelope(body, nil)
}

// parseEnvelope is ParseEnvelope with redact applied to every upstream
// string that goes into an error, before it is clipped.
func parseEnvelope(body []byte, redact func(string) string) (json.RawMessage, error) {
	clip := func(s string) string {
		if redact != nil {
			s = redact(s)
		}
		return clipText(s)
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, unexpected("not a JSON object (%d bytes)", len(body))
	}
	if isNull(env.Content) {
		ge := &GatewayError{
			Code:      clip(first(env.Code, env.ErrorCode, env.BizErrorCode)),
			Message:   clip(first(env.Message, env.ErrorMsg)),
			RequestID: clip(string(env.RequestID)),
		}
		if ge.Code == "" && ge.Message == "" {
			if env.Success {
				return nil, unexpected("success without content")
			}
			return nil, unexpected("failure without content or error code")
		}
		return nil, ge
	}
	var c content
	if err := json.Unmarshal(env.Content, &c); err != nil {
		return nil, unexpected("content is not an object")
	}
	code := first(c.ResponseCode, c.BizErrorCode)
	if !c.Success || code != CodeOK {
		if code == "" && c.ResponseMessage == "" {
			return nil, unexpected("failure without error code")
		}
		return nil, &APIError{
			Code:      clip(code),
			Message:   clip(string(c.ResponseMessage)),
			RequestID: clip(string(c.RequestID)),
		}
	}
	if !env.Success {
		ge := &GatewayError{
			Code:      clip(first(env.Code, env.ErrorCode, env.BizErrorCode)),
			Message:   clip(first(env.Message, env.ErrorMsg)),
			RequestID: clip(first(env.RequestID, c.RequestID)),
		}
		if ge.Code == "" && ge.Message == "" {
			return nil, unexpected("outer failure with a successful content")
		}
		return nil, ge
	}
	if isNull(c.Data) {
		return nil, fmt.Errorf("%w: %w", ErrUnexpectedAnswer, errNoData)
	}
	return c.Data, nil
}

func isNull(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || string(b) == "null"
}

func first(ts ...text) string {
	for _, t := range ts {
		if s := strings.TrimSpace(string(t)); s != "" {
			return s
		}
	}
	return ""
}

// clipText bounds an upstream string before it goes into an error or a log
// line: valid UTF-8, no control characters, at most 200 bytes.
func clipText(s string) string {
	s = strings.ToValidUTF8(s, "?")
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	const max = 200
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
