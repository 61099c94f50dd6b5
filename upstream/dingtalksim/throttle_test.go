package dingtalksim

import (
	"slices"
	"testing"
)

// TestThrottle: Throttle's calls answer as DingTalk over its rate limit,
// on each host separately, then the simulator answers normally again.
func TestThrottle(t *testing.T) {
	e := newEnv(t, nil)
	tok := e.appToken(t, appMain, secMain)
	e.sim.Throttle(1, 2)
	status, m := e.json(t, "POST", "/v1.0/oauth2/accessToken", nil, map[string]string{"appKey": appMain, "appSecret": secMain})
	wantAPIError(t, status, m, 403, "Forbidden.AccessDenied.QpsLimitForApi")
	for range 2 {
		if m := e.oapi(t, "/topapi/user/getbyunionid", tok, map[string]string{"unionid": zhangsan}); errcode(m) != "90002" {
			t.Errorf("throttled oapi call: %v", m)
		}
	}
	if again := e.appToken(t, appMain, secMain); again != tok {
		t.Errorf("after throttling: token %q, want %q", again, tok)
	}
	if r := result(t, e.oapi(t, "/topapi/user/getbyunionid", tok, map[string]string{"unionid": zhangsan})); r["userid"] != "zhangsan" {
		t.Errorf("after throttling: %v", r)
	}
}

// TestGetByUnionIDNeedsPermission: an app without qyapi_get_member gets
// errcode 88 with sub_code 60011 from getbyunionid.
func TestGetByUnionIDNeedsPermission(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		fx, err := Fixture()
		if err != nil {
			t.Fatal(err)
		}
		o.Apps, o.Corps, o.People = fx.Apps, fx.Corps, fx.People
		a := o.Apps[appMain]
		a.Permissions = slices.DeleteFunc(a.Permissions, func(p string) bool { return p == "qyapi_get_member" })
		o.Apps[appMain] = a
	})
	m := e.oapi(t, "/topapi/user/getbyunionid", e.appToken(t, appMain, secMain), map[string]string{"unionid": zhangsan})
	if errcode(m) != "88" || m["sub_code"] != "60011" {
		t.Errorf("got %v, want errcode 88 sub_code 60011", m)
	}
}
