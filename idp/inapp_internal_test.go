package idp

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dingoidc/dingoidc/upstream/dingtalk"
	"github.com/dingoidc/dingoidc/upstream/zhezhengding"
)

// TestInAppDetection: each upstream recognises its own app's User-Agent
// (upstream.InApp); the query overrides it (inapp=1 any app, inapp=0 none).
func TestInAppDetection(t *testing.T) {
	dp, err := dingtalk.New(dingtalk.Config{ClientID: "k", ClientSecret: "s", CorpID: "ding0123", InApp: true}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	zp, err := zhezhengding.New(zhezhengding.Config{
		LoginHost: "https://login.example", APIHost: "https://api.example", AppCode: "a_dingoa", AppKey: "k", AppSecret: "s",
		InAppKey: "ik", InAppSecret: "is",
	}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{upstreams: map[string]*upstreamEntry{
		"dingtalk": {UpstreamConfig: UpstreamConfig{ID: "dingtalk", Provider: dp}},
		"zzd":      {UpstreamConfig: UpstreamConfig{ID: "zzd", Provider: zp}},
	}}
	cases := []struct{ name, query, ua, want string }{
		{"DingTalk app", "", "Mozilla/5.0 (iPhone) AliApp(DingTalk/7.6.0) com.laiwang.DingTalk/34000000", "dingtalk"},
		{"浙政钉 app", "", "Mozilla/5.0 (Linux; Android 13) AliApp(TaurusApp/2.9.0) TaurusApp/2.9.0 DingTalk(2.9.0)", "zzd"},
		{"浙政钉 on PC", "", "Mozilla/5.0 (Windows NT 10.0) Chrome/91 TaurusApp/1.9.9", "zzd"},
		{"a browser", "", "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0", ""},
		{"forced", "inapp=1", "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0", "dingtalk zzd"},
		{"forced off in the app", "inapp=0", "AliApp(DingTalk/7.6.0)", ""},
		{"other values ignored", "inapp=yes", "AliApp(DingTalk/7.6.0)", "dingtalk"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/login?"+c.query, nil)
			r.Header.Set("User-Agent", c.ua)
			got := ""
			for _, id := range []string{"dingtalk", "zzd"} {
				if _, _, ok := inAppScript(r, s.upstreams[id].Provider); ok {
					got += " " + id
				}
			}
			if len(got) > 0 {
				got = got[1:]
			}
			if got != c.want {
				t.Errorf("in-app upstreams %q, want %q", got, c.want)
			}
			// Without a choice, the one upstream whose app it is; none
			// when the query overrides.
			pick := s.inAppUpstream(r, []string{"dingtalk", "zzd"})
			if want := c.want; c.query == "inapp=1" || c.query == "inapp=0" {
				if pick != "" {
					t.Errorf("picked %q with %s", pick, c.query)
				}
			} else if pick != want {
				t.Errorf("picked %q, want %q", pick, want)
			}
		})
	}
}
