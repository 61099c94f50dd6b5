// Package buildinfo holds the version stamped into the binary at build time.
//
// scripts/release (and the Dockerfile) set it from `git describe`:
//
//	go build -ldflags "-X github.com/dingoidc/dingoidc/buildinfo.version=v1.2.0" ./cmd/dingoidc
//
// A plain `go build` or `go run` leaves it empty, and Version falls back to
// the module version the Go toolchain recorded ("(devel)" for a checkout).
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// version is set with -ldflags -X; see the package comment.
var version string

// Version is the release version: the stamped one, else the module version
// from the build info, else "(devel)".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// GoVersion is the Go release the binary was built with.
func GoVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.GoVersion != "" {
		return bi.GoVersion
	}
	return runtime.Version()
}
