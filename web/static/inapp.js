// In-app login (免登): inside the DingTalk or 浙政钉 app, the app's JSAPI
// (loaded just before this script) gives a login code without a scan.
// dd.getAuthCode({corpId}) answers {code} (浙政钉 on PC: {auth_code}); the
// code goes to our callback as auth_code with the signed state. Older
// DingTalk JSAPIs only have dd.runtime.permission.requestAuthCode. When no
// code comes, the page says so and offers the QR login (#fallback).
(function () {
  "use strict";
  var box = document.getElementById("inapp");
  if (!box) { return; }
  var callback = box.getAttribute("data-callback");
  var state = box.getAttribute("data-state");
  var corpId = box.getAttribute("data-corp-id") || "";
  var status = document.getElementById("inapp-status");
  var fallback = document.getElementById("fallback");
  var done = false;

  // fail shows the failure (text, or the page's generic failure text) and
  // offers the QR login.
  function fail(text) {
    if (done) { return; }
    done = true;
    box.setAttribute("data-result", "failed");
    if (typeof text !== "string" || text === "") { text = box.getAttribute("data-failed-text"); }
    if (status) { status.textContent = text; }
    var title = document.getElementById("title");
    if (title) { title.textContent = box.getAttribute("data-failed-title"); }
    if (fallback) { fallback.className = "button"; fallback.focus(); }
  }

  function finish(res) {
    if (done) { return; }
    // The unified dd.getAuthCode answers {authCode}; the older
    // requestAuthCode {code}; 浙政钉 on a PC {auth_code}.
    var code = "";
    ["authCode", "code", "auth_code"].forEach(function (k) {
      if (code === "" && res && typeof res[k] === "string") { code = res[k]; }
    });
    if (code === "") { fail(); return; }
    done = true;
    box.setAttribute("data-result", "ok");
    var target = new URL(callback, window.location.href);
    target.searchParams.set("auth_code", code);
    target.searchParams.set("state", state);
    window.location.replace(target.toString());
  }

  // The JSAPI script (jsapi_url) loaded nothing usable: blocked, a wrong
  // URL, or not inside the app. Say so rather than just offering the QR.
  var dd = window.dd;
  if (!dd) { fail(box.getAttribute("data-nojsapi-text")); return; }

  function run() {
    try {
      var p;
      if (typeof dd.getAuthCode === "function") {
        p = dd.getAuthCode({ corpId: corpId, success: finish, fail: function () { fail(); } });
      } else if (dd.runtime && dd.runtime.permission && typeof dd.runtime.permission.requestAuthCode === "function") {
        p = dd.runtime.permission.requestAuthCode({ corpId: corpId, onSuccess: finish, onFail: function () { fail(); } });
      } else {
        fail();
        return;
      }
      if (p && typeof p.then === "function") { p.then(finish, function () { fail(); }); }
    } catch (e) {
      fail();
    }
  }

  if (typeof dd.error === "function") { dd.error(function () { fail(); }); }
  if (typeof dd.ready === "function") { dd.ready(run); } else { run(); }
  // The app answers at once; a JSAPI that never does leaves the QR login.
  window.setTimeout(function () { fail(); }, 15000);
})();
