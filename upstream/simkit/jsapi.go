package simkit

import (
	"net/http"
	"strings"
)

// The JSAPI stand-in: a script that plays the DingTalk or 浙政钉 app's
// JavaScript API inside an ordinary browser, so that dingoidc's in-app
// (免登) login page can be exercised in dev mode and in browser tests.
// Point an upstream's jsapi_url at it:
//
//	GET /simulator/jsapi/dd.js[?person…]  the script (window.dd)
//	GET /simulator/jsapi/code?…           the code it fetches (CORS open)
//
// The script defines window.dd with ready, error, getAuthCode({corpId,
// success, fail}) (a Promise as well as the callbacks) and
// runtime.permission.requestAuthCode({corpId, onSuccess, onFail}).
// getAuthCode fetches /simulator/jsapi/code next to the script, passing
// the script URL's own query and the corpId: the person is chosen there,
// as the logged-in app user would be.
//
// DingTalk: unionId=… (default: AutoApprove when it is a member of corpId,
// else the first member of corpId in fixture order); the answer is
// {"code"}. 浙政钉: app=<in-app AppKey> (default: the only in-app pair, or
// the first by AppKey), account=<accountId> (default: AutoApprove, else the
// lowest accountId); the answer is {"code","auth_code"}, or only code with
// platform=mobile, only auth_code with platform=pc, as the real app does.
// Failures answer 400 with a JSON error, and getAuthCode fails.
const JSAPIPrefix = "/simulator/jsapi/"

// jsapiScript is served as dd.js. It finds its own URL to locate the code
// endpoint and the person.
const jsapiScript = `// dingoidc simulator: JSAPI stand-in (window.dd). Not the real JSAPI.
(function () {
  "use strict";
  var self = document.currentScript ? document.currentScript.src : "";
  var base = new URL(self || "` + JSAPIPrefix + `dd.js", window.location.href);
  var platform = base.searchParams.get("platform") || "";
  var errorHandlers = [];
  function getAuthCode(opts) {
    opts = opts || {};
    var u = new URL("code", base);
    base.searchParams.forEach(function (v, k) { u.searchParams.set(k, v); });
    if (opts.corpId) { u.searchParams.set("corpId", opts.corpId); }
    var p = fetch(u.toString(), { method: "GET", mode: "cors", credentials: "omit", cache: "no-store" })
      .then(function (resp) {
        return resp.json().then(function (body) {
          if (!resp.ok || !body || (!body.code && !body.auth_code)) { throw body || { errorMessage: "no code" }; }
          if (platform === "pc") { delete body.code; }
          if (platform === "mobile") { delete body.auth_code; }
          return body;
        });
      });
    p.then(function (res) {
      if (typeof opts.success === "function") { opts.success(res); }
      if (typeof opts.onSuccess === "function") { opts.onSuccess(res); }
    }, function (err) {
      if (typeof opts.fail === "function") { opts.fail(err); }
      if (typeof opts.onFail === "function") { opts.onFail(err); }
      errorHandlers.forEach(function (h) { h(err); });
    });
    return p;
  }
  window.dd = {
    simulator: true,
    env: { platform: platform || "simulator" },
    ready: function (fn) { window.setTimeout(fn, 0); },
    error: function (fn) { errorHandlers.push(fn); },
    getAuthCode: getAuthCode,
    runtime: { permission: { requestAuthCode: getAuthCode } }
  };
})();
`

// ServeJSAPIScript answers dd.js; false for other paths.
func ServeJSAPIScript(w http.ResponseWriter, r *http.Request) bool {
	if strings.TrimPrefix(r.URL.Path, JSAPIPrefix) != "dd.js" {
		return false
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write([]byte(jsapiScript))
	return true
}

// JSAPICode reports whether r asks for the stand-in's code (any method;
// the script uses GET), with CORS opened for it.
func JSAPICode(w http.ResponseWriter, r *http.Request) bool {
	if strings.TrimPrefix(r.URL.Path, JSAPIPrefix) != "code" {
		return false
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cache-Control", "no-store")
	return true
}
