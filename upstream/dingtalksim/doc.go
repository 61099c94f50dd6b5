// Package dingtalksim is a faithful simulator of the DingTalk (钉钉) hosts
// dingoidc calls (login.dingtalk.com, api.dingtalk.com, oapi.dingtalk.com)
// as one http.Handler: the same paths, envelopes and error codes as the
// real service (docs/upstreams.md §2), for tests, dev mode and benchmarks.
// Fixture returns its built-in test directory.
package dingtalksim
