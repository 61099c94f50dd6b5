package simulator

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

	"github.com/dingoidc/dingoidc/upstream/zhezhengding"
)

// zzdGatewayErr is a failure of the API gateway itself (before the API):
// answered HTTP 200 without content, as a superset of the shapes clients
// parse. Only SignatureDoesNotMatch (OPF-B001-05-16-0009) is a captured
// code; the others are the simulator's choice, named in the style of
// Alibaba's gateways.
type zzdGatewayErr struct{ code, message string }

var (
	zzdGwMissingParameter = &zzdGatewayErr{"OPF-B001-05-16-0001", "MissingParameter"}            // apiKey or an X-Hmac-Auth-* header missing
	zzdGwBadVersion       = &zzdGatewayErr{"OPF-B001-05-16-0002", "InvalidSignatureVersion"}     // X-Hmac-Auth-Version is not 1.0
	zzdGwUnknownKey       = &zzdGatewayErr{"OPF-B001-05-16-0003", "InvalidAccessKeyId.NotFound"} // unknown apiKey
	zzdGwBadMethod        = &zzdGatewayErr{"OPF-B001-05-16-0004", "UnsupportedHTTPMethod"}       // e.g. GET on a POST API
	zzdGwBadTimestamp     = &zzdGatewayErr{"OPF-B001-05-16-0006", "InvalidTimeStamp.Format"}     // not 2006-01-02T15:04:05.000+08:00
	zzdGwClockSkew        = &zzdGatewayErr{"OPF-B001-05-16-0007", "InvalidTimeStamp.Expired"}    // outside ClockWindow
	zzdGwNonceUsed        = &zzdGatewayErr{"OPF-B001-05-16-0008", "SignatureNonceUsed"}          // replayed nonce
	zzdGwSignature        = &zzdGatewayErr{"OPF-B001-05-16-0009", "SignatureDoesNotMatch"}       // captured from the real gateway
)

// Business errors: content.success false, outer success true.
const (
	zzdBizCodeInvalid  = "240111" // captured
	zzdBizTokenInvalid = "240133" // captured
	zzdBizParamError   = "400"    // simulator choice: a required parameter missing or malformed
)

var zzdBizMessages = map[string]string{
	zzdBizCodeInvalid:  "code失效或不存在",
	zzdBizTokenInvalid: "应用accessToken失效或不存在",
}

// zzdCall is an authenticated API call.
type zzdCall struct {
	cred   *zzdCredential
	params url.Values
}

// zzdAnswer is an API's result: data, a business error (code) or a
// gateway error.
type zzdAnswer struct {
	data    any
	code    string // business error code; "" for success
	msg     string // its message; default zzdBizMessages[code]
	gateway *zzdGatewayErr
}

func zzdBizError(code string) zzdAnswer { return zzdAnswer{code: code, msg: zzdBizMessages[code]} }

func zzdParamError(msg string) zzdAnswer { return zzdAnswer{code: zzdBizParamError, msg: msg} }

type zzdMethods int

const (
	zzdPost zzdMethods = iota
	zzdGetOrPost
)

// api wraps an API: faults, method, parameters, gateway authentication,
// then the envelope around h's answer.
func (z *Zhezhengding) api(methods zzdMethods, h func(*zzdCall) zzdAnswer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, badAuth, serverError, delay := z.faults.snapshot()
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
			_, _ = w.Write([]byte(zzdBadGatewayPage))
			return
		}
		requestID := z.requestID()
		if r.Method != http.MethodPost && (methods != zzdGetOrPost || r.Method != http.MethodGet) {
			z.writeGateway(w, zzdGwBadMethod, requestID)
			return
		}
		var params url.Values
		if r.Method == http.MethodGet {
			params = r.URL.Query()
		} else {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if err := r.ParseForm(); err != nil {
				z.writeGateway(w, zzdGwMissingParameter, requestID)
				return
			}
			params = r.PostForm // POST parameters travel in the form body only
		}
		cred, gerr := z.authenticate(r, params, badAuth)
		if gerr != nil {
			z.writeGateway(w, gerr, requestID)
			return
		}
		a := h(&zzdCall{cred: cred, params: params})
		if a.gateway != nil {
			z.writeGateway(w, a.gateway, requestID)
			return
		}
		env := zzdEnvelope{Success: true, BizErrorCode: "0", Content: &zzdContent{
			Success: true, Data: a.data, RequestID: requestID,
			ResponseMessage: "OK", ResponseCode: "0", BizErrorCode: "0",
		}}
		if a.code != "" {
			env.BizErrorCode = a.code
			env.Content = &zzdContent{
				Success: false, RequestID: requestID,
				ResponseMessage: a.msg, ResponseCode: a.code, BizErrorCode: a.code,
			}
		}
		zzdWriteJSON(w, env)
	})
}

// authenticate checks the gateway's HMAC headers: presence, version, key,
// timestamp format and window, signature over the exact parameters
// received, and nonce reuse (recorded only for valid signatures).
func (z *Zhezhengding) authenticate(r *http.Request, params url.Values, badAuth bool) (*zzdCredential, *zzdGatewayErr) {
	key := r.Header.Get(zhezhengding.HeaderAPIKey)
	ts := r.Header.Get(zhezhengding.HeaderTimestamp)
	nonce := r.Header.Get(zhezhengding.HeaderNonce)
	sig := r.Header.Get(zhezhengding.HeaderSignature)
	version := r.Header.Get(zhezhengding.HeaderVersion)
	if key == "" || ts == "" || nonce == "" || sig == "" || version == "" {
		return nil, zzdGwMissingParameter
	}
	if version != zhezhengding.SignatureVersion {
		return nil, zzdGwBadVersion
	}
	cred := z.creds[key]
	if cred == nil {
		return nil, zzdGwUnknownKey
	}
	t, err := time.ParseInLocation(zhezhengding.TimestampLayout, ts, zhezhengding.Shanghai())
	if err != nil || zhezhengding.Timestamp(t) != ts {
		return nil, zzdGwBadTimestamp
	}
	if skew := z.now().Sub(t); skew > z.window || skew < -z.window {
		return nil, zzdGwClockSkew
	}
	if badAuth || !z.signatureMatches(cred.secret, r, ts, nonce, params, sig) {
		return nil, zzdGwSignature
	}
	if !z.useNonce(key, nonce) {
		return nil, zzdGwNonceUsed
	}
	return cred, nil
}

// signatureMatches verifies sig over the request's path. Behind a path
// prefix (http.StripPrefix) the path as sent is accepted too.
func (z *Zhezhengding) signatureMatches(secret string, r *http.Request, ts, nonce string, params url.Values, sig string) bool {
	paths := []string{r.URL.Path}
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil && u.Path != r.URL.Path {
		paths = append(paths, u.Path)
	}
	for _, p := range paths {
		want := zhezhengding.Sign(secret, r.Method, ts, nonce, p, params)
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
func (z *Zhezhengding) getToken(c *zzdCall) zzdAnswer {
	if k := c.params.Get("appkey"); k != "" && k != c.cred.key {
		return zzdAnswer{gateway: zzdGwSignature}
	}
	if s := c.params.Get("appsecret"); s != "" && subtle.ConstantTimeCompare([]byte(s), []byte(c.cred.secret)) != 1 {
		return zzdAnswer{gateway: zzdGwSignature}
	}
	tok, left := z.appToken(c.cred.key)
	return zzdAnswer{data: zzdTokenData{AccessToken: tok, ExpiresIn: left}}
}

// userByScanCode serves /rpc/oauth2/getuserinfo_bycode.json.
func (z *Zhezhengding) userByScanCode(c *zzdCall) zzdAnswer {
	return z.userByCode(c, "code", false)
}

// userByInAppCode serves /rpc/oauth2/dingtalk_app_user.json: the in-app
// pair's token and the auth_code of /simulator/inapp; the answer adds
// openid.
func (z *Zhezhengding) userByInAppCode(c *zzdCall) zzdAnswer {
	return z.userByCode(c, "auth_code", true)
}

func (z *Zhezhengding) userByCode(c *zzdCall, codeParam string, inApp bool) zzdAnswer {
	if !z.validToken(c.cred.key, c.params.Get("access_token")) {
		return zzdBizError(zzdBizTokenInvalid)
	}
	expireCodes, _, _, _ := z.faults.snapshot()
	code := c.params.Get(codeParam)
	if expireCodes || code == "" || c.cred.inApp != inApp {
		return zzdBizError(zzdBizCodeInvalid)
	}
	a, ok := z.redeemCode(c.cred.key, code)
	if !ok || a == nil {
		return zzdBizError(zzdBizCodeInvalid)
	}
	t := z.tenants[a.TenantID]
	u := zzdUserInfo{
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
	return zzdAnswer{data: u}
}

// zzdTenantParam reads the required tenantId of the mozi APIs.
func zzdTenantParam(c *zzdCall) (int64, *zzdAnswer) {
	s := c.params.Get("tenantId")
	if s == "" {
		a := zzdParamError("tenantId不能为空")
		return 0, &a
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		a := zzdParamError("tenantId格式错误")
		return 0, &a
	}
	return id, nil
}

// employee returns the employee of code in tenant, or nil.
func (z *Zhezhengding) employee(tenant int64, code string) *ZhezhengdingAccount {
	for i := range z.people.Accounts {
		if a := &z.people.Accounts[i]; a.EmployeeCode != "" && a.EmployeeCode == code && a.TenantID == tenant {
			return a
		}
	}
	return nil
}

// organization returns the organisation of code in tenant, or nil.
func (z *Zhezhengding) organization(tenant int64, code string) *ZhezhengdingOrganization {
	for i := range z.people.Organizations {
		if o := &z.people.Organizations[i]; o.OrganizationCode == code && o.TenantID == tenant {
			return o
		}
	}
	return nil
}

// employeePositions serves /mozi/employee/listEmployeePositionsByEmployeeCode:
// employeeCode, tenantId, employeePositionType (EMPLOYEE_POSITION_ALL,
// _MAIN (default), _ADJUNCT), employeePositionStatus (A (default), F, TOTAL).
// An unknown employee has no positions.
func (z *Zhezhengding) employeePositions(c *zzdCall) zzdAnswer {
	tenant, perr := zzdTenantParam(c)
	if perr != nil {
		return *perr
	}
	code := c.params.Get("employeeCode")
	if code == "" {
		return zzdParamError("employeeCode不能为空")
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
		return zzdParamError("employeePositionType不合法")
	case status != "A" && status != "F" && status != "TOTAL":
		return zzdParamError("employeePositionStatus不合法")
	}
	out := []zzdPositionOut{}
	order := 0
	for _, p := range z.people.Positions {
		if p.EmployeeCode != code || p.TenantID != tenant {
			continue
		}
		order++
		pStatus := zzdOrDefault(p.Status, "A")
		if (typ == "EMPLOYEE_POSITION_MAIN" && !p.MainJob) || (typ == "EMPLOYEE_POSITION_ADJUNCT" && p.MainJob) ||
			(status != "TOTAL" && status != pStatus) {
			continue
		}
		pos := zzdPositionOut{
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
	return zzdAnswer{data: out}
}

// organizationsByCodes serves /mozi/organization/listOrganizationsByCodes:
// organizationCodes (repeated), tenantId. Unknown codes are left out; the
// answer follows the order asked, without duplicates.
func (z *Zhezhengding) organizationsByCodes(c *zzdCall) zzdAnswer {
	tenant, perr := zzdTenantParam(c)
	if perr != nil {
		return *perr
	}
	codes := c.params["organizationCodes"]
	if len(codes) == 0 {
		return zzdParamError("organizationCodes不能为空")
	}
	out := []zzdOrganizationOut{}
	seen := map[string]bool{}
	for _, code := range codes {
		o := z.organization(tenant, code)
		if o == nil || seen[code] {
			continue
		}
		seen[code] = true
		org := zzdOrganizationOut{
			GmtCreate: o.GmtCreate, TypeName: o.TypeName, OrganizationName: o.OrganizationName,
			TypeCode: o.TypeCode, DisplayOrder: o.DisplayOrder, ParentCode: o.ParentCode,
			OrganizationCode: o.OrganizationCode, Status: zzdOrDefault(o.Status, "A"),
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
	return zzdAnswer{data: out}
}

// employeeByCode serves /mozi/employee/getEmployeeByCode: employeeCode,
// tenantId. An unknown employee is a success without data.
func (z *Zhezhengding) employeeByCode(c *zzdCall) zzdAnswer {
	tenant, perr := zzdTenantParam(c)
	if perr != nil {
		return *perr
	}
	code := c.params.Get("employeeCode")
	if code == "" {
		return zzdParamError("employeeCode不能为空")
	}
	a := z.employee(tenant, code)
	if a == nil {
		return zzdAnswer{}
	}
	return zzdAnswer{data: zzdEmployeeOut{
		EmployeeName: a.LastName, GmtCreate: a.GmtCreate, Status: zzdOrDefault(a.Status, "A"),
		EmployeeCode: a.EmployeeCode, EmpGender: a.EmpGender, GovEmpRemarks: a.GovEmpRemarks,
		GovEmpAvatar: a.GovEmpAvatar,
	}}
}

func zzdOrDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// writeGateway writes a gateway failure (HTTP 200, no content).
func (z *Zhezhengding) writeGateway(w http.ResponseWriter, e *zzdGatewayErr, requestID string) {
	zzdWriteJSON(w, zzdGatewayBody{
		Success: false, Code: e.code, Message: e.message,
		ErrorCode: e.code, ErrorMsg: e.message, RequestID: requestID, BizErrorCode: e.code,
	})
}

// zzdWriteJSON writes v as the gateway does: HTTP 200, unescaped UTF-8.
func zzdWriteJSON(w http.ResponseWriter, v any) {
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

// Wire shapes. Field order follows captured answers.

type zzdEnvelope struct {
	Success      bool        `json:"success"`
	Content      *zzdContent `json:"content,omitempty"`
	BizErrorCode string      `json:"bizErrorCode"`
}

type zzdContent struct {
	Success         bool   `json:"success"`
	Data            any    `json:"data,omitempty"`
	RequestID       string `json:"requestId"`
	ResponseMessage string `json:"responseMessage"`
	ResponseCode    string `json:"responseCode"`
	BizErrorCode    string `json:"bizErrorCode"`
}

type zzdGatewayBody struct {
	Success      bool   `json:"success"`
	Code         string `json:"Code"`
	Message      string `json:"Message"`
	ErrorCode    string `json:"errorCode"`
	ErrorMsg     string `json:"errorMsg"`
	RequestID    string `json:"_RequestId"`
	BizErrorCode string `json:"bizErrorCode"`
}

type zzdTokenData struct {
	AccessToken string `json:"accessToken"`
	ExpiresIn   int64  `json:"expiresIn"`
}

type zzdUserInfo struct {
	AccountID    int64  `json:"accountId"`
	LastName     string `json:"lastName"`
	ClientID     string `json:"clientId"`
	RealmID      int64  `json:"realmId"`
	OpenID       string `json:"openid,omitempty"`
	TenantName   string `json:"tenantName"`
	RealmName    string `json:"realmName"`
	Namespace    string `json:"namespace"`
	TenantID     int64  `json:"tenantId"`
	NickNameCn   string `json:"nickNameCn"`
	TenantUserID string `json:"tenantUserId"`
	Account      string `json:"account"`
	EmployeeCode string `json:"employeeCode,omitempty"` // absent for super-admins
	Avatar       string `json:"avatar,omitempty"`
}

type zzdPositionOut struct {
	MainJob                       bool   `json:"mainJob"`
	GmtCreate                     string `json:"gmtCreate"`
	EmployeeCode                  string `json:"employeeCode"`
	OrganizationCode              string `json:"organizationCode"`
	Status                        string `json:"status"`
	Order                         int    `json:"order"`
	OrderInOrganization           int    `json:"orderInOrganization"`
	GovEmpPosAddress              string `json:"govEmpPosAddress"`
	GovEmpPosPhoneNo              string `json:"govEmpPosPhoneNo"`
	GovEmpPosJob                  string `json:"govEmpPosJob"`
	EmpPosUnitCode                string `json:"empPosUnitCode"`
	EmpPosInnerInstitutionCode    string `json:"empPosInnerInstitutionCode"`
	EmpPosDepartmentCode          string `json:"empPosDepartmentCode"`
	EmpPosVirtualOrganizationCode string `json:"empPosVirtualOrganizationCode"`
	EmpPosFaxNo                   string `json:"empPosFaxNo"`
	EmpPosEmployeeRoleCode        string `json:"empPosEmployeeRoleCode"`
	JobAttributesCode             string `json:"jobAttributesCode"`
	PosJobRankCode                string `json:"posJobRankCode"`
	VisibilityIndicatorCode       string `json:"visibilityIndicatorCode"`
}

type zzdOrganizationOut struct {
	GmtCreate            string `json:"gmtCreate,omitempty"`
	TypeName             string `json:"typeName"`
	OrganizationName     string `json:"organizationName"`
	TypeCode             string `json:"typeCode"`
	DisplayOrder         int    `json:"displayOrder"`
	ParentName           string `json:"parentName,omitempty"`
	ParentCode           string `json:"parentCode,omitempty"`
	OrganizationCode     string `json:"organizationCode"`
	Status               string `json:"status"`
	ShortName            string `json:"shortName,omitempty"`
	DivisionCode         string `json:"divisionCode,omitempty"`
	InstitutionLevelCode string `json:"institutionLevelCode,omitempty"`
	Leaf                 bool   `json:"leaf"`
}

type zzdEmployeeOut struct {
	EmployeeName           string `json:"employeeName"`
	GmtCreate              string `json:"gmtCreate,omitempty"`
	Status                 string `json:"status"`
	EmployeeCode           string `json:"employeeCode"`
	EmpGender              string `json:"empGender,omitempty"`
	GovEmpRemarks          string `json:"govEmpRemarks,omitempty"`
	GovEmpAvatar           string `json:"govEmpAvatar,omitempty"`
	EmpJobLevelCode        string `json:"empJobLevelCode"`
	EmpBudgetedPostCode    string `json:"empBudgetedPostCode"`
	EmpPoliticalStatusCode string `json:"empPoliticalStatusCode"`
}

// zzdBadGatewayPage is what the gateway's front proxy (Tengine) answers when
// the backend is down.
const zzdBadGatewayPage = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>Tengine</center>\r\n</body>\r\n</html>\r\n"
