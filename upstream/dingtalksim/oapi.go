package dingtalksim

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// oapiResp is oapi.dingtalk.com's envelope: always HTTP 200.
type oapiResp struct {
	ErrCode   int    `json:"errcode"`
	ErrMsg    string `json:"errmsg"`
	SubCode   string `json:"sub_code,omitempty"`
	SubMsg    string `json:"sub_msg,omitempty"`
	Result    any    `json:"result,omitempty"`
	RequestID string `json:"request_id"`
}

// The gateway's own 502 page, as DingTalk's Tengine front ends send it.
const badGateway = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>Tengine</center>\r\n</body>\r\n</html>\r\n"

// oapiNoToken wraps an oapi.dingtalk.com handler with the Delay and
// ServerError faults.
func (d *Server) oapiNoToken(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !d.wait(r) {
			return
		}
		if _, _, serverError, _ := d.faultState(); serverError {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, badGateway)
			return
		}
		if d.throttled(oapiHost) {
			oapiErr(w, 90002, "您的服务器调用钉钉开放平台当前接口的所有请求都被暂时禁用了, 请稍后重试")
			return
		}
		h(w, r)
	}
}

// oapi additionally checks ?access_token= (an app token) and reads the
// parameters, from a JSON body or, as the old TOP SDKs send them, a form.
func (d *Server) oapi(h func(w http.ResponseWriter, app *App, params map[string]string)) http.HandlerFunc {
	return d.oapiNoToken(func(w http.ResponseWriter, r *http.Request) {
		app := d.appForToken(r.URL.Query().Get("access_token"))
		if app == nil {
			writeOAPI(w, oapiResp{ErrCode: 88, ErrMsg: "ding talk error[subcode=40014,submsg=不合法的access_token]", SubCode: "40014", SubMsg: "不合法的access_token"})
			return
		}
		params, err := oapiParams(w, r)
		if err != nil {
			oapiErr(w, 40035, "不合法的参数")
			return
		}
		h(w, app, params)
	})
}

func writeOAPI(w http.ResponseWriter, resp oapiResp) {
	resp.RequestID = oapiRequestID()
	writeJSON(w, http.StatusOK, resp)
}

func oapiErr(w http.ResponseWriter, code int, msg string) {
	writeOAPI(w, oapiResp{ErrCode: code, ErrMsg: msg})
}

func oapiOK(w http.ResponseWriter, result any) {
	writeOAPI(w, oapiResp{ErrMsg: "ok", Result: result})
}

// oapiParams reads a JSON object or form body into strings (numbers as
// written).
func oapiParams(w http.ResponseWriter, r *http.Request) (map[string]string, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return out, nil
	}
	if strings.Contains(r.Header.Get("Content-Type"), "json") || trimmed[0] == '{' {
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return nil, err
		}
		for k, v := range m {
			switch v := v.(type) {
			case string:
				out[k] = v
			case json.Number:
				out[k] = v.String()
			case bool:
				out[k] = strconv.FormatBool(v)
			case nil:
			default:
				b, _ := json.Marshal(v)
				out[k] = string(b)
			}
		}
		return out, nil
	}
	form, err := url.ParseQuery(string(trimmed))
	if err != nil {
		return nil, err
	}
	for k := range form {
		out[k] = form.Get(k)
	}
	return out, nil
}

// handleGetToken: GET /gettoken?appkey=…&appsecret=… (the legacy app token,
// the same token the api host's accessToken issues).
func (d *Server) handleGetToken(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key := q.Get("appkey")
	if _, ok := d.checkApp(key, q.Get("appsecret")); !ok {
		writeJSON(w, http.StatusOK, map[string]any{"errcode": 40096, "errmsg": "不合法的appKey或appSecret"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"errcode":      0,
		"access_token": d.appToken(key),
		"errmsg":       "ok",
		"expires_in":   int64(d.tokenTTL.Seconds()),
	})
}

// handleGetByUnionID: POST /topapi/user/getbyunionid {"unionid"}.
func (d *Server) handleGetByUnionID(w http.ResponseWriter, app *App, params map[string]string) {
	if !slices.Contains(app.Permissions, "qyapi_get_member") {
		writeOAPI(w, oapiResp{ErrCode: 88, ErrMsg: "ding talk error[subcode=60011,submsg=没有调用该接口的权限]",
			SubCode: "60011", SubMsg: "没有调用该接口的权限，接口权限申请参考：qyapi_get_member"})
		return
	}
	unionID := params["unionid"]
	if unionID == "" {
		oapiErr(w, 40035, "不合法的参数")
		return
	}
	p := d.union[unionID]
	if p == nil {
		oapiErr(w, 60121, "找不到该用户")
		return
	}
	m, ok := p.Orgs[app.CorpID]
	if !ok {
		oapiErr(w, 60121, "找不到该用户")
		return
	}
	oapiOK(w, struct {
		ContactType int    `json:"contact_type"`
		UserID      string `json:"userid"`
	}{m.ContactType, m.UserID})
}

type deptOrder struct {
	DeptID int64 `json:"dept_id"`
	Order  int64 `json:"order"`
}

type leaderInDept struct {
	DeptID int64 `json:"dept_id"`
	Leader bool  `json:"leader"`
}

// handleUserGet: POST /topapi/v2/user/get {"userid","language"}.
func (d *Server) handleUserGet(w http.ResponseWriter, app *App, params map[string]string) {
	userID := params["userid"]
	if userID == "" {
		oapiErr(w, 40035, "不合法的参数")
		return
	}
	p := d.corps[app.CorpID].users[userID]
	if p == nil || !internal(p, app.CorpID) {
		oapiErr(w, 60121, "找不到该用户")
		return
	}
	m := p.Orgs[app.CorpID]
	orders := make([]deptOrder, 0, len(m.DeptIDList))
	leaders := make([]leaderInDept, 0, len(m.DeptIDList))
	for i, dep := range m.DeptIDList {
		orders = append(orders, deptOrder{DeptID: dep, Order: 176093498551681512 - int64(i)})
		leaders = append(leaders, leaderInDept{DeptID: dep, Leader: slices.ContainsFunc(m.RoleList, func(r Role) bool { return r.Name == "主管" })})
	}
	oapiOK(w, struct {
		UserID           string         `json:"userid"`
		UnionID          string         `json:"unionid"`
		Name             string         `json:"name"`
		Avatar           string         `json:"avatar"`
		StateCode        string         `json:"state_code"`
		Mobile           string         `json:"mobile,omitempty"`
		HideMobile       bool           `json:"hide_mobile"`
		Telephone        string         `json:"telephone"`
		JobNumber        string         `json:"job_number"`
		Title            string         `json:"title"`
		Email            string         `json:"email,omitempty"`
		OrgEmail         string         `json:"org_email,omitempty"`
		WorkPlace        string         `json:"work_place"`
		Remark           string         `json:"remark"`
		DeptIDList       []int64        `json:"dept_id_list"`
		DeptOrderList    []deptOrder    `json:"dept_order_list"`
		Extension        string         `json:"extension"`
		Active           bool           `json:"active"`
		RealAuthed       bool           `json:"real_authed"`
		Senior           bool           `json:"senior"`
		Admin            bool           `json:"admin"`
		Boss             bool           `json:"boss"`
		ExclusiveAccount bool           `json:"exclusive_account"`
		LeaderInDept     []leaderInDept `json:"leader_in_dept"`
		RoleList         []Role         `json:"role_list"`
		UnionEmpExt      struct{}       `json:"union_emp_ext"`
	}{
		UserID:        m.UserID,
		UnionID:       p.UnionID,
		Name:          m.Name,
		Avatar:        p.AvatarURL,
		StateCode:     p.StateCode,
		Mobile:        p.Mobile,
		JobNumber:     m.JobNumber,
		Title:         m.Title,
		Email:         m.Email,
		OrgEmail:      m.OrgEmail,
		DeptIDList:    nonNil(m.DeptIDList),
		DeptOrderList: orders,
		Extension:     "{}",
		Active:        m.Active,
		RealAuthed:    m.Active,
		Admin:         m.Admin,
		LeaderInDept:  leaders,
		RoleList:      nonNil(m.RoleList),
	})
}

// handleDepartmentGet: POST /topapi/v2/department/get {"dept_id","language"}.
func (d *Server) handleDepartmentGet(w http.ResponseWriter, app *App, params map[string]string) {
	id, err := strconv.ParseInt(params["dept_id"], 10, 64)
	if err != nil {
		oapiErr(w, 40035, "不合法的参数")
		return
	}
	dep, ok := d.corps[app.CorpID].depts[id]
	if !ok {
		oapiErr(w, 60003, "部门不存在")
		return
	}
	oapiOK(w, struct {
		DeptID          int64  `json:"dept_id"`
		Name            string `json:"name"`
		ParentID        int64  `json:"parent_id,omitempty"`
		Order           int64  `json:"order"`
		AutoAddUser     bool   `json:"auto_add_user"`
		CreateDeptGroup bool   `json:"create_dept_group"`
		HideDept        bool   `json:"hide_dept"`
		OuterDept       bool   `json:"outer_dept"`
	}{DeptID: dep.ID, Name: dep.Name, ParentID: dep.ParentID, Order: dep.ID, AutoAddUser: true, CreateDeptGroup: true})
}

// handleGetUserInfo: POST /topapi/v2/user/getuserinfo {"code"} — the
// in-app (免登) code from /simulator/inapp.
func (d *Server) handleGetUserInfo(w http.ResponseWriter, app *App, params map[string]string) {
	code := params["code"]
	expireCodes, _, _, _ := d.faultState()
	now := d.now()
	d.mu.Lock()
	c, ok := d.inapp.get(now, code)
	ok = ok && code != "" && !expireCodes && c.corpID == app.CorpID
	if ok {
		d.inapp.del(code)
	}
	d.mu.Unlock()
	if !ok {
		oapiErr(w, 40078, "不存在的临时授权码")
		return
	}
	p := d.union[c.unionID]
	m := p.Orgs[c.corpID]
	level := 0
	if m.Admin {
		level = 2 // 子管理员
		if slices.ContainsFunc(m.RoleList, func(r Role) bool { return r.Name == "主管理员" }) {
			level = 1
		}
	}
	dev := sha256.Sum256([]byte("device:" + p.UnionID))
	oapiOK(w, struct {
		UserID            string `json:"userid"`
		UnionID           string `json:"unionid"`
		Name              string `json:"name"`
		DeviceID          string `json:"device_id"`
		Sys               bool   `json:"sys"`
		SysLevel          int    `json:"sys_level"`
		AssociatedUnionID string `json:"associated_unionid"`
	}{m.UserID, p.UnionID, m.Name, hex.EncodeToString(dev[:16]), m.Admin, level, ""})
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// oapiRequestID is an oapi request id: 13 lower-case base-36 characters.
func oapiRequestID() string {
	const digits = "0123456789abcdefghijklmnopqrstuvwxyz"
	var b [13]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = digits[int(b[i])%len(digits)]
	}
	return string(b[:])
}
