package main

import (
	"log/slog"
	"runtime/debug"
	"testing"
)

// TestTuneGC: serve raises the collector's target unless GOGC is set.
func TestTuneGC(t *testing.T) {
	orig := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(orig) })
	log := slog.New(slog.DiscardHandler)

	tuneGC(func(string) string { return "" }, log)
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Errorf("without GOGC the target is %d, want %d", got, gcPercent)
	}
	tuneGC(func(k string) string { return map[string]string{"GOGC": "50"}[k] }, log)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set serve changed the target to %d", got)
	}
}
