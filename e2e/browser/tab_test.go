package browser_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// outDir receives a PNG of every page the tests visit.
const outDir = "testdata/out"

// flowTimeout bounds one flow in one language.
const flowTimeout = 30 * time.Second

var acceptLanguage = map[string]string{"zh-CN": "zh-CN,zh;q=0.9", "en": "en"}

// tab is one browser tab in its own browser context (its own cookie jar),
// sending the Accept-Language of lang.
type tab struct {
	t    *testing.T
	ctx  context.Context
	lang string
	name string // screenshot file prefix
	shot int

	mu       sync.Mutex
	docs     []string // URLs of document requests, frames included
	problems []string // JS exceptions and security (CSP) messages
}

func newTab(t *testing.T, lang, name string) *tab {
	t.Helper()
	needBrowser(t)
	// A browser context of its own, opened in a new window: this
	// Chromium refuses a new tab in a context that has no window yet,
	// which is what chromedp.WithNewBrowserContext asks for.
	browser := cdp.WithExecutor(env.browser, chromedp.FromContext(env.browser).Browser)
	bctx, err := target.CreateBrowserContext().WithDisposeOnDetach(true).Do(browser)
	if err != nil {
		t.Fatalf("new browser context: %v", err)
	}
	tid, err := target.CreateTarget("about:blank").WithBrowserContextID(bctx).WithNewWindow(true).
		WithWidth(1024).WithHeight(900).Do(browser)
	if err != nil {
		t.Fatalf("new window: %v", err)
	}
	ctx, cancel := chromedp.NewContext(env.browser, chromedp.WithTargetID(tid))
	ctx, cancelTimeout := context.WithTimeout(ctx, flowTimeout)
	tb := &tab{t: t, ctx: ctx, lang: lang, name: name}
	t.Cleanup(func() {
		cancelTimeout()
		cancel()
		_ = target.CloseTarget(tid).Do(browser)
		_ = target.DisposeBrowserContext(bctx).Do(browser)
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, p := range tb.problems {
			t.Errorf("browser (%s): %s", name, p)
		}
		if t.Failed() {
			t.Logf("dingoidc log (tail):\n%s", env.log.tail(30))
			t.Logf("chromium output (tail):\n%s", env.chromium.tail(30))
		}
	})
	chromedp.ListenTarget(ctx, func(ev any) {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			if e.Type == network.ResourceTypeDocument {
				tb.docs = append(tb.docs, e.Request.URL)
			}
		case *runtime.EventExceptionThrown:
			tb.problems = append(tb.problems, "exception: "+e.ExceptionDetails.Error())
		case *cdplog.EventEntryAdded:
			if e.Entry.Source == cdplog.SourceSecurity || e.Entry.Level == cdplog.LevelError && e.Entry.Source == cdplog.SourceJavascript {
				tb.problems = append(tb.problems, fmt.Sprintf("%s %s: %s (%s)", e.Entry.Source, e.Entry.Level, e.Entry.Text, e.Entry.URL))
			}
		}
	})
	tb.run("open tab", network.Enable(), runtime.Enable(), cdplog.Enable(),
		network.SetExtraHTTPHeaders(network.Headers{"Accept-Language": acceptLanguage[lang]}))
	return tb
}

// run runs actions, failing the test with what the page shows on error.
func (tb *tab) run(what string, actions ...chromedp.Action) {
	tb.t.Helper()
	if err := chromedp.Run(tb.ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v\n%s", what, err, tb.describe())
	}
}

// describe is where the tab is and what it shows, for failure messages.
func (tb *tab) describe() string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(tb.ctx), 3*time.Second)
	defer cancel()
	var loc, text string
	_ = chromedp.Run(ctx, chromedp.Location(&loc), chromedp.Evaluate(`document.body ? document.body.innerText : ""`, &text))
	if len(text) > 800 {
		text = text[:800] + "…"
	}
	return fmt.Sprintf("at %s:\n%s", loc, text)
}

// eval evaluates expr into res.
func (tb *tab) eval(expr string, res any) {
	tb.t.Helper()
	tb.run("evaluate "+expr, chromedp.Evaluate(expr, res))
}

// waitJS polls expr (a boolean expression) until it is true, across
// navigations, where a selector wait would look at the old page.
func (tb *tab) waitJS(what, expr string) {
	tb.t.Helper()
	for {
		var ok bool
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		err := chromedp.Run(ctx, chromedp.Evaluate(`!!(`+expr+`)`, &ok))
		cancel()
		if err == nil && ok {
			return
		}
		select {
		case <-tb.ctx.Done():
			tb.t.Fatalf("waiting for %s: %v\n%s", what, tb.ctx.Err(), tb.describe())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// screenshot saves the page as testdata/out/<flow>-<lang>-<n>-<what>.png.
func (tb *tab) screenshot(what string) {
	tb.t.Helper()
	var png []byte
	tb.run("screenshot "+what, chromedp.FullScreenshot(&png, 100))
	tb.shot++
	path := filepath.Join(outDir, fmt.Sprintf("%s-%s-%02d-%s.png", tb.name, tb.lang, tb.shot, what))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot: %s", path)
}

// page waits for one of dingoidc's pages (main[data-page=kind]), checks
// its language and heading against the message files, and saves it.
func (tb *tab) page(kind, titleKey string) {
	tb.t.Helper()
	tb.run("wait for the "+kind+" page", chromedp.WaitVisible(`main[data-page="`+kind+`"]`, chromedp.ByQuery))
	// One evaluation, not node queries: a frame loading in the page (the
	// embedded QR) may renew the DOM node ids chromedp holds meanwhile.
	var got struct{ Lang, H1 string }
	tb.eval(`(() => { const h = document.querySelector('main[data-page="`+kind+`"] h1');
		return {Lang: document.documentElement.lang, H1: h ? h.innerText : ""}; })()`, &got)
	lang, h1 := got.Lang, got.H1
	if lang != tb.lang {
		tb.t.Errorf("%s page: <html lang=%q>, want %q", kind, lang, tb.lang)
	}
	if want := env.messages[tb.lang][titleKey]; strings.TrimSpace(h1) != want {
		tb.t.Errorf("%s page: heading %q, want %q (%s)", kind, h1, want, titleKey)
	}
	tb.screenshot(kind)
}

// says checks that the page's main element shows the message key.
func (tb *tab) says(key string) {
	tb.t.Helper()
	want := env.messages[tb.lang][key]
	if got := tb.text("main"); !strings.Contains(got, want) {
		tb.t.Errorf("page does not say %q (%s):\n%s", want, key, got)
	}
}

// text is the visible text of the first element matching sel.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	tb.run("wait for "+sel, chromedp.WaitVisible(sel, chromedp.ByQuery))
	var s string
	tb.eval(`(() => { const e = document.querySelector(`+strconv.Quote(sel)+`); return e ? e.innerText : ""; })()`, &s)
	return strings.TrimSpace(s)
}

// click clicks sel (a real mouse click) on the current page.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.run("click "+sel, chromedp.WaitVisible(sel, chromedp.ByQuery), chromedp.Click(sel, chromedp.ByQuery))
}

// clickInFrame clicks, with the mouse, the element matching sel inside
// the same-origin iframe frameSel, once the frame has it.
func (tb *tab) clickInFrame(frameSel, sel string) {
	tb.t.Helper()
	js := fmt.Sprintf(`(() => {
		const f = document.querySelector(%q);
		const d = f && f.contentDocument;
		const a = d && d.readyState === "complete" && d.querySelector(%q);
		if (!a) { return null; }
		a.scrollIntoView({block: "center"});
		const fr = f.getBoundingClientRect(), r = a.getBoundingClientRect();
		if (r.width === 0 || r.height === 0) { return null; }
		return [fr.left + f.clientLeft + r.left + r.width / 2, fr.top + f.clientTop + r.top + r.height / 2];
	})()`, frameSel, sel)
	tb.waitJS(sel+" in "+frameSel, js)
	var xy []float64
	tb.eval(js, &xy)
	tb.run("click "+sel+" in "+frameSel, chromedp.MouseClickXY(xy[0], xy[1]))
}

// demoResult waits for the demo app's page after a login and returns its
// text, failing unless it shows a login as sub.
func (tb *tab) demoResult(sub string) string {
	tb.t.Helper()
	tb.waitJS("the demo app's callback page", `location.pathname === "/demo/callback" && document.readyState === "complete" && !window.__dingoidcOld`)
	var text string
	tb.eval(`document.body.innerText`, &text)
	tb.screenshot("demo-result")
	if !strings.Contains(text, "Logged in as") || !strings.Contains(text, sub) {
		tb.t.Fatalf("demo app does not show a login as %s:\n%s", sub, text)
	}
	return text
}

// markOld tags the current document, so waitJS can tell the next one.
func (tb *tab) markOld() {
	tb.t.Helper()
	tb.run("mark the page", chromedp.Evaluate(`window.__dingoidcOld = true`, nil))
}

// docRequests are the document URLs requested so far matching re.
func (tb *tab) docRequests(re *regexp.Regexp) []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []string
	for _, u := range tb.docs {
		if re.MatchString(u) {
			out = append(out, u)
		}
	}
	return out
}
