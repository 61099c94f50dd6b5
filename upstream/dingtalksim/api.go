package dingtalksim

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// apiError is api.dingtalk.com's error body (note the lower-case requestid).
type apiError struct {
	RequestID          string            `json:"requestid"`
	Code               string            `json:"code"`
	Message            string            `json:"message"`
	AccessDeniedDetail *accessDeniedInfo `json:"accessdenieddetail,omitempty"`
}

type accessDeniedInfo struct {
	RequiredScopes []string `json:"requiredScopes"`
}

// api wraps an api.dingtalk.com handler with the Delay and ServerError
// faults and the x-acs-request-id header.
func (d *Server) api(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !d.wait(r) {
			return
		}
		if _, _, serverError, _ := d.faultState(); serverError {
			apiErr(w, http.StatusInternalServerError, "unknownError", "未知错误")
			return
		}
		if d.throttled(apiHost) {
			apiErr(w, http.StatusForbidden, "Forbidden.AccessDenied.QpsLimitForApi", "调用该接口超过限流阈值")
			return
		}
		h(w, r)
	}
}

func apiErr(w http.ResponseWriter, status int, code, msg string) {
	apiErrBody(w, status, apiError{Code: code, Message: msg})
}

func apiErrBody(w http.ResponseWriter, status int, e apiError) {
	e.RequestID = requestID()
	w.Header().Set("x-acs-request-id", e.RequestID)
	writeJSON(w, status, e)
}

// decodeAPI reads a JSON body; false (and an answer sent) if it is not one.
func decodeAPI(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(v); err != nil {
		apiErr(w, http.StatusBadRequest, "InvalidParameter", "请求体不是合法的 JSON")
		return false
	}
	return true
}

// missing answers the gateway's error for the first empty mandatory
// parameter (name, value pairs); false if there is one.
func missing(w http.ResponseWriter, pairs ...string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			apiErr(w, http.StatusBadRequest, "Missing"+pairs[i], pairs[i]+" is mandatory for this action.")
			return false
		}
	}
	return true
}

// handleUserAccessToken: POST /v1.0/oauth2/userAccessToken.
func (d *Server) handleUserAccessToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
		Code         string `json:"code"`
		RefreshToken string `json:"refreshToken"`
		GrantType    string `json:"grantType"`
	}
	if !decodeAPI(w, r, &req) || !missing(w, "clientId", req.ClientID, "clientSecret", req.ClientSecret, "grantType", req.GrantType) {
		return
	}
	if _, ok := d.checkApp(req.ClientID, req.ClientSecret); !ok {
		apiErr(w, http.StatusBadRequest, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
		return
	}
	now := d.now()
	var g grant
	switch req.GrantType {
	case "authorization_code":
		expireCodes, _, _, _ := d.faultState()
		d.mu.Lock()
		g0, ok := d.codes.get(now, req.Code)
		ok = ok && !expireCodes && req.Code != "" && g0.appKey == req.ClientID
		if ok {
			d.codes.del(req.Code)
		}
		d.mu.Unlock()
		if !ok {
			apiErr(w, http.StatusBadRequest, "invalidParameter.authCode.notFound", "不合法的临时授权码")
			return
		}
		g = g0
	case "refresh_token":
		d.mu.Lock()
		g0, ok := d.refresh.get(now, req.RefreshToken)
		ok = ok && req.RefreshToken != "" && g0.appKey == req.ClientID
		if ok {
			d.refresh.del(req.RefreshToken)
		}
		d.mu.Unlock()
		if !ok {
			apiErr(w, http.StatusBadRequest, "invalidRefreshToken", "不合法的refreshToken")
			return
		}
		g = g0
	default:
		apiErr(w, http.StatusBadRequest, "invalidGrantType", "grantType 只支持 authorization_code 和 refresh_token")
		return
	}
	access, refresh := newToken(), newToken()
	d.mu.Lock()
	d.access.put(now, access, g, now.Add(d.tokenTTL))
	d.refresh.put(now, refresh, g, now.Add(d.refreshTTL))
	d.mu.Unlock()
	writeJSON(w, http.StatusOK, struct {
		AccessToken  string `json:"accessToken"`
		RefreshToken string `json:"refreshToken"`
		ExpireIn     int64  `json:"expireIn"`
		CorpID       string `json:"corpId,omitempty"`
	}{access, refresh, int64(d.tokenTTL.Seconds()), g.corpID})
}

// handleAppAccessToken: POST /v1.0/oauth2/accessToken.
func (d *Server) handleAppAccessToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		AppKey    string `json:"appKey"`
		AppSecret string `json:"appSecret"`
	}
	if !decodeAPI(w, r, &req) || !missing(w, "appKey", req.AppKey, "appSecret", req.AppSecret) {
		return
	}
	if _, ok := d.checkApp(req.AppKey, req.AppSecret); !ok {
		apiErr(w, http.StatusBadRequest, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		AccessToken string `json:"accessToken"`
		ExpireIn    int64  `json:"expireIn"`
	}{d.appToken(req.AppKey), int64(d.tokenTTL.Seconds())})
}

// handleUsersMe: GET /v1.0/contact/users/me.
func (d *Server) handleUsersMe(w http.ResponseWriter, r *http.Request) {
	token := r.Header.Get("x-acs-dingtalk-access-token")
	if token == "" {
		apiErr(w, http.StatusBadRequest, "AuthenticationFailed.MissingParameter", "缺少参数 x-acs-dingtalk-access-token")
		return
	}
	now := d.now()
	d.mu.Lock()
	g, ok := d.access.get(now, token)
	d.mu.Unlock()
	if !ok {
		apiErr(w, http.StatusBadRequest, "InvalidAuthentication", "不合法的access_token")
		return
	}
	app := d.apps[g.appKey]
	if !slices.Contains(app.Permissions, "Contact.User.Read") {
		apiErrBody(w, http.StatusForbidden, apiError{
			Code:               "Forbidden.AccessDenied.AccessTokenPermissionDenied",
			Message:            "没有调用该接口的权限，接口权限申请参考：https://open.dingtalk.com/document/orgapp-server/add-api-permission",
			AccessDeniedDetail: &accessDeniedInfo{RequiredScopes: []string{"Contact.User.Read"}},
		})
		return
	}
	p := d.union[g.unionID]
	me := struct {
		Nick      string `json:"nick"`
		AvatarURL string `json:"avatarUrl,omitempty"`
		Mobile    string `json:"mobile,omitempty"`
		OpenID    string `json:"openId"`
		UnionID   string `json:"unionId"`
		Email     string `json:"email,omitempty"`
		StateCode string `json:"stateCode,omitempty"`
	}{Nick: p.Nick, AvatarURL: p.AvatarURL, OpenID: p.OpenID, UnionID: p.UnionID, Email: p.Email}
	if slices.Contains(app.Permissions, "Contact.User.mobile") && p.Mobile != "" {
		me.Mobile, me.StateCode = p.Mobile, p.StateCode
	}
	writeJSON(w, http.StatusOK, me)
}

// requestID is an api.dingtalk.com request id: an upper-case UUID.
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]))
}
