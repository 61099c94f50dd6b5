package main

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/dingoidc/dingoidc/buildinfo"
)

// versionInfo describes the binary.
type versionInfo struct {
	Version   string `json:"version"`            // stamped by scripts/release (git describe), else the module version, "(devel)" for a local build
	Revision  string `json:"revision,omitempty"` // vcs.revision
	Time      string `json:"time,omitempty"`     // vcs.time
	Modified  bool   `json:"modified,omitempty"` // vcs.modified: built from a dirty tree
	GoVersion string `json:"go_version"`
}

// buildVersion reads the version from the build info.
func buildVersion() versionInfo {
	v := versionInfo{Version: buildinfo.Version(), GoVersion: buildinfo.GoVersion()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the one-line form: "dingoidc v1.2.0 (abcdef012345, 2025-01-02T03:04:05Z) go1.26.8".
func (v versionInfo) String() string {
	s := "dingoidc " + v.Version
	if v.Revision != "" {
		rev := v.Revision
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if v.Modified {
			rev += "+dirty"
		}
		if v.Time != "" {
			rev += ", " + v.Time
		}
		s += " (" + rev + ")"
	}
	return s + " " + v.GoVersion
}

func (c *cli) version(_ context.Context, name string, args []string) error {
	fs, o := c.flagSet(name, "", "Print the version: module version, VCS revision and Go version.")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	v := buildVersion()
	if o.json {
		return writeJSON(c.stdout, v)
	}
	_, err := fmt.Fprintln(c.stdout, v)
	return err
}
