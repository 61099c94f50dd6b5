package main

import (
	"log/slog"
	"runtime/debug"
)

// maxHeaderBytes caps a request's header block (Go's default is 1 MB). It
// leaves room for a few login cookies of ~4 KB each (idp/cookies.go).
const maxHeaderBytes = 64 << 10

// gcPercent is serve's garbage-collector target unless GOGC is set. The
// live heap is small (a few MiB: keys, clients and requests in flight), so
// at Go's default of 100 the collector runs very often and took 5 % of the
// server's CPU in a login profile; 200 halves that, for a higher peak RSS
// under load (docs/performance.md).
const gcPercent = 200

// tuneGC sets gcPercent unless the operator chose with GOGC.
func tuneGC(getenv func(string) string, log *slog.Logger) {
	if v := getenv("GOGC"); v != "" {
		log.Debug("garbage collector target from GOGC", "GOGC", v)
		return
	}
	debug.SetGCPercent(gcPercent)
}
