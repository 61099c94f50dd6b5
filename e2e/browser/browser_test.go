package browser_test

import (
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The dev server's test people (upstream/zzdsim and upstream/dingtalksim fixtures) and the
// subjects their logins produce.
const (
	zzdAccount = "71453920" // 张伟, 浙政钉
	zzdSub     = "zzd_71453920"
	dtUnionID  = "QY7vA9rRRxK4nQcn6zdha8MiEiE" // 张三, DingTalk corp A
	dtSub      = "dingtalk_QY7vA9rRRxK4nQcn6zdha8MiEiE"
	demoClient = "dingoidc demo"
)

var (
	zzdPerson   = `a[data-account-id="` + zzdAccount + `"]`
	dtPerson    = `a[data-union-id="` + dtUnionID + `"]`
	callbackZZD = regexp.MustCompile(`/login/zzd/callback\?`)
)

var langs = []string{"zh-CN", "en"}

// forLangs runs flow as one subtest per language.
func forLangs(t *testing.T, name string, flow func(t *testing.T, tb *tab)) {
	needBrowser(t)
	for _, lang := range langs {
		t.Run(lang, func(t *testing.T) { flow(t, newTab(t, lang, name)) })
	}
}

// toChooser opens the demo app, presses its login button and checks the
// chooser names both upstreams and the app.
func toChooser(tb *tab) {
	tb.t.Helper()
	tb.run("open the demo app", chromedp.Navigate(env.base+"/demo"))
	tb.screenshot("demo-home")
	tb.click(`a[href="/demo/login"]`)
	tb.page("chooser", "chooser_title")
	if got := tb.text("#client-name"); got != demoClient {
		tb.t.Errorf("chooser names the client %q, want %q", got, demoClient)
	}
	var n int
	tb.eval(`document.querySelectorAll("a[data-upstream]").length`, &n)
	if n != 2 {
		tb.t.Errorf("chooser offers %d upstreams, want 2 (zzd, dingtalk)", n)
	}
}

// toEmbed goes from the chooser to the 浙政钉 embedded-QR page.
func toEmbed(tb *tab) {
	tb.t.Helper()
	tb.click(`a[data-upstream="zzd"]`)
	tb.page("embed", "embed_title")
	if got := tb.text("#client-name"); got != demoClient {
		tb.t.Errorf("embed page names the client %q, want %q", got, demoClient)
	}
	tb.run("wait for the QR frame", chromedp.WaitVisible("#qr-frame", chromedp.ByQuery))
	tb.waitJS("the simulator's QR page in the frame", `(() => { const d = document.getElementById("qr-frame").contentDocument; return d && d.readyState === "complete" && d.querySelector(`+strconv.Quote(zzdPerson)+`); })()`)
	tb.screenshot("embed-with-qr")
}

// scanInFrame "scans" the embedded QR as 张伟: the simulator's page in the
// frame posts the code to the embed page, whose embed.js goes on.
func scanInFrame(tb *tab) {
	tb.t.Helper()
	tb.clickInFrame("#qr-frame", zzdPerson)
}

// frameShowsEveryone checks that the QR frame is at least 320 px tall (real
// pages frame the QR in 220×320 up to 360×360) and that the simulator's
// page in it shows every test person without scrolling inside the frame.
func frameShowsEveryone(tb *tab) {
	tb.t.Helper()
	var got struct {
		Height, Scroll, Bottom float64
		People                 int
	}
	tb.eval(`(() => {
		const f = document.getElementById("qr-frame"), d = f.contentDocument;
		const links = [...d.querySelectorAll("a[data-account-id]")];
		return {Height: f.clientHeight, Scroll: d.documentElement.scrollHeight, People: links.length,
			Bottom: Math.max(...links.map(a => a.getBoundingClientRect().bottom))};
	})()`, &got)
	if got.Height < 320 {
		tb.t.Errorf("QR frame is %.0f px tall, want at least 320", got.Height)
	}
	if got.People == 0 || got.Bottom > got.Height || got.Scroll > got.Height {
		tb.t.Errorf("the frame's %d test people end at %.0f px (page %.0f px) in a %.0f px frame: they need scrolling",
			got.People, got.Bottom, got.Scroll, got.Height)
	}
}

// TestEmbeddedQRLogin: chooser with both upstreams → 浙政钉 embedded QR →
// the real embed.js takes the frame's postMessage to the callback → the
// demo app has an ID token for 张伟.
func TestEmbeddedQRLogin(t *testing.T) {
	forLangs(t, "embedded", func(t *testing.T, tb *tab) {
		toChooser(tb)
		toEmbed(tb)
		frameShowsEveryone(tb)
		scanInFrame(tb)
		tb.demoResult(zzdSub)
		if got := tb.docRequests(callbackZZD); len(got) != 1 {
			t.Errorf("callback requested %d times, want once: %q", len(got), got)
		}
	})
}

// TestEmbeddedQRWithoutState: a QR page whose message carries the code
// alone, as real pages may send it (the simulator's omit_state switch),
// still completes the login: embed.js sends the page's own state.
func TestEmbeddedQRWithoutState(t *testing.T) {
	forLangs(t, "stateless", func(t *testing.T, tb *tab) {
		toChooser(tb)
		toEmbed(tb)
		tb.run("approve in the frame without state", chromedp.Evaluate(`(() => {
			const f = document.getElementById("qr-frame");
			const a = f.contentDocument.querySelector(`+strconv.Quote(zzdPerson)+`);
			f.contentWindow.location.href = a.href + "&omit_state=1";
			return true;
		})()`, nil))
		tb.demoResult(zzdSub)
		if got := tb.docRequests(callbackZZD); len(got) != 1 {
			t.Errorf("callback requested %d times, want once: %q", len(got), got)
		}
	})
}

// TestFullPageQRLogin: the embed page's fallback link opens 浙政钉's
// full-page QR; the scan redirects back and the login completes.
func TestFullPageQRLogin(t *testing.T) {
	forLangs(t, "fullpage", func(t *testing.T, tb *tab) {
		toChooser(tb)
		toEmbed(tb)
		tb.click("#fullpage")
		tb.run("wait for 浙政钉's full-page QR", chromedp.WaitVisible(zzdPerson, chromedp.ByQuery))
		tb.screenshot("zzd-fullpage-qr")
		tb.click(zzdPerson)
		tb.demoResult(zzdSub)
	})
}

// TestDingTalkLogin: the chooser's DingTalk button goes to DingTalk's
// full-page QR; the scan comes back with 张三's login.
func TestDingTalkLogin(t *testing.T) {
	forLangs(t, "dingtalk", func(t *testing.T, tb *tab) {
		toChooser(tb)
		tb.click(`a[data-upstream="dingtalk"]`)
		tb.run("wait for DingTalk's QR page", chromedp.WaitVisible(dtPerson, chromedp.ByQuery))
		tb.screenshot("dingtalk-qr")
		tb.click(dtPerson)
		tb.demoResult(dtSub)
	})
}

// TestStaleQRAndRetry: the countdown to the QR's refresh runs; a scan code
// the upstream no longer accepts gives the "QR expired" page, whose retry
// link starts a fresh scan that logs in; and a callback URL replayed after
// the login is refused with an error page.
func TestStaleQRAndRetry(t *testing.T) {
	forLangs(t, "stale", func(t *testing.T, tb *tab) {
		toChooser(tb)
		toEmbed(tb)

		// The countdown runs (the refresh itself comes after 170 s, too
		// long to wait for here).
		before := countdown(tb)
		time.Sleep(2200 * time.Millisecond)
		after := countdown(tb)
		if after >= before || after < before-4 {
			t.Errorf("countdown went from %d to %d in 2.2 s; want it to fall by about 2", before, after)
		}
		var src, dataSrc string
		tb.run("read the frame", chromedp.AttributeValue("#qr-frame", "src", &src, nil, chromedp.ByQuery),
			chromedp.AttributeValue("#qr-frame", "data-src", &dataSrc, nil, chromedp.ByQuery))
		if src == "" || src != dataSrc {
			t.Errorf("QR frame src %q, data-src %q: want the same, non-empty URL to reload", src, dataSrc)
		}

		// A code that is expired (or unknown) at the upstream, brought
		// back with this browser's state: the first-class retry page.
		var callback, state string
		tb.run("read the callback", chromedp.AttributeValue("#qr", "data-callback", &callback, nil, chromedp.ByQuery),
			chromedp.AttributeValue("#qr", "data-state", &state, nil, chromedp.ByQuery))
		stale := callback + "?" + url.Values{"code": {"0123456789abcdef0123456789abcdef"}, "state": {state}}.Encode()
		tb.run("bring back a stale code", chromedp.Navigate(stale))
		tb.page("error", "code_expired_title")
		tb.says("code_expired")
		tb.click("#retry")
		tb.page("embed", "embed_title")
		tb.waitJS("the QR in the frame", `(() => { const d = document.getElementById("qr-frame").contentDocument; return d && d.readyState === "complete" && d.querySelector(`+strconv.Quote(zzdPerson)+`); })()`)
		scanInFrame(tb)
		tb.demoResult(zzdSub)

		// The same callback URL again (code and state used): an error page.
		used := tb.docRequests(callbackZZD)
		if len(used) < 2 {
			t.Fatalf("want the stale and the real callback requests, got %q", used)
		}
		tb.run("replay the callback", chromedp.Navigate(used[len(used)-1]))
		tb.page("error", "error_title")
	})
}

func countdown(tb *tab) int {
	tb.t.Helper()
	s := tb.text("#qr-countdown")
	n, err := strconv.Atoi(s)
	if err != nil {
		tb.t.Fatalf("#qr-countdown shows %q, not a number", s)
	}
	return n
}

// TestEmbedIgnoresForeignMessages: embed.js takes no message with another
// non-empty state, nor a string that is not JSON, nor one without a code;
// the same page then follows a message with its own state, so the listener
// was live all along. (A message without a state is taken: see
// TestEmbeddedQRWithoutState.) (In dev mode the simulator shares our
// origin, so the origin check itself cannot be told apart here.)
func TestEmbedIgnoresForeignMessages(t *testing.T) {
	forLangs(t, "messages", func(t *testing.T, tb *tab) {
		toChooser(tb)
		toEmbed(tb)
		var before string
		tb.run("read the location", chromedp.Location(&before))
		tb.run("post foreign messages", chromedp.Evaluate(`
			window.postMessage({code: "x", state: "y"}, "*");
			window.postMessage(JSON.stringify({code: "x", state: "y"}), "*");
			window.postMessage("not json {", "*");
			window.postMessage({code: "0123456789abcdef0123456789abcdef", state: 7}, "*");
			window.postMessage({state: document.getElementById("qr").getAttribute("data-state")}, "*");
			window.postMessage({code: 42, state: document.getElementById("qr").getAttribute("data-state")}, "*");
			true`, nil))
		// Absence of a navigation can only be seen by waiting a little.
		time.Sleep(time.Second)
		var after string
		tb.run("read the location", chromedp.Location(&after))
		if after != before {
			t.Fatalf("a foreign message navigated the page: %s → %s", before, after)
		}
		if got := tb.docRequests(callbackZZD); len(got) != 0 {
			t.Fatalf("a foreign message reached the callback: %q", got)
		}
		tb.run("still the embed page", chromedp.WaitVisible(`main[data-page="embed"]`, chromedp.ByQuery))

		// Control: a message with this page's state is followed (the code
		// is unknown to the upstream, hence the retry page).
		tb.run("post the page's own message", chromedp.Evaluate(`
			window.postMessage({code: "0123456789abcdef0123456789abcdef", state: document.getElementById("qr").getAttribute("data-state")}, "*");
			true`, nil))
		tb.page("error", "code_expired_title")
		if got := tb.docRequests(callbackZZD); len(got) != 1 {
			t.Errorf("callback requested %d times, want once: %q", len(got), got)
		}
	})
}

// TestLogout: after a login the SSO session logs in again without a scan;
// the demo's Log out link ends it and returns to the demo (its registered
// post_logout_redirect_uri); a new login then asks for a scan again.
// end_session without a registered target shows the logged-out page.
func TestLogout(t *testing.T) {
	forLangs(t, "logout", func(t *testing.T, tb *tab) {
		toChooser(tb)
		tb.click(`a[data-upstream="dingtalk"]`)
		tb.click(dtPerson)
		tb.demoResult(dtSub)

		// SSO: straight back to the app.
		tb.markOld()
		tb.click(`a[href="/demo/login"]`)
		tb.demoResult(dtSub)

		tb.markOld()
		tb.click(`a[href^="` + env.base + `/end_session?"]`)
		tb.waitJS("the demo home page", `location.pathname === "/demo" && document.readyState === "complete" && !window.__dingoidcOld`)
		tb.screenshot("after-logout")
		tb.click(`a[href="/demo/login"]`)
		tb.page("chooser", "chooser_title")

		tb.run("open end_session", chromedp.Navigate(env.base+"/end_session"))
		tb.page("loggedout", "logged_out_title")
	})
}

// TestSessionSwap: a scan completed for browser A's login cannot finish a
// login in browser B (its own cookie jar): B opening A's approve link sees
// an error page, not the app; A's own scan still logs A in; and B opening
// A's callback URL afterwards is refused too.
func TestSessionSwap(t *testing.T) {
	forLangs(t, "swap", func(t *testing.T, a *tab) {
		toChooser(a)
		toEmbed(a)
		a.click("#fullpage")
		a.run("wait for 浙政钉's full-page QR", chromedp.WaitVisible(zzdPerson, chromedp.ByQuery))
		a.screenshot("a-fullpage-qr")
		var approve string
		a.eval(`document.querySelector(`+strconv.Quote(zzdPerson)+`).href`, &approve)
		if !strings.Contains(approve, "/simulator/approve?") {
			t.Fatalf("approve link is %q", approve)
		}

		b := newTab(t, a.lang, "swap-b")
		b.run("open A's approve link", chromedp.Navigate(approve))
		b.page("error", "error_title")
		b.says("other_browser")
		var path string
		b.eval(`location.pathname`, &path)
		if strings.HasPrefix(path, "/demo") {
			t.Fatalf("B reached the demo app at %s", path)
		}

		a.click(zzdPerson)
		a.demoResult(zzdSub)

		// Nor can B take over A's login at the step that hands out the
		// code: the callback, which sends A straight to the app (no
		// /authorize/callback hop carrying a completed request).
		if done := a.docRequests(regexp.MustCompile(`/authorize/callback\?id=`)); len(done) != 0 {
			t.Fatalf("A's login went through /authorize/callback: %q", done)
		}
		cb := a.docRequests(callbackZZD)
		if len(cb) != 1 {
			t.Fatalf("want A's one callback request, got %q", cb)
		}
		b.run("open A's callback", chromedp.Navigate(cb[0]))
		b.page("error", "error_title")
		b.says("other_browser")
		b.eval(`location.pathname`, &path)
		if strings.HasPrefix(path, "/demo") {
			t.Fatalf("B reached the demo app at %s", path)
		}
	})
}

// TestPhoneLayout: on a phone-sized screen the chooser, the embed page
// (QR frame included) and an error page fit the width: nothing scrolls
// sideways.
func TestPhoneLayout(t *testing.T) {
	forLangs(t, "phone", func(t *testing.T, tb *tab) {
		tb.run("emulate a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
		fits := func(what string) {
			t.Helper()
			var overflow bool
			tb.eval(`document.documentElement.scrollWidth > window.innerWidth`, &overflow)
			if overflow {
				var sw, iw int
				tb.eval(`document.documentElement.scrollWidth`, &sw)
				tb.eval(`window.innerWidth`, &iw)
				t.Errorf("%s page is %dpx wide on a %dpx screen", what, sw, iw)
			}
		}
		toChooser(tb)
		fits("chooser")
		toEmbed(tb)
		fits("embed")
		frameShowsEveryone(tb)
		var frameRight, width float64
		tb.eval(`document.getElementById("qr-frame").getBoundingClientRect().right`, &frameRight)
		tb.eval(`window.innerWidth`, &width)
		if frameRight > width {
			t.Errorf("QR frame ends at %.0fpx on a %.0fpx screen", frameRight, width)
		}
		tb.run("open end_session", chromedp.Navigate(env.base+"/end_session"))
		tb.page("loggedout", "logged_out_title")
		fits("logged-out")
	})
}

// TestKeyboardChooser: the chooser works without a mouse: Tab reaches the
// DingTalk button, Enter follows it, and the scan page comes.
func TestKeyboardChooser(t *testing.T) {
	forLangs(t, "keyboard", func(t *testing.T, tb *tab) {
		toChooser(tb)
		target := `a[data-upstream="dingtalk"]`
		for i := 0; ; i++ {
			var focused bool
			tb.eval(`document.activeElement && document.activeElement.matches(`+strconv.Quote(target)+`)`, &focused)
			if focused {
				break
			}
			if i == 10 {
				t.Fatalf("ten Tabs did not reach %s", target)
			}
			tb.run("press Tab", chromedp.KeyEvent(kb.Tab))
		}
		tb.screenshot("dingtalk-focused")
		tb.run("press Enter", chromedp.KeyEvent(kb.Enter))
		tb.run("wait for DingTalk's QR page", chromedp.WaitVisible(dtPerson, chromedp.ByQuery))
	})
}
