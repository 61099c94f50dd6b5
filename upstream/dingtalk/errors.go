package dingtalk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// APIError is an error answer of the new API (api.dingtalk.com): an HTTP
// 4xx/5xx status with {"code","requestid","message"} and, for a missing
// app permission, "accessdenieddetail":{"requiredScopes":[…]}.
type APIError struct {
	Status         int      // HTTP status
	Code           string   // e.g. "invalidClientIdOrSecret"
	Message        string   // DingTalk's message, cleaned and shortened
	RequestID      string   // DingTalk's request id, for their support
	RequiredScopes []string // the app permissions the call needs
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if len(e.RequiredScopes) > 0 {
		b.WriteString(" (requires " + strings.Join(e.RequiredScopes, ", ") + ")")
	}
	if e.RequestID != "" {
		b.WriteString(" [requestid " + e.RequestID + "]")
	}
	return b.String()
}

// OAPIError is an error answer of the old API (oapi.dingtalk.com): HTTP
// 200 with a non-zero {"errcode"}, and for errcode 88 a sub_code/sub_msg.
type OAPIError struct {
	ErrCode int
	ErrMsg  string
	SubCode string
	SubMsg  string
	// Path is the call's path (/topapi/user/getbyunionid…), to name the
	// permission it lacks.
	Path string
}

func (e *OAPIError) Error() string {
	s := "errcode " + strconv.Itoa(e.ErrCode)
	if e.ErrMsg != "" {
		s += ": " + e.ErrMsg
	}
	if e.SubCode != "" || e.SubMsg != "" {
		s += " (sub_code " + e.SubCode
		if e.SubMsg != "" {
			s += ": " + e.SubMsg
		}
		s += ")"
	}
	return s
}

// code is the error's effective code: the sub_code when errcode is the
// generic 88 and the sub_code is numeric, else errcode.
func (e *OAPIError) code() int {
	if e.ErrCode == 88 {
		if n, err := strconv.Atoi(e.SubCode); err == nil {
			return n
		}
	}
	return e.ErrCode
}

// Codes of the old API that dingoidc acts on.
const (
	oapiNotMember      = 60121 // not in the organisation (also: no such user)
	oapiBadAppKey      = 40096 // bad app key or secret
	oapiNoPermission   = 60011 // the app lacks the permission for this call
	oapiIPNotAllowed   = 60020 // the server's IP is not in the app's allow-list
	oapiDeptNotFound   = 60003 // department does not exist
	oapiDeptNotFound2  = 60123 // department does not exist (v2)
	oapiBadAccessToken = 40014 // invalid access_token
	oapiBadCredential  = 40001 // invalid credential / access_token
	oapiExpiredToken   = 42001 // access_token expired
	oapiMissingToken   = 41001 // access_token missing
	oapiThrottled      = 90002 // over the rate limit
)

// oapiPermissions names the app permission an oapi call needs, where
// DingTalk's answer (88 / 60011) does not (docs/upstreams.md §2, Errors).
var oapiPermissions = map[string]string{
	"/topapi/user/getbyunionid": "qyapi_get_member",
}

// throttled reports DingTalk's rate limit (errcode 90002).
func (e *OAPIError) throttled() bool { return e.code() == oapiThrottled }

// throttled reports DingTalk's rate limit on api.dingtalk.com: HTTP 403
// Forbidden.AccessDenied.QpsLimitForApi or …QpsLimitForAppkeyAndApi (or
// a 429), which is no permission problem.
func (e *APIError) throttled() bool {
	return e.Status == http.StatusTooManyRequests ||
		e.Status == http.StatusForbidden && strings.Contains(strings.ToLower(e.Code), "qpslimit")
}

// tokenInvalid reports whether the app token was refused: worth one
// refresh and retry.
func (e *OAPIError) tokenInvalid() bool {
	switch e.code() {
	case oapiBadAccessToken, oapiBadCredential, oapiExpiredToken, oapiMissingToken:
		return true
	}
	return false
}

// maxBody is the most of a response that is read.
const maxBody = 1 << 20

// errShape is an answer that is not what DingTalk documents.
var errShape = errors.New("unexpected response")

// shapeError says what was wrong with an answer, never showing it.
func shapeError(err error) error {
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return fmt.Errorf("%w: field %s has the wrong type", errShape, clean(te.Field))
	case errors.As(err, &te):
		return fmt.Errorf("%w: wrong JSON type", errShape)
	}
	return fmt.Errorf("%w: not JSON", errShape)
}

// parseAPIError reads an error answer of api.dingtalk.com. It never fails:
// a body it cannot read gives an APIError with just the status.
func parseAPIError(status int, body []byte) *APIError {
	var w struct {
		Code      flexString `json:"code"`
		RequestID flexString `json:"requestid"`
		Message   flexString `json:"message"`
		Detail    *struct {
			RequiredScopes []flexString `json:"requiredScopes"`
		} `json:"accessdenieddetail"`
	}
	_ = json.Unmarshal(body, &w) // what could be read is used
	e := &APIError{
		Status:    status,
		Code:      clean(string(w.Code)),
		Message:   clean(string(w.Message)),
		RequestID: clean(string(w.RequestID)),
	}
	if w.Detail != nil {
		for _, s := range w.Detail.RequiredScopes {
			if s := clean(string(s)); s != "" && len(e.RequiredScopes) < 10 {
				e.RequiredScopes = append(e.RequiredScopes, s)
			}
		}
	}
	return e
}

// parseOAPI reads an answer of oapi.dingtalk.com: an *OAPIError for a
// non-zero errcode, else the "result" member decoded into result (when not
// nil). Anything else is an errShape error.
func parseOAPI(body []byte, result any) error {
	var env struct {
		ErrCode *flexInt        `json:"errcode"`
		ErrMsg  flexString      `json:"errmsg"`
		SubCode flexString      `json:"sub_code"`
		SubMsg  flexString      `json:"sub_msg"`
		Result  json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return shapeError(err)
	}
	if env.ErrCode == nil {
		return fmt.Errorf("%w: no errcode", errShape)
	}
	if *env.ErrCode != 0 {
		return &OAPIError{
			ErrCode: int(*env.ErrCode),
			ErrMsg:  clean(string(env.ErrMsg)),
			SubCode: clean(string(env.SubCode)),
			SubMsg:  clean(string(env.SubMsg)),
		}
	}
	if result == nil {
		return nil
	}
	if r := bytes.TrimSpace(env.Result); len(r) == 0 || r[0] != '{' {
		return fmt.Errorf("%w: no result object", errShape)
	}
	if err := json.Unmarshal(env.Result, result); err != nil {
		return shapeError(err)
	}
	return nil
}

// me is the person of /v1.0/contact/users/me.
type me struct {
	Nick      flexString `json:"nick"`
	AvatarURL flexString `json:"avatarUrl"`
	Mobile    flexString `json:"mobile"`
	OpenID    flexString `json:"openId"`
	UnionID   flexString `json:"unionId"`
	Email     flexString `json:"email"`
	StateCode flexString `json:"stateCode"`
}

// parseUser reads the answer of /v1.0/contact/users/me. A person without a
// unionId is an errShape error: it is the stable key.
func parseUser(body []byte) (*me, error) {
	var m me
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, shapeError(err)
	}
	if m.UnionID = flexString(strings.TrimSpace(string(m.UnionID))); m.UnionID == "" {
		return nil, fmt.Errorf("%w: no unionId", errShape)
	}
	if !utf8.ValidString(string(m.UnionID)) || len(m.UnionID) > 256 || hasSpaceOrControl(string(m.UnionID)) {
		return nil, fmt.Errorf("%w: malformed unionId", errShape)
	}
	return &m, nil
}

// flexString decodes a JSON string, or a number or boolean as its text
// (DingTalk is not always consistent about ids); null is "".
type flexString string

func (s *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString(v)
		return nil
	case string(b) == "true" || string(b) == "false":
		*s = flexString(b)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*s = flexString(n.String())
	return nil
}

// flexInt decodes a JSON integer, or a string holding one; null is 0.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(strings.TrimSpace(s))
		if len(b) == 0 {
			return nil
		}
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "number", Type: reflect.TypeFor[flexInt]()}
	}
	*n = flexInt(v)
	return nil
}

// maxText is how much of an upstream message an error keeps.
const maxText = 200

// clean makes an upstream string safe for an error or log line: valid
// UTF-8, no control characters, at most maxText runes.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxText {
		s = string([]rune(s)[:maxText]) + "…"
	}
	return s
}
