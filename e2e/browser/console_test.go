package browser_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The admin console (README.md, "Console"): 张伟 (浙政钉) is the dev
// server's admin (main_test.go writes the config), 张三 (DingTalk) is not.

var consoleMsgs struct {
	once sync.Once
	m    map[string]map[string]string
	err  error
}

// consoleText is the console's text key in the tab's language, from the
// console's own message files.
func (tb *tab) consoleText(key string) string {
	tb.t.Helper()
	consoleMsgs.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			consoleMsgs.err = err
			return
		}
		consoleMsgs.m = map[string]map[string]string{}
		for _, l := range langs {
			b, err := os.ReadFile(filepath.Join(root, "web", "console", l+".json"))
			if err != nil {
				consoleMsgs.err = err
				return
			}
			m := map[string]string{}
			if consoleMsgs.err = json.Unmarshal(b, &m); consoleMsgs.err != nil {
				return
			}
			consoleMsgs.m[l] = m
		}
	})
	if consoleMsgs.err != nil {
		tb.t.Fatal(consoleMsgs.err)
	}
	s, ok := consoleMsgs.m[tb.lang][key]
	if !ok {
		tb.t.Fatalf("no console message %q", key)
	}
	return s
}

// consolePage waits for the console's view named kind and checks its
// language and heading.
func (tb *tab) consolePage(kind, title string) {
	tb.t.Helper()
	sel := `main[data-page="` + kind + `"]`
	tb.run("wait for the console's "+kind+" page", chromedp.WaitVisible(sel+` h1`, chromedp.ByQuery))
	if title != "" {
		// Pages that load their subject (an app, a person) title it once
		// the API answered: wait for the heading rather than read it once.
		js := `(() => { const h = document.querySelector(` + strconv.Quote(sel+" h1") + `); return h && h.innerText.trim() === ` + strconv.Quote(title) + `; })()`
		tb.waitJS("the heading "+strconv.Quote(title), js)
	}
	var lang string
	tb.run("read the page language", chromedp.AttributeValue("html", "lang", &lang, nil, chromedp.ByQuery))
	if lang != tb.lang {
		tb.t.Errorf("console %s page: <html lang=%q>, want %q", kind, lang, tb.lang)
	}
	tb.screenshot("console-" + kind)
}

// consoleLogin opens /admin, presses "sign in" and goes through the
// chooser to the upstream's QR page (the console is an app like any other).
func consoleLogin(tb *tab, upstream string) {
	tb.t.Helper()
	tb.run("open the console", chromedp.Navigate(env.base+"/admin"))
	tb.consolePage("signin", tb.consoleText("signin_title"))
	var navShown bool
	tb.eval(`document.getElementById("nav").offsetParent !== null`, &navShown)
	if navShown {
		tb.t.Error("the sign-in page shows the console's navigation")
	}
	tb.click("#login")
	tb.page("chooser", "chooser_title")
	tb.click(`a[data-upstream="` + upstream + `"]`)
}

// setValue sets a form control's value as typing would (input event).
func (tb *tab) setValue(sel, value string) {
	tb.t.Helper()
	tb.run("fill "+sel, chromedp.WaitVisible(sel, chromedp.ByQuery), chromedp.SetValue(sel, value, chromedp.ByQuery))
}

// awaitJS evaluates expr, a promise, into res.
func (tb *tab) awaitJS(expr string, res any) {
	tb.t.Helper()
	tb.run("evaluate "+expr, chromedp.Evaluate(expr, res, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
}

// TestConsole: the admin signs in through the simulator, registers an app
// and reads its Grafana settings, finds a person, ends their sessions and
// reads the sign-in log; the console fits a phone's screen.
func TestConsole(t *testing.T) {
	forLangs(t, "console", func(t *testing.T, tb *tab) {
		consoleLogin(tb, "zzd")
		tb.page("embed", "embed_title")
		tb.run("wait for the QR frame", chromedp.WaitVisible("#qr-frame", chromedp.ByQuery))
		scanInFrame(tb)
		tb.consolePage("apps", tb.consoleText("nav_apps"))
		if got := tb.text("#who-name"); got != "张伟" {
			t.Errorf("console names the admin %q, want 张伟", got)
		}

		// Register an app, with Grafana's settings.
		tb.click("#new-app")
		tb.consolePage("app-new", tb.consoleText("app_new"))
		name := "Grafana " + tb.lang
		tb.setValue(`#view input[name="name"]`, name)
		tb.setValue(`#view textarea[name="redirect_uris"]`, "https://grafana.example.test/login/generic_oauth")
		var integration string
		tb.eval(`document.querySelector('#view select[name="integration"]').value`, &integration)
		if integration != "grafana" {
			t.Errorf("integration preselected %q, want grafana", integration)
		}
		tb.click("#save")
		tb.run("wait for the Grafana settings", chromedp.WaitVisible(`#setup[data-app="grafana"] table`, chromedp.ByQuery))
		tb.consolePage("app-created", tb.consoleText("app_created"))
		clientID, secret := tb.text("#client-id"), tb.text("#client-secret")
		if clientID == "" || len(secret) < 20 {
			t.Errorf("created app: id %q, secret %q", clientID, secret)
		}
		var settings string
		tb.eval(`document.getElementById("setup").innerText`, &settings)
		if !strings.Contains(settings, clientID) || !strings.Contains(settings, env.base) || !strings.Contains(settings, secret) {
			t.Errorf("Grafana settings lack the client id %q, the issuer or the new secret:\n%s", clientID, settings)
		}
		var copies int
		tb.eval(`document.querySelectorAll("#setup button.copy").length`, &copies)
		if copies < 2 {
			t.Errorf("Grafana settings have %d copy buttons", copies)
		}
		tb.click("#to-app")
		tb.consolePage("app", name)

		// Someone else saves the app meanwhile: saving says so (409) and
		// reloads on request, showing their version.
		var otherStatus int
		tb.awaitJS(`fetch("/admin/api/v1/me").then(r => r.json()).then(me => fetch("/admin/api/v1/clients/`+clientID+`", {
			method: "PUT", headers: {"Content-Type": "application/json", "X-CSRF-Token": me.csrf_token},
			body: JSON.stringify({name: "Grafana (other admin)", redirect_uris: ["https://grafana.example.test/login/generic_oauth"]})})).then(r => r.status)`, &otherStatus)
		if otherStatus != 200 {
			t.Fatalf("the other admin's save answered %d", otherStatus)
		}
		tb.setValue(`#view input[name="name"]`, name+" (mine)")
		tb.click("#save")
		tb.run("wait for the conflict", chromedp.WaitVisible("#reload", chromedp.ByQuery))
		if got := tb.text("#view .alert.error"); got != tb.consoleText("err_409") {
			t.Errorf("conflict says %q, want %q", got, tb.consoleText("err_409"))
		}
		tb.screenshot("console-app-conflict")
		tb.click("#reload")
		tb.waitJS("the other admin's version", `document.querySelector("#view h1").innerText === "Grafana (other admin)"`)

		for _, section := range []string{"audit", "keys", "upstreams"} {
			tb.click(`a[data-nav="` + section + `"]`)
			tb.consolePage(section, tb.consoleText("nav_"+section))
			tb.run("wait for the "+section+" table", chromedp.WaitVisible("#view table", chromedp.ByQuery))
		}
		tb.click(`a[data-nav="keys"]`)
		tb.click("#rotate-keys")
		tb.click("#rotate-keys-yes")
		tb.waitJS("the new key", `document.querySelector('main[data-page="keys"] .alert.ok') && document.querySelectorAll("tr[data-kid]").length >= 2`)
		tb.screenshot("console-keys-rotated")
		tb.click(`a[data-nav="audit"]`)
		tb.waitJS("the app's registration in the audit log", `Array.from(document.querySelectorAll("#view tbody td:nth-child(4)")).some(td => td.innerText.trim() === `+strconv.Quote(clientID)+`)`)
		tb.click(`a[data-nav="upstreams"]`)
		tb.run("wait for the upstreams", chromedp.WaitVisible(`tr[data-upstream="zzd"]`, chromedp.ByQuery))

		// The apps list on a phone: nothing wider than the screen.
		tb.click(`a[data-nav="apps"]`)
		tb.run("wait for the new app in the list", chromedp.WaitVisible(`tr[data-client="`+clientID+`"]`, chromedp.ByQuery))
		tb.run("phone screen", emulation.SetDeviceMetricsOverride(390, 844, 3, true))
		var overflow bool
		tb.eval(`document.documentElement.scrollWidth > window.innerWidth`, &overflow)
		if overflow {
			t.Error("the console is wider than a phone's screen")
		}
		tb.screenshot("console-apps-phone")
		tb.run("desktop screen", emulation.ClearDeviceMetricsOverride())

		// Delete it, confirming first.
		tb.click(`tr[data-client="` + clientID + `"] a`)
		tb.consolePage("app", "Grafana (other admin)")
		tb.click("#delete-app")
		tb.click("#delete-app-yes")
		tb.consolePage("apps", tb.consoleText("nav_apps"))
		tb.waitJS("the list without the app", `document.querySelector("#view table") && !document.querySelector('tr[data-client="`+clientID+`"]')`)
		var status int
		tb.awaitJS(`fetch("/admin/api/v1/clients/`+clientID+`").then(r => r.status)`, &status)
		if status != 404 {
			t.Errorf("the deleted app answers %d, want 404", status)
		}

		// Find 张伟 and end his sessions.
		tb.click(`a[data-nav="people"]`)
		tb.consolePage("people", tb.consoleText("nav_people"))
		tb.setValue(`#view input[name="q"]`, "张伟")
		tb.click("#search")
		tb.waitJS("the search", `location.hash.indexOf("q=") > 0`)
		tb.click(`tr[data-user="` + zzdSub + `"] a`)
		tb.run("wait for the person", chromedp.WaitVisible(`dd[data-fact="col_id"]`, chromedp.ByQuery))
		tb.consolePage("person", "张伟")
		var sessions int
		tb.eval(`document.querySelectorAll("tr[data-session]").length`, &sessions)
		if sessions < 1 {
			t.Errorf("张伟 has %d sessions listed, want his console login's", sessions)
		}
		tb.click("#revoke-all")
		tb.click("#revoke-all-yes")
		tb.waitJS("the revocation", `document.querySelector("#view .alert.ok") && document.querySelector("dd[data-fact=col_id]") && !document.querySelector("tr[data-session]")`)
		tb.screenshot("console-person-revoked")

		// The sign-in log shows what the API has, filtered; its CSV link
		// carries the filters.
		tb.click(`a[data-nav="signins"]`)
		tb.consolePage("signins", tb.consoleText("nav_signins"))
		tb.setValue(`#view input[name="user"]`, zzdSub)
		tb.click("#filter")
		tb.waitJS("the filter", `location.hash.indexOf("user=") > 0`)
		tb.waitJS("the filtered log", `location.hash.indexOf("user=`+zzdSub+`") > 0 && document.querySelector("#csv") && document.querySelector("#csv").getAttribute("href").indexOf("user=`+zzdSub+`") > 0 && document.querySelector("#view tbody")`)
		var apiItems, shown, others int
		tb.awaitJS(`fetch("/admin/api/v1/signins?limit=50&user=`+zzdSub+`").then(r => r.json()).then(d => d.items.length)`, &apiItems)
		tb.eval(`document.querySelectorAll("tr[data-signin]").length`, &shown)
		tb.eval(`Array.from(document.querySelectorAll("tr[data-signin] td:nth-child(2)")).filter(td => td.innerText.trim() !== `+strconv.Quote(zzdSub)+`).length`, &others)
		if shown != apiItems || others != 0 {
			t.Errorf("sign-in log filtered to 张伟 shows %d rows (%d of others); the API has %d", shown, others, apiItems)
		}
		if apiItems == 0 {
			t.Error("the sign-in log has no sign-in of 张伟, who just signed in to the console")
		}
		var success int
		tb.eval(`document.querySelectorAll('tr[data-signin][data-result="success"]').length`, &success)
		if success == 0 {
			t.Error("the sign-in log shows no successful sign-in of 张伟")
		}
		var csvStatus int
		tb.awaitJS(`fetch(document.querySelector("#csv").href).then(r => r.status)`, &csvStatus)
		if csvStatus != 200 {
			t.Errorf("the CSV download answers %d", csvStatus)
		}
		tb.screenshot("console-signins-filtered")

		// The console's logout ends its session.
		tb.click("#logout")
		tb.consolePage("signin", tb.consoleText("signin_title"))
	})
}

// TestConsoleRefusesNonAdmin: 张三 is no admin; his login to the console
// is refused and the console stays closed.
func TestConsoleRefusesNonAdmin(t *testing.T) {
	forLangs(t, "console-refused", func(t *testing.T, tb *tab) {
		consoleLogin(tb, "dingtalk")
		tb.run("wait for DingTalk's QR page", chromedp.WaitVisible(dtPerson, chromedp.ByQuery))
		tb.click(dtPerson)
		tb.page("error", "not_allowed_title")
		tb.run("open the console again", chromedp.Navigate(env.base+"/admin"))
		tb.consolePage("signin", tb.consoleText("signin_title"))
		var apiStatus int
		tb.awaitJS(`fetch("/admin/api/v1/clients").then(r => r.status)`, &apiStatus)
		if apiStatus != 401 {
			t.Errorf("the API answers 张三's browser %d, want 401", apiStatus)
		}
	})
}
