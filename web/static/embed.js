// Embedded QR login: the upstream's QR page runs in the frame and, once the
// person has scanned, posts {code, state} to this window. Only a message
// from the configured login host is accepted; the code then goes to our
// callback, with this page's own state, exactly as a full-page redirect
// would bring it. Real 浙政钉 pages may post the code without a state
// (public pages that embed the QR read only event.data.code; see
// docs/upstreams.md §1): a message without one, or with an empty one, is
// taken; one with another state is another login's and is ignored.
(function () {
  "use strict";
  var box = document.getElementById("qr");
  if (!box) { return; }
  var origin = box.getAttribute("data-origin");
  var callback = box.getAttribute("data-callback");
  var state = box.getAttribute("data-state");
  var frame = document.getElementById("qr-frame");
  var done = false;

  window.addEventListener("message", function (event) {
    if (done || event.origin !== origin) { return; }
    var data = event.data;
    if (typeof data === "string") {
      try { data = JSON.parse(data); } catch (e) { return; }
    }
    if (!data || typeof data.code !== "string" || data.code === "") { return; }
    var got = data.state;
    if (got !== undefined && got !== null && got !== "" && got !== state) { return; }
    done = true;
    var target = new URL(callback, window.location.href);
    target.searchParams.set("code", data.code);
    target.searchParams.set("state", state);
    window.location.assign(target.toString());
  });

  // A QR code goes stale after a few minutes: offer a fresh one.
  var seconds = parseInt(box.getAttribute("data-refresh") || "0", 10);
  var counter = document.getElementById("qr-countdown");
  if (seconds > 0 && frame) {
    var left = seconds;
    window.setInterval(function () {
      if (done) { return; }
      left -= 1;
      if (left <= 0) {
        frame.src = frame.getAttribute("data-src");
        left = seconds;
      }
      if (counter) { counter.textContent = String(left); }
    }, 1000);
  }
})();
