package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/dingoidc/dingoidc/upstream/dingtalk"
	"github.com/dingoidc/dingoidc/upstream/dingtalksim"
	"github.com/dingoidc/dingoidc/upstream/zhezhengding"
	"github.com/dingoidc/dingoidc/upstream/zzdsim"
)

// The simulated upstreams of serve --dev: the 浙政钉 and DingTalk
// simulators mounted on the dev server itself, and upstream entries that
// point at them exactly as a deployment points at the real hosts.
const (
	devZZDPath      = "/sim/zhezhengding"
	devDingTalkPath = "/sim/dingtalk"
	// devJSAPIPath is the simulators' JSAPI stand-in (window.dd) for
	// in-app (免登) login; open /login with ?inapp=1 to use it.
	devJSAPIPath = "/simulator/jsapi/dd.js"

	// The simulator's fixture: its first app, registered in corp A
	// (杭州演示科技有限公司) with the Contact.User.Read permission.
	devDingTalkClientID = "ding1bq7up081o21ln27"
	devDingTalkSecret   = "puyP6Ol_OB3lMGEWMhOthEds21k4rXtbErreyelRIZmqUuS85ATZQzQoHSqy0_bX"
	devDingTalkCorp     = "ding5f3e2a7c9b1d4e60"
)

// mountDevSimulators serves both simulators under the issuer and returns
// the upstream entries for them.
func mountDevSimulators(issuer string, mux *http.ServeMux) ([]UpstreamEntry, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil, err
	}
	prefix := strings.TrimSuffix(u.Path, "/")
	zzd, err := zzdsim.New(zzdsim.Options{Apps: map[string]zzdsim.App{
		simDemoAppCode: {AppKey: simDemoAppKey, AppSecret: simDemoAppSecret, CallbackDomains: []string{u.Host},
			InAppKey: simDemoInAppKey, InAppSecret: simDemoInAppSecret},
	}})
	if err != nil {
		return nil, fmt.Errorf("zhezhengding simulator: %w", err)
	}
	dtOpts, err := dingtalksim.Fixture()
	if err != nil {
		return nil, fmt.Errorf("dingtalk simulator: %w", err)
	}
	dt, err := dingtalksim.New(dtOpts)
	if err != nil {
		return nil, fmt.Errorf("dingtalk simulator: %w", err)
	}
	mux.Handle(prefix+devZZDPath+"/", http.StripPrefix(prefix+devZZDPath, zzd))
	mux.Handle(prefix+devDingTalkPath+"/", http.StripPrefix(prefix+devDingTalkPath, dt))

	zzdBase, dtBase := issuer+devZZDPath, issuer+devDingTalkPath
	return []UpstreamEntry{
		{
			ID: "zzd", Type: "zhezhengding", Name: "浙政钉（模拟）",
			// 浙政钉 has no e-mail: a synthetic one, as a deployment configures.
			Claims: map[string]string{"email": "{{.account}}@zzd.dev.invalid"},
			Config: &zhezhengding.Config{
				LoginHost: zzdBase, APIHost: zzdBase, AppCode: simDemoAppCode, AppKey: simDemoAppKey,
				AppSecret: simDemoAppSecret, Embed: true, Enrich: true,
				InAppKey: simDemoInAppKey, InAppSecret: simDemoInAppSecret,
				// The simulator's JSAPI stand-in: in-app login in an ordinary browser.
				JSAPIURL: zzdBase + devJSAPIPath + "?app=" + url.QueryEscape(simDemoInAppKey),
			},
		},
		{
			ID: "dingtalk", Type: "dingtalk", Name: "钉钉（模拟）",
			Claims: map[string]string{"email": "{{with .org_email}}{{.}}{{else}}{{.userid}}@dingtalk.dev.invalid{{end}}"},
			Config: &dingtalk.Config{
				LoginHost: dtBase, APIHost: dtBase, OAPIHost: dtBase,
				ClientID: devDingTalkClientID, ClientSecret: devDingTalkSecret, CorpID: devDingTalkCorp,
				JSAPIURL: dtBase + devJSAPIPath, InApp: true,
			},
		},
	}, nil
}
