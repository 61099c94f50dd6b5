// Package browser holds the real-browser tests of the login experience.
// Debian's headless Chromium, driven by chromedp, logs in to the demo app
// of a `dingoidc serve --dev` (built and started once for the package)
// through the chooser, the embedded 浙政钉 QR (embed.js taking the frame's
// postMessage), the full-page QRs of both simulators, the "QR expired"
// retry page, in-app login (免登) with the simulators' JSAPI stand-in,
// logout and the session-swap refusal, and the admin console
// (console_test.go), in zh-CN and English, on a desktop
// and a phone-sized screen. Every page visited is saved as a PNG under
// testdata/out/ (gitignored, replaced by each run).
//
// Run: go test ./e2e/browser/ — it needs /usr/bin/chromium (apt-get
// install chromium; fonts-wqy-microhei makes Chinese text legible in the
// screenshots). Without Chromium the tests skip, or fail when CI=true.
package browser
