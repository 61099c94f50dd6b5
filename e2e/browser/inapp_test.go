package browser_test

import (
	"regexp"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// User-Agents of the apps' web views, as idp recognises them.
var appUA = map[string]string{
	"dingtalk":     "Mozilla/5.0 (iPhone) AliApp(DingTalk/7.6.0) com.laiwang.DingTalk/34000000",
	"zhezhengding": "Mozilla/5.0 (Linux; Android 13) AliApp(TaurusApp/2.9.0) TaurusApp/2.9.0",
}

var (
	amrApp         = regexp.MustCompile(`"amr":\s*\[\s*"app"\s*\]`)
	amrQR          = regexp.MustCompile(`"amr":\s*\[\s*"qr"\s*\]`)
	inAppCallback  = regexp.MustCompile(`/login/[a-z]+/callback\?.*auth_code=`)
	standInCodeURL = "*/simulator/jsapi/code*"
)

// zzdPrefix starts every 浙政钉 subject; the stand-in picks the person.
const zzdPrefix = "zzd_"

// TestInAppLogin (免登): opened inside the DingTalk or 浙政钉 app, the login
// page gets a code from the app's JSAPI (the simulators' stand-in) and the
// demo app is logged in without a scan (amr ["app"]).
func TestInAppLogin(t *testing.T) {
	for _, app := range []string{"dingtalk", "zhezhengding"} {
		t.Run(app, func(t *testing.T) {
			forLangs(t, "inapp-"+app, func(t *testing.T, tb *tab) {
				tb.run("open the page in the app", emulation.SetUserAgentOverride(appUA[app]).WithAcceptLanguage(acceptLanguage[tb.lang]))
				tb.run("open the demo app", chromedp.Navigate(env.base+"/demo"))
				tb.click(`a[href="/demo/login"]`)
				sub := map[string]string{"dingtalk": "dingtalk_", "zhezhengding": zzdPrefix}[app]
				text := tb.demoResult(sub)
				if !amrApp.MatchString(text) {
					t.Errorf(`ID token lacks "amr": ["app"]:\n%s`, text)
				}
				if got := tb.docRequests(inAppCallback); len(got) != 1 {
					t.Errorf("want one callback with auth_code, got %q", got)
				}
			})
		})
	}
}

// TestInAppForced: ?inapp=1 on the chooser's 浙政钉 link forces the in-app
// page in an ordinary browser; the stand-in completes the login.
func TestInAppForced(t *testing.T) {
	forLangs(t, "inapp-forced", func(t *testing.T, tb *tab) {
		toChooser(tb)
		var href string
		tb.eval(`document.querySelector('a[data-upstream="zzd"]').href`, &href)
		tb.run("open the forced in-app page", chromedp.Navigate(href+"&inapp=1"))
		if text := tb.demoResult(zzdPrefix); !amrApp.MatchString(text) {
			t.Errorf(`ID token lacks "amr": ["app"]:\n%s`, text)
		}
		if got := tb.docRequests(inAppCallback); len(got) != 1 {
			t.Errorf("want one callback with auth_code, got %q", got)
		}
	})
}

// TestInAppFallback: when the app's JSAPI gives no code, the in-app page
// says so and its fallback button leads to the QR login, which works.
func TestInAppFallback(t *testing.T) {
	forLangs(t, "inapp-fallback", func(t *testing.T, tb *tab) {
		tb.run("open the page in the DingTalk app, whose JSAPI fails",
			emulation.SetUserAgentOverride(appUA["dingtalk"]).WithAcceptLanguage(acceptLanguage[tb.lang]),
			network.SetBlockedURLs([]string{standInCodeURL}))
		tb.run("open the demo app", chromedp.Navigate(env.base+"/demo"))
		tb.click(`a[href="/demo/login"]`)
		tb.run("wait for the failure", chromedp.WaitVisible(`#inapp[data-result="failed"]`, chromedp.ByQuery))
		tb.page("inapp", "inapp_failed_title") // the heading says it failed, not "signing you in"
		tb.says("inapp_failed")
		tb.click("#fallback")
		tb.run("wait for DingTalk's QR page", chromedp.WaitVisible(dtPerson, chromedp.ByQuery))
		tb.screenshot("dingtalk-qr")
		tb.click(dtPerson)
		if text := tb.demoResult(dtSub); !amrQR.MatchString(text) {
			t.Errorf(`ID token lacks "amr": ["qr"]:\n%s`, text)
		}
	})
}

// TestInAppNoJSAPI: when the JSAPI script loads nothing (blocked, a wrong
// jsapi_url), the in-app page says that the app's interface did not load,
// rather than only offering the QR code, and the fallback still works.
func TestInAppNoJSAPI(t *testing.T) {
	forLangs(t, "inapp-nojsapi", func(t *testing.T, tb *tab) {
		tb.run("open the page in the DingTalk app, whose JSAPI script does not load",
			emulation.SetUserAgentOverride(appUA["dingtalk"]).WithAcceptLanguage(acceptLanguage[tb.lang]),
			network.SetBlockedURLs([]string{"*/simulator/jsapi/dd.js*"}))
		tb.run("open the demo app", chromedp.Navigate(env.base+"/demo"))
		tb.click(`a[href="/demo/login"]`)
		tb.run("wait for the failure", chromedp.WaitVisible(`#inapp[data-result="failed"]`, chromedp.ByQuery))
		tb.page("inapp", "inapp_failed_title")
		tb.says("inapp_no_jsapi")
		tb.click("#fallback")
		tb.run("wait for DingTalk's QR page", chromedp.WaitVisible(dtPerson, chromedp.ByQuery))
	})
}
