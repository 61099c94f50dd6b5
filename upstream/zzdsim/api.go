package zzdsim

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/dingoidc/dingoidc/upstream/zhezhengding/gwsig"
)

// apiCall is an authenticated API call.
type apiCall struct {
	cred   *credential
	params url.Values
}

// answer is an API's result: data, a business error (code) or a
// gateway error.
type answer struct {
	data    any
	code    string // business error code; "" for success
	msg     string // its message; default bizMessages[code]
	gateway *gatewayErr
}

func bizError(code string) answer { return answer{code: code, msg: bizMessages[code]} }

func paramError(msg string) answer { return answer{code: bizParamError, msg: msg} }

type allowedMethods int

const (
	post allowedMethods = iota
	getOrPost
)

// api wraps an API: faults, method, parameters, gateway authentication,
// then the envelope around h's answer.
func (z *Server) api(methods allowedMethods, h func(*apiCall) answer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, badAuth, serverError, delay := z.faults.Snapshot()
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if serverError {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = w.Write([]byte(badGatewayPage))
			return
		}
		requestID := z.requestID()
		if r.Method != http.MethodPost && (methods != getOrPost || r.Method != http.MethodGet) {
			z.writeGateway(w, gwBadMethod, requestID)
			return
		}
		var params url.Values
		if r.Method == http.MethodGet {
			params = r.URL.Query()
		} else {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if err := r.ParseForm(); err != nil {
				z.writeGateway(w, gwMissingParameter, requestID)
				return
			}
			params = r.PostForm // POST parameters travel in the form body only
		}
		cred, gerr := z.authenticate(r, params, badAuth)
		if gerr != nil {
			z.writeGateway(w, gerr, requestID)
			return
		}
		a := h(&apiCall{cred: cred, params: params})
		if a.gateway != nil {
			z.writeGateway(w, a.gateway, requestID)
			return
		}
		env := envelope{Success: true, BizErrorCode: "0", Content: &content{
			Success: true, Data: a.data, RequestID: requestID,
			ResponseMessage: "OK", ResponseCode: "0", BizErrorCode: "0",
		}}
		if a.code != "" {
			env.BizErrorCode = a.code
			env.Content = &content{
				Success: false, RequestID: requestID,
				ResponseMessage: a.msg, ResponseCode: a.code, BizErrorCode: a.code,
			}
		}
		writeJSON(w, env)
	})
}

// authenticate checks the gateway's HMAC headers: presence, version, key,
// timestamp format and window, signature over the exact parameters
// received, and nonce reuse (recorded only for valid signatures).
func (z *Server) authenticate(r *http.Request, params url.Values, badAuth bool) (*credential, *gatewayErr) {
	key := r.Header.Get(gwsig.HeaderAPIKey)
	ts := r.Header.Get(gwsig.HeaderTimestamp)
	nonce := r.Header.Get(gwsig.HeaderNonce)
	sig := r.Header.Get(gwsig.HeaderSignature)
	version := r.Header.Get(gwsig.HeaderVersion)
	if key == "" || ts == "" || nonce == "" || sig == "" || version == "" {
		return nil, gwMissingParameter
	}
	if version != gwsig.SignatureVersion {
		return nil, gwBadVersion
	}
	cred := z.creds[key]
	if cred == nil {
		return nil, gwUnknownKey
	}
	t, err := time.ParseInLocation(gwsig.TimestampLayout, ts, gwsig.Shanghai())
	if err != nil || gwsig.Timestamp(t) != ts {
		return nil, gwBadTimestamp
	}
	if skew := z.now().Sub(t); skew > z.window || skew < -z.window {
		return nil, gwClockSkew
	}
	if badAuth || !z.signatureMatches(cred.secret, r, ts, nonce, params, sig) {
		return nil, gwSignature
	}
	if !z.useNonce(key, nonce) {
		return nil, gwNonceUsed
	}
	return cred, nil
}

// signatureMatches verifies sig over the request's path. Behind a path
// prefix (http.StripPrefix) the path as sent is accepted too.
func (z *Server) signatureMatches(secret string, r *http.Request, ts, nonce string, params url.Values, sig string) bool {
	paths := []string{r.URL.Path}
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != r.URL.Path {
		paths = append(paths, u.Path)
	}
	for _, p := range paths {
		want := gwsig.Sign(secret, r.Method, ts, nonce, p, params)
		if subtle.ConstantTimeCompare([]byte(want), []byte(sig)) == 1 {
			return true
		}
	}
	return false
}

// getToken serves /gettoken.json. appkey and appsecret are optional (the
// pair is known from apiKey and the signature); when sent they must match.
// A repeat call within the lifetime returns the same token with its
// remaining lifetime.
func (z *Server) getToken(c *apiCall) answer {
	if k := c.params.Get("appkey"); k != "" && k != c.cred.key {
		return answer{gateway: gwSignature}
	}
	if s := c.params.Get("appsecret"); s != "" && subtle.ConstantTimeCompare([]byte(s), []byte(c.cred.secret)) != 1 {
		return answer{gateway: gwSignature}
	}
	tok, left := z.appToken(c.cred.key)
	return answer{data: tokenData{AccessToken: tok, ExpiresIn: left}}
}

// userByScanCode serves /rpc/oauth2/getuserinfo_bycode.json.
func (z *Server) userByScanCode(c *apiCall) answer {
	return z.userByCode(c, "code", false)
}

// userByInAppCode serves /rpc/oauth2/dingtalk_app_user.json: the in-app
// pair's token and the auth_code of /simulator/inapp; the answer adds
// openid.
func (z *Server) userByInAppCode(c *apiCall) answer {
	return z.userByCode(c, "auth_code", true)
}

func (z *Server) userByCode(c *apiCall, codeParam string, inApp bool) answer {
	if code := z.tokenRefusal(c.cred.key, c.params.Get("access_token")); code != "" {
		return bizError(code)
	}
	expireCodes, _, _, _ := z.faults.Snapshot()
	code := c.params.Get(codeParam)
	if expireCodes || code == "" || c.cred.inApp != inApp {
		return bizError(bizCodeInvalid)
	}
	a, ok := z.redeemCode(c.cred.key, code)
	if !ok || a == nil {
		return bizError(bizCodeInvalid)
	}
	t := z.tenants[a.TenantID]
	u := userInfo{
		AccountID:    a.AccountID,
		LastName:     a.LastName,
		ClientID:     c.cred.appCode,
		RealmID:      t.RealmID,
		TenantName:   t.Name,
		RealmName:    t.Name,
		Namespace:    "local",
		TenantID:     t.TenantID,
		NickNameCn:   a.NickNameCn,
		TenantUserID: strconv.FormatInt(t.RealmID, 10) + "$" + strconv.FormatInt(a.AccountID, 10),
		Account:      a.Account,
		EmployeeCode: a.EmployeeCode,
		Avatar:       a.Avatar,
	}
	if inApp {
		h := sha256.Sum256([]byte(c.cred.key + "$" + strconv.FormatInt(a.AccountID, 10)))
		u.OpenID = hex.EncodeToString(h[:16])
	}
	return answer{data: u}
}

// tenantParam reads the required tenantId of the mozi APIs.
func tenantParam(c *apiCall) (int64, *answer) {
	s := c.params.Get("tenantId")
	if s == "" {
		a := paramError("tenantId不能为空")
		return 0, &a
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		a := paramError("tenantId格式错误")
		return 0, &a
	}
	return id, nil
}

// employee returns the employee of code in tenant, or nil.
func (z *Server) employee(tenant int64, code string) *Account {
	for i := range z.people.Accounts {
		if a := &z.people.Accounts[i]; a.EmployeeCode != "" && a.EmployeeCode == code && a.TenantID == tenant {
			return a
		}
	}
	return nil
}

// organization returns the organisation of code in tenant, or nil.
func (z *Server) organization(tenant int64, code string) *Organization {
	for i := range z.people.Organizations {
		if o := &z.people.Organizations[i]; o.OrganizationCode == code && o.TenantID == tenant {
			return o
		}
	}
	return nil
}

// orgAccess refuses the organisation APIs to a scan-login pair, as the
// real gateway typically does (300037 没有组织的操作权限), unless its app has
// ScanOrgAccess; the in-app (micro-app) pair may call them.
func (z *Server) orgAccess(c *apiCall) *answer {
	if c.cred.inApp || z.apps[c.cred.appCode].ScanOrgAccess {
		return nil
	}
	a := bizError(bizNoOrgAccess)
	return &a
}

// employeePositions serves /mozi/employee/listEmployeePositionsByEmployeeCode:
// employeeCode, tenantId, employeePositionType (EMPLOYEE_POSITION_ALL,
// _MAIN (default), _ADJUNCT), employeePositionStatus (A (default), F, TOTAL).
// An unknown employee has no positions.
func (z *Server) employeePositions(c *apiCall) answer {
	tenant, perr := tenantParam(c)
	if perr != nil {
		return *perr
	}
	if a := z.orgAccess(c); a != nil {
		return *a
	}
	code := c.params.Get("employeeCode")
	if code == "" {
		return paramError("employeeCode不能为空")
	}
	typ := c.params.Get("employeePositionType")
	if typ == "" {
		typ = "EMPLOYEE_POSITION_MAIN"
	}
	status := c.params.Get("employeePositionStatus")
	if status == "" {
		status = "A"
	}
	switch {
	case typ != "EMPLOYEE_POSITION_ALL" && typ != "EMPLOYEE_POSITION_MAIN" && typ != "EMPLOYEE_POSITION_ADJUNCT":
		return paramError("employeePositionType不合法")
	case status != "A" && status != "F" && status != "TOTAL":
		return paramError("employeePositionStatus不合法")
	}
	out := []positionOut{}
	order := 0
	for _, p := range z.people.Positions {
		if p.EmployeeCode != code || p.TenantID != tenant {
			continue
		}
		order++
		pStatus := orDefault(p.Status, "A")
		if (typ == "EMPLOYEE_POSITION_MAIN" && !p.MainJob) || (typ == "EMPLOYEE_POSITION_ADJUNCT" && p.MainJob) ||
			(status != "TOTAL" && status != pStatus) {
			continue
		}
		pos := positionOut{
			MainJob: p.MainJob, GmtCreate: p.GmtCreate, EmployeeCode: p.EmployeeCode,
			OrganizationCode: p.OrganizationCode, Status: pStatus, Order: order,
			OrderInOrganization: p.OrderInOrganization, GovEmpPosAddress: p.GovEmpPosAddress,
			GovEmpPosPhoneNo: p.GovEmpPosPhoneNo, GovEmpPosJob: p.GovEmpPosJob,
		}
		// The unit (单位) holding the position, and the internal
		// institution (内设机构) when the position is in one.
		for o := z.organization(tenant, p.OrganizationCode); o != nil; o = z.organization(tenant, o.ParentCode) {
			if o.TypeCode == "GOV_UNIT" {
				pos.EmpPosUnitCode = o.OrganizationCode
				break
			}
			if pos.EmpPosInnerInstitutionCode == "" {
				pos.EmpPosInnerInstitutionCode = o.OrganizationCode
			}
		}
		out = append(out, pos)
	}
	return answer{data: out}
}

// organizationsByCodes serves /mozi/organization/listOrganizationsByCodes:
// organizationCodes (repeated), tenantId. Unknown codes are left out; the
// answer follows the order asked, without duplicates.
func (z *Server) organizationsByCodes(c *apiCall) answer {
	tenant, perr := tenantParam(c)
	if perr != nil {
		return *perr
	}
	if a := z.orgAccess(c); a != nil {
		return *a
	}
	codes := c.params["organizationCodes"]
	if len(codes) == 0 {
		return paramError("organizationCodes不能为空")
	}
	out := []organizationOut{}
	seen := map[string]bool{}
	for _, code := range codes {
		o := z.organization(tenant, code)
		if o == nil || seen[code] {
			continue
		}
		seen[code] = true
		org := organizationOut{
			GmtCreate: o.GmtCreate, TypeName: o.TypeName, OrganizationName: o.OrganizationName,
			TypeCode: o.TypeCode, DisplayOrder: o.DisplayOrder, ParentCode: o.ParentCode,
			OrganizationCode: o.OrganizationCode, Status: orDefault(o.Status, "A"),
			ShortName: o.ShortName, DivisionCode: o.DivisionCode,
			InstitutionLevelCode: o.InstitutionLevelCode, Leaf: true,
		}
		if p := z.organization(tenant, o.ParentCode); p != nil {
			org.ParentName = p.OrganizationName
		}
		for _, child := range z.people.Organizations {
			if child.TenantID == tenant && child.ParentCode == o.OrganizationCode {
				org.Leaf = false
				break
			}
		}
		out = append(out, org)
	}
	return answer{data: out}
}

// employeeByCode serves /mozi/employee/getEmployeeByCode: employeeCode,
// tenantId. An unknown employee is a success without data.
func (z *Server) employeeByCode(c *apiCall) answer {
	tenant, perr := tenantParam(c)
	if perr != nil {
		return *perr
	}
	if a := z.orgAccess(c); a != nil {
		return *a
	}
	code := c.params.Get("employeeCode")
	if code == "" {
		return paramError("employeeCode不能为空")
	}
	a := z.employee(tenant, code)
	if a == nil {
		return answer{}
	}
	return answer{data: employeeOut{
		EmployeeName: a.LastName, GmtCreate: a.GmtCreate, Status: orDefault(a.Status, "A"),
		EmployeeCode: a.EmployeeCode, EmpGender: a.EmpGender, GovEmpRemarks: a.GovEmpRemarks,
		GovEmpAvatar: a.GovEmpAvatar,
	}}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// writeGateway writes a gateway failure (HTTP 200, no content).
func (z *Server) writeGateway(w http.ResponseWriter, e *gatewayErr, requestID string) {
	writeJSON(w, gatewayBody{
		Success: false, Code: e.code, Message: e.message,
		ErrorCode: e.code, ErrorMsg: e.message, RequestID: requestID, BizErrorCode: e.code,
	})
}

// writeJSON writes v as the gateway does: HTTP 200, unescaped UTF-8.
func writeJSON(w http.ResponseWriter, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, "simulator: encode answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	_, _ = w.Write(buf.Bytes())
}
