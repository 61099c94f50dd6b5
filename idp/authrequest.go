package idp

import (
	"encoding/json"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// authRequest is an authorization request on its way through the login. It
// is never stored: its ID is the request itself, sealed (AES-256-GCM) with
// an expiry, so /authorize costs no database write. Once the person has
// logged in, a new sealed ID carries the result (subject, auth time, session
// and the browser it is bound to); op turns that ID into the authorization
// code by encrypting it again. Single use of the code is enforced when the
// code is redeemed (storage.Grant.CodeHash is unique).
type authRequest struct {
	Nonce           string   `json:"i"` // random, makes every sealed ID unique
	Created         int64    `json:"t"` // unix seconds
	ClientID        string   `json:"c"`
	Redirect        string   `json:"r"`
	Scopes          []string `json:"s"`
	State           string   `json:"st,omitempty"`
	OIDCNonce       string   `json:"n,omitempty"`
	RespType        string   `json:"rt"`
	RespMode        string   `json:"rm,omitempty"`
	Challenge       string   `json:"cc,omitempty"`
	ChallengeMethod string   `json:"ccm,omitempty"`
	Prompt          []string `json:"p,omitempty"`
	MaxAge          *uint    `json:"ma,omitempty"`
	HintSub         string   `json:"h,omitempty"` // subject of a valid id_token_hint
	Locales         []string `json:"ul,omitempty"`
	Legacy          bool     `json:"lg,omitempty"` // a legacy DingTalk SSO login (legacy.go)

	// Set once the person has logged in.
	Subject  string   `json:"sub,omitempty"`
	AuthTime int64    `json:"at,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	Session  []byte   `json:"ss,omitempty"` // SSO session id hash
	Browser  []byte   `json:"b,omitempty"`  // hash of the browser cookie it is bound to
	DoneAt   int64    `json:"d,omitempty"`

	// Not sealed: filled while serving one request.
	id           string // the sealed form
	codeHash     []byte // hash of the code it was found by
	claims       map[string]any
	refreshToken string
}

var _ op.AuthRequest = (*authRequest)(nil)

func newAuthRequest(r *oidc.AuthRequest, hintSub string, now time.Time) *authRequest {
	a := &authRequest{
		Nonce:     randomString(9),
		Created:   now.Unix(),
		ClientID:  r.ClientID,
		Redirect:  r.RedirectURI,
		Scopes:    r.Scopes,
		State:     r.State,
		OIDCNonce: r.Nonce,
		RespType:  string(r.ResponseType),
		RespMode:  string(r.ResponseMode),
		Prompt:    r.Prompt,
		MaxAge:    r.MaxAge,
		HintSub:   hintSub,
	}
	if r.CodeChallenge != "" {
		a.Challenge = r.CodeChallenge
		a.ChallengeMethod = string(r.CodeChallengeMethod)
	}
	for _, t := range r.UILocales {
		a.Locales = append(a.Locales, t.String())
	}
	return a
}

func (a *authRequest) GetID() string         { return a.id }
func (a *authRequest) GetACR() string        { return "" }
func (a *authRequest) GetAMR() []string      { return a.AMR }
func (a *authRequest) GetAudience() []string { return []string{a.ClientID} }
func (a *authRequest) GetAuthTime() time.Time {
	if a.AuthTime == 0 {
		return time.Time{}
	}
	return time.Unix(a.AuthTime, 0).UTC()
}
func (a *authRequest) GetClientID() string { return a.ClientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.Challenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.Challenge, Method: oidc.CodeChallengeMethod(a.ChallengeMethod)}
}
func (a *authRequest) GetNonce() string                   { return a.OIDCNonce }
func (a *authRequest) GetRedirectURI() string             { return a.Redirect }
func (a *authRequest) GetResponseType() oidc.ResponseType { return oidc.ResponseType(a.RespType) }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return oidc.ResponseMode(a.RespMode) }
func (a *authRequest) GetScopes() []string                { return a.Scopes }
func (a *authRequest) GetState() string                   { return a.State }
func (a *authRequest) GetSubject() string                 { return a.Subject }
func (a *authRequest) Done() bool                         { return a.DoneAt != 0 && a.Subject != "" }

// codePayload is the JSON the authorization code carries (op encrypts it):
// the completed request without what only the browser leg needed.
func (a *authRequest) codePayload() (string, error) {
	c := *a
	// Nonce stays: every code made from this completion shares its hash.
	c.Created, c.State, c.RespMode, c.Prompt, c.MaxAge = 0, "", "", nil, nil
	c.HintSub, c.Locales, c.Browser = "", nil, nil
	b, err := json.Marshal(&c)
	return string(b), err
}

func (a *authRequest) promptNone() bool {
	return len(a.Prompt) == 1 && a.Prompt[0] == oidc.PromptNone
}

// maxStateLen bounds state and nonce (Grafana's state is 44 characters).
const maxStateLen = 1024

// openAuthRequest opens a sealed auth request ID and checks its age.
func (s *Server) openAuthRequest(id string) (*authRequest, error) {
	a := new(authRequest)
	if err := s.seal.open(purposeAuthRequest, id, a); err != nil {
		return nil, oidc.ErrInvalidRequest().WithDescription("unknown or altered authorization request")
	}
	if err := s.checkAge(a); err != nil {
		return nil, err
	}
	a.id = id
	return a, nil
}

// checkAge refuses an expired authorization request: a pending one after
// LoginTTL; a completed one, handed to op at once, after CodeTTL (the
// lifetime of the code it yields).
func (s *Server) checkAge(a *authRequest) error {
	now := s.now()
	if a.Done() {
		if now.After(time.Unix(a.DoneAt, 0).Add(s.cfg.CodeTTL)) {
			return oidc.ErrInvalidRequest().WithDescription("authorization request expired")
		}
	} else if now.After(time.Unix(a.Created, 0).Add(s.cfg.LoginTTL)) {
		return oidc.ErrInvalidRequest().WithDescription("authorization request expired")
	}
	return nil
}
