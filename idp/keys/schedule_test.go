package keys

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

// mk builds a sorted key set from "id@activeFrom[/retireAt]" specs, times
// in hours since t0.
func mk(t *testing.T, specs ...string) []storage.SigningKey {
	t.Helper()
	var ks []storage.SigningKey
	for _, s := range specs {
		id, rest, _ := strings.Cut(s, "@")
		from, retire, _ := strings.Cut(rest, "/")
		k := storage.SigningKey{ID: id, ActiveFrom: t0.Add(hours(t, from))}
		k.CreatedAt = k.ActiveFrom
		if retire != "" {
			k.RetireAt = t0.Add(hours(t, retire))
		}
		ks = append(ks, k)
	}
	sortKeys(ks)
	return ks
}

func hours(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s + "h")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func show(ks []storage.SigningKey) string {
	var out []string
	for _, k := range ks {
		s := fmt.Sprintf("%s@%g", k.ID, k.ActiveFrom.Sub(t0).Hours())
		if !k.RetireAt.IsZero() {
			s += fmt.Sprintf("/%g", k.RetireAt.Sub(t0).Hours())
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

var testOpts = Options{RotationPeriod: 720 * time.Hour, PublishAhead: time.Hour, MaxTokenLifetime: 2 * time.Hour}

func TestSigningIndex(t *testing.T) {
	tests := []struct {
		name string
		keys []string
		now  string
		want string // kid, or "" for none
	}{
		{"empty", nil, "0", ""},
		{"one key", []string{"a@0"}, "5", "a"},
		{"activates exactly now", []string{"a@0", "b@5"}, "5", "b"},
		{"next not yet", []string{"a@0", "b@5"}, "4.999", "a"},
		{"latest of several", []string{"a@0/7", "b@5", "c@6"}, "6.5", "c"},
		{"retired key never signs", []string{"a@0", "b@1/2"}, "3", "a"},
		{"clock behind the first key", []string{"a@1"}, "0.5", "a"},
		{"clock behind, earliest published", []string{"a@1", "b@2"}, "0.5", "a"},
		{"nothing published", []string{"a@0/1"}, "1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := mk(t, tt.keys...)
			i := signingIndex(ks, t0.Add(hours(t, tt.now)))
			got := ""
			if i >= 0 {
				got = ks[i].ID
			}
			if got != tt.want {
				t.Errorf("signing key %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNextActivation(t *testing.T) {
	tests := []struct {
		name   string
		keys   []string
		now    string
		want   string // hours since t0, or "" for no new key
		wantOK bool
	}{
		{"no keys: one now", nil, "3.0001", "3", true}, // 3h0m0.36s, rounded down to whole seconds
		{"fresh key", []string{"a@0"}, "1", "", false},
		{"just before publish time", []string{"a@0"}, "718.99", "", false},
		{"publish time", []string{"a@0"}, "719", "720", true},
		{"within publish window", []string{"a@0"}, "719.5", "720.5", true},
		{"long overdue", []string{"a@0"}, "2000", "2001", true},
		{"next key already waiting", []string{"a@0", "b@720"}, "719.5", "", false},
		{"signing key after a rotation", []string{"a@0/722", "b@720"}, "1000", "", false},
		{"due again", []string{"a@0/722", "b@720"}, "1439", "1440", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, ok := nextActivation(mk(t, tt.keys...), t0.Add(hours(t, tt.now)), testOpts)
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if ok && !at.Equal(t0.Add(hours(t, tt.want))) {
				t.Errorf("activates at %v, want %sh", at.Sub(t0), tt.want)
			}
		})
	}
}

func TestRetire(t *testing.T) {
	tests := []struct {
		name        string
		keys        []string
		now         string
		want        string
		wantChanged bool
	}{
		{"nothing to do", []string{"a@0"}, "100", "a@0", false},
		{"next key keeps old one signing", []string{"a@0", "b@720"}, "719.5", "a@0 b@720", false},
		{"successor signs: retire after max lifetime", []string{"a@0", "b@720"}, "720", "a@0/722 b@720", true},
		{"retire time kept", []string{"a@0/722", "b@720"}, "721", "a@0/722 b@720", false},
		{"dropped at retire time", []string{"a@0/722", "b@720"}, "722", "b@720", true},
		{"late maintenance retires and drops at once", []string{"a@0", "b@720"}, "800", "b@720", true},
		{"chain: only keys before the signing one retire", []string{"a@0", "b@10", "c@20"}, "11", "a@0/12 b@10 c@20", true},
		{"chain: each retires after its successor", []string{"a@0", "b@10", "c@20"}, "21", "b@10/22 c@20", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := retire(mk(t, tt.keys...), t0.Add(hours(t, tt.now)), testOpts)
			if s := show(got); s != tt.want || changed != tt.wantChanged {
				t.Errorf("retire = %q, %v; want %q, %v", s, changed, tt.want, tt.wantChanged)
			}
		})
	}
}
