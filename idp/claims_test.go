package idp

import (
	"reflect"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/dingoidc/dingoidc/upstream"
)

func TestClaimsMapping(t *testing.T) {
	defaults := map[string]string{
		"name":               "{{.lastName}}",
		"preferred_username": "{{.account}}",
		"email":              "{{.account}}@example.gov.cn",
		"groups":             "{{range .orgs}}{{.}}\n{{end}}",
		"employee_code":      "{{.employeeCode}}",
	}
	cases := []struct {
		name      string
		overrides map[string]string
		attrs     map[string]any
		want      map[string]any
	}{
		{"defaults", nil,
			map[string]any{"lastName": "张三", "account": "ZhangSan", "employeeCode": "GO_1", "orgs": []string{"办公室", "信息中心"}},
			map[string]any{"name": "张三", "preferred_username": "zhangsan", "email": "ZhangSan@example.gov.cn", "email_verified": true,
				"groups": []string{"办公室", "信息中心"}, "employee_code": "GO_1"}},
		{"absent attributes are omitted, not empty (I10)", nil,
			map[string]any{"lastName": "管理员", "account": "admin"},
			map[string]any{"name": "管理员", "preferred_username": "admin", "email": "admin@example.gov.cn", "email_verified": true}},
		{"join of a missing attribute is no claim", map[string]string{"groups": `{{join "\n" .missing}}`},
			map[string]any{"lastName": "李四", "account": "lisi"},
			map[string]any{"name": "李四", "preferred_username": "lisi", "email": "lisi@example.gov.cn", "email_verified": true}},
		{"override and removal", map[string]string{"email": "", "nickname": "{{.lastName}}"},
			map[string]any{"lastName": "李四", "account": "lisi"},
			map[string]any{"name": "李四", "nickname": "李四", "preferred_username": "lisi"}},
		{"look-alike letters are not folded into ASCII", nil,
			map[string]any{"lastName": "K", "account": "\u212Aate"},
			map[string]any{"name": "K", "preferred_username": "ate", "email": "\u212Aate@example.gov.cn", "email_verified": true}},
		{"non-ASCII username is dropped (I8)", nil,
			map[string]any{"lastName": "王五", "account": "王五"},
			map[string]any{"name": "王五", "email": "王五@example.gov.cn", "email_verified": true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := newClaimsMapper(defaults, c.overrides)
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Map(&upstream.Identity{ExternalID: "1", Attributes: c.attrs})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %#v\nwant %#v", got, c.want)
			}
		})
	}
	for _, bad := range []map[string]string{{"sub": "x"}, {"Bad-Name": "x"}, {"name": "{{.unclosed"}} {
		if _, err := newClaimsMapper(defaults, bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestSyntheticEmail(t *testing.T) {
	m, err := newClaimsMapper(map[string]string{"name": "{{.lastName}}", "preferred_username": "{{.account}}"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.syntheticDomain = "zzd.invalid"
	for _, c := range []struct {
		attrs map[string]any
		key   string
		want  string
	}{
		{map[string]any{"lastName": "周俊", "account": "admin12371"}, "100135", "100135@zzd.invalid"},
		{map[string]any{"lastName": "张三"}, "QY7vA9", "515937764139@zzd.invalid"}, // case-sensitive key: hex
	} {
		got, err := m.Map(&upstream.Identity{ExternalID: c.key, Attributes: c.attrs})
		if err != nil {
			t.Fatal(err)
		}
		if got["email"] != c.want || got["email_verified"] != true {
			t.Errorf("%v: email %v verified %v, want %s", c.attrs, got["email"], got["email_verified"], c.want)
		}
	}
}

func TestSyntheticEmailRemovable(t *testing.T) {
	m, err := newClaimsMapper(map[string]string{"name": "{{.lastName}}"}, map[string]string{"email": ""})
	if err != nil {
		t.Fatal(err)
	}
	m.syntheticDomain = "zzd.invalid"
	got, err := m.Map(&upstream.Identity{ExternalID: "100135", Attributes: map[string]any{"lastName": "周俊"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["email"]; ok {
		t.Errorf("claims.email mapped to \"\" still produced %v", got["email"])
	}
}

func TestClaimsByScope(t *testing.T) {
	claims := map[string]any{"name": "张三", "preferred_username": "zhangsan", "email": "z@x.cn", "email_verified": true,
		"groups": []any{"a"}, "employee_code": "E1", "phone_number": "+86 1"}
	cases := map[string]struct {
		scopes []string
		has    []string
		hasnt  []string
	}{
		"openid only":   {[]string{"openid"}, nil, []string{"name", "email", "groups", "employee_code"}},
		"profile":       {[]string{"openid", "profile"}, []string{"name", "preferred_username", "employee_code"}, []string{"email", "groups", "phone_number"}},
		"email":         {[]string{"openid", "email"}, []string{"email", "email_verified"}, []string{"name"}},
		"groups, phone": {[]string{"openid", "groups", "phone"}, []string{"groups", "phone_number"}, []string{"name", "email"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ui := new(oidc.UserInfo)
			setUserinfo(ui, "dev_1", claims, c.scopes)
			b, _ := ui.MarshalJSON()
			var m map[string]any
			if err := jsonUnmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if m["sub"] != "dev_1" {
				t.Errorf("sub %v", m["sub"])
			}
			for _, k := range c.has {
				if _, ok := m[k]; !ok {
					t.Errorf("missing %s in %v", k, m)
				}
			}
			for _, k := range c.hasnt {
				if _, ok := m[k]; ok {
					t.Errorf("unrequested %s in %v", k, m)
				}
			}
			if v, ok := m["email_verified"]; ok && v != true {
				t.Errorf("email_verified %#v is not boolean true", v)
			}
		})
	}
}
