package main

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// devLogin drives a browser (hc, with a cookie jar) from startURL through
// serve --dev's chooser and a simulated upstream, as a person would: for
// "dingtalk" the full-page QR, for "zzd" the embedded QR (replaying what
// embed.js does with the frame's message). It returns the last response,
// whose body has been read into the returned string.
func devLogin(t *testing.T, hc *http.Client, startURL, upstream string) (*http.Response, string) {
	t.Helper()
	get := func(u string) (*http.Response, string) {
		t.Helper()
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	find := func(page, pattern string) string {
		t.Helper()
		m := regexp.MustCompile(pattern).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no %s in page: %.600s", pattern, page)
		}
		return html.UnescapeString(m[1])
	}
	resolve := func(base *url.URL, ref string) string {
		r, err := base.Parse(ref)
		if err != nil {
			t.Fatal(err)
		}
		return r.String()
	}

	resp, page := get(startURL)
	if strings.Contains(page, "upstream="+upstream) { // the chooser
		resp, page = get(resolve(resp.Request.URL, find(page, `href="([^"]*upstream=`+upstream+`)"`)))
	}
	switch upstream {
	case "dingtalk":
		scan := resolve(resp.Request.URL, find(page, `href="([^"]*simulator/scan[^"]*)"`))
		return get(scan)
	case "zzd":
		frame := find(page, `id="qr-frame"[^>]* src="([^"]*)"`)
		callback, state := find(page, `data-callback="([^"]*)"`), find(page, `data-state="([^"]*)"`)
		fr, qr := get(frame)
		_, posted := get(resolve(fr.Request.URL, find(qr, `href="([^"]*simulator/approve[^"]*)"`)))
		code := find(posted, `postMessage\(\{code: "([0-9a-f]+)"`)
		return get(callback + "?" + url.Values{"code": {code}, "state": {state}}.Encode())
	}
	t.Fatalf("unknown upstream %q", upstream)
	return nil, ""
}
