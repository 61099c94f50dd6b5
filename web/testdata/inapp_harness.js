// Runs web/static/inapp.js against a fake DOM and a fake window.dd of the
// kind named by argv[3]; prints what the page did as JSON. Used by
// TestInAppScriptBehaviour (when node is installed).
const fs = require("fs");
const src = fs.readFileSync(process.argv[2], "utf8");
const mode = process.argv[3];
const attrs = {"data-callback": "https://sso.example/login/dt/callback", "data-state": "ST.SIG", "data-corp-id": "corp1", "data-failed-text": "FAILED", "data-nojsapi-text": "NOJSAPI"};
const box = { getAttribute: k => attrs[k], setAttribute: (k, v) => { attrs[k] = v; } };
const status = { textContent: "working" };
const fallback = { className: "button secondary", focus() { this.focused = true; } };
let navigated = null, timers = [];
global.document = { getElementById: id => ({inapp: box, "inapp-status": status, fallback}[id] || null) };
global.window = { location: { href: "https://sso.example/login?id=x", replace: u => { navigated = u; } }, setTimeout: (f) => timers.push(f) };
const modes = {
  callback: { ready: f => f(), getAuthCode: o => o.success({code: "c0de"}) },
  unified: { ready: f => f(), getAuthCode: o => o.success({authCode: "un1"}) },
  promise_pc: { ready: f => f(), getAuthCode: o => Promise.resolve({auth_code: "pc0de"}) },
  legacy: { ready: f => f(), runtime: { permission: { requestAuthCode: o => o.onSuccess({code: "leg"}) } } },
  fail: { ready: f => f(), getAuthCode: o => o.fail({errorCode: "3"}) },
  none: undefined,
  empty: { ready: f => f(), getAuthCode: o => o.success({}) },
};
window.dd = modes[mode];
new Function("window", "document", "URL", src)(window, document, URL);
setImmediate(() => {
  if (mode !== "promise_pc") timers.forEach(f => f());
  console.log(JSON.stringify({mode, navigated, result: attrs["data-result"], status: status.textContent, fallback: fallback.focused || false}));
});
