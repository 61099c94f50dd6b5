package keys

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Defaults for the zero values of Options.
const (
	DefaultRotationPeriod   = 720 * time.Hour
	DefaultPublishAhead     = time.Hour
	DefaultMaxTokenLifetime = time.Hour
	DefaultCacheTTL         = 30 * time.Second
	DefaultMaintainEvery    = time.Minute
)

// rotateWriteMargin is the time `keys rotate --now` allows for writing the
// new set (one statement) on top of CacheTTL before the new key signs.
const rotateWriteMargin = time.Second

// Options tune a Manager. Zero values take the defaults.
type Options struct {
	// RotationPeriod is how long a key signs before the next one takes
	// over. Default 720h (30 days).
	RotationPeriod time.Duration
	// PublishAhead is how long a new key is in the JWKS before it signs,
	// so relying parties that cache the JWKS know it. Default 1h.
	PublishAhead time.Duration
	// MaxTokenLifetime is the longest lifetime of anything signed (ID and
	// access tokens); a key that stopped signing stays published this
	// long. Default 1h.
	MaxTokenLifetime time.Duration
	// CacheTTL is how long the in-memory key set is trusted before it is
	// read again from the database (replicas converge through the
	// database). Default 30s.
	CacheTTL time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives key events (kids only, never key material).
	// Default slog.Default().
	Logger *slog.Logger
	// Random is the source for key ids (and for RSA generation, which
	// since Go 1.26 ignores it unless GODEBUG=cryptocustomrand=1).
	// Default crypto/rand.Reader.
	Random io.Reader
}

// Problems checks the rotation schedule as it is (zero values count as
// unset, not as defaults) and returns every problem. name turns an Options
// field name into the name the operator knows ("RotationPeriod" →
// "keys.rotation_period"); nil keeps the field names.
func (o Options) Problems(name func(field string) string) []error {
	if name == nil {
		name = func(f string) string { return f }
	}
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name(field), fmt.Sprintf(format, args...)))
	}
	switch {
	case o.RotationPeriod <= 0:
		add("RotationPeriod", "must be positive (got %s)", shortDuration(o.RotationPeriod))
	case o.RotationPeriod < time.Hour:
		add("RotationPeriod", "must be at least 1h (got %s)", shortDuration(o.RotationPeriod))
	}
	if o.PublishAhead <= 0 {
		add("PublishAhead", "must be positive (got %s)", shortDuration(o.PublishAhead))
	} else if o.RotationPeriod > 0 && o.PublishAhead >= o.RotationPeriod {
		add("PublishAhead", "must be shorter than %s (%s >= %s)", name("RotationPeriod"), shortDuration(o.PublishAhead), shortDuration(o.RotationPeriod))
	}
	return errs
}

// shortDuration writes d without zero units ("1h", "1h30m", "10s").
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
