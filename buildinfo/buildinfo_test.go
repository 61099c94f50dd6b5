package buildinfo

import (
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	if got := Version(); got == "" {
		t.Error("Version() is empty without a stamp; want the module version or (devel)")
	}
	old := version
	t.Cleanup(func() { version = old })
	version = "v1.2.3-4-gabcdef012345"
	if got := Version(); got != "v1.2.3-4-gabcdef012345" {
		t.Errorf("Version() = %q, want the stamped version", got)
	}
}

func TestGoVersion(t *testing.T) {
	if got := GoVersion(); !strings.HasPrefix(got, "go") || got != runtime.Version() {
		t.Errorf("GoVersion() = %q, want %q", got, runtime.Version())
	}
}
