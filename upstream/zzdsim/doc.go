// Package zzdsim is a faithful simulator of the Zhezhengding (浙政钉 /
// 专有钉钉) login page and open-platform gateway as one http.Handler: the
// same paths, signatures, envelopes and error codes as the real service
// (docs/upstreams.md §1), for tests, dev mode, benchmarks and `dingoidc
// simulate`.
package zzdsim
