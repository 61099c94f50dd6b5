package keys

import (
	"slices"
	"strings"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

// The schedule, as pure functions of a set sorted by sortKeys.

// sortKeys orders keys by activation (ties: creation, then kid).
func sortKeys(ks []storage.SigningKey) {
	slices.SortStableFunc(ks, func(a, b storage.SigningKey) int {
		if c := a.ActiveFrom.Compare(b.ActiveFrom); c != 0 {
			return c
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// published reports whether k is in the JWKS at now.
func published(k *storage.SigningKey, now time.Time) bool {
	return k.RetireAt.IsZero() || k.RetireAt.After(now)
}

// signingIndex returns the index of the key that signs at now: among the
// published keys, the one with the latest ActiveFrom not after now. If
// every published key activates later (a replica whose clock is behind
// the one that created the first key), the earliest of them signs: it is
// published already. -1 if no key is published.
func signingIndex(ks []storage.SigningKey, now time.Time) int {
	cur, first := -1, -1
	for i := range ks {
		if !published(&ks[i], now) {
			continue
		}
		if first < 0 {
			first = i
		}
		if ks[i].ActiveFrom.After(now) {
			break
		}
		cur = i
	}
	if cur < 0 {
		return first
	}
	return cur
}

// nextActivation reports whether a key must be added at now, and when it
// is to start signing: at once if there is no key; otherwise, if no next
// key is waiting and the current one is due for rotation within
// PublishAhead, at max(now+PublishAhead, current.ActiveFrom+RotationPeriod).
func nextActivation(ks []storage.SigningKey, now time.Time, o Options) (time.Time, bool) {
	cur := signingIndex(ks, now)
	if cur < 0 {
		return floorSecond(now), true
	}
	if cur < len(ks)-1 {
		return time.Time{}, false // a next key is published already
	}
	due := ks[cur].ActiveFrom.Add(o.RotationPeriod)
	if now.Before(due.Add(-o.PublishAhead)) {
		return time.Time{}, false
	}
	at := ceilSecond(now.Add(o.PublishAhead))
	if due.After(at) {
		at = due
	}
	return at, true
}

// retire sets RetireAt on keys that stopped signing (their successor's
// ActiveFrom plus MaxTokenLifetime) and drops keys retired by now. It
// reports whether anything changed.
func retire(ks []storage.SigningKey, now time.Time, o Options) ([]storage.SigningKey, bool) {
	cur := signingIndex(ks, now)
	changed := false
	for i := 0; i < cur; i++ {
		if ks[i].RetireAt.IsZero() {
			ks[i].RetireAt = ceilSecond(ks[i+1].ActiveFrom.Add(o.MaxTokenLifetime))
			changed = true
		}
	}
	out := ks[:0]
	for _, k := range ks {
		if published(&k, now) {
			out = append(out, k)
		} else {
			changed = true
		}
	}
	return out, changed
}

// floorSecond and ceilSecond round to whole seconds in UTC: every time the
// manager stores is whole seconds, which any backend keeps exactly.
func floorSecond(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

func ceilSecond(t time.Time) time.Time {
	f := floorSecond(t)
	if f.Before(t) {
		return f.Add(time.Second)
	}
	return f
}
