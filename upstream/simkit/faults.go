// Package simkit holds what the upstream simulators (upstream/dingtalksim,
// upstream/zzdsim) share: the fault knobs and the JSAPI stand-in script.
package simkit

import (
	"sync"
	"time"
)

// Faults are the knobs tests turn to make a simulator misbehave. The zero
// value is a healthy upstream. Safe for concurrent use.
type Faults struct {
	mu          sync.Mutex
	expireCodes bool          // every login code is answered as expired/unknown
	badAuth     bool          // every credential or signature check fails
	delay       time.Duration // every API answer waits this long
	serverError bool          // every API call answers HTTP 5xx
}

// ExpireCodes makes every code look expired (or stops doing so).
func (f *Faults) ExpireCodes(on bool) { f.mu.Lock(); f.expireCodes = on; f.mu.Unlock() }

// BadAuth makes every signature or app-secret check fail.
func (f *Faults) BadAuth(on bool) { f.mu.Lock(); f.badAuth = on; f.mu.Unlock() }

// Delay makes every API answer wait d (0 for none).
func (f *Faults) Delay(d time.Duration) { f.mu.Lock(); f.delay = d; f.mu.Unlock() }

// ServerError makes every API call answer a 5xx.
func (f *Faults) ServerError(on bool) { f.mu.Lock(); f.serverError = on; f.mu.Unlock() }

// Snapshot returns the current knobs.
func (f *Faults) Snapshot() (expireCodes, badAuth, serverError bool, delay time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.expireCodes, f.badAuth, f.serverError, f.delay
}
