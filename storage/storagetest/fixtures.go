package storagetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/storage"
)

// base is the suite's clock: every `now` is base plus or minus something.
// It has microseconds (and no finer part) on purpose.
var base = time.Date(2026, 11, 21, 10, 0, 0, 123456000, time.UTC)

// hash stands in for the SHA-256 hashes the callers store.
func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func newClient(id string) *storage.Client {
	return &storage.Client{
		ID:                     id,
		SecretHash:             hash("secret:" + id),
		Name:                   "Client " + id,
		RedirectURIs:           []string{"https://" + id + ".example.com/callback", "http://127.0.0.1:9000/cb"},
		PostLogoutRedirectURIs: []string{"https://" + id + ".example.com/"},
		Upstreams:              []string{"zzd"},
		AccessTokenFormat:      "jwt",
		AllowedGroups:          []string{"ops", "运维组"},
		AllowedTenants:         []string{"196729"},
		CreatedAt:              base.Add(-48 * time.Hour),
		UpdatedAt:              base.Add(-48 * time.Hour),
	}
}

func newUser(upstream, key string) *storage.User {
	return &storage.User{
		ID:          upstream + "_" + key,
		Upstream:    upstream,
		ExternalID:  key,
		Claims:      []byte(`{"name":"张三","groups":["ops"],"account_id":"` + key + `"}`),
		CreatedAt:   base.Add(-time.Hour),
		UpdatedAt:   base.Add(-time.Hour),
		LastLoginAt: base.Add(-time.Hour),
		// UpsertUser sets LastCheckedAt to LastLoginAt.
		LastCheckedAt: base.Add(-time.Hour),
	}
}

func mustUser(t *testing.T, s storage.Store, upstream, key string) *storage.User {
	t.Helper()
	u, err := s.UpsertUser(t.Context(), newUser(upstream, key))
	if err != nil {
		t.Fatalf("UpsertUser(%s_%s): %v", upstream, key, err)
	}
	return u
}

func mustClient(t *testing.T, s storage.Store, id string) *storage.Client {
	t.Helper()
	c := newClient(id)
	if err := s.CreateClient(t.Context(), c); err != nil {
		t.Fatalf("CreateClient(%s): %v", id, err)
	}
	return c
}

func newSession(userID, name string) *storage.Session {
	return &storage.Session{
		IDHash:         hash("session:" + name),
		UserID:         userID,
		Upstream:       "zzd",
		AuthTime:       base.Add(-time.Minute),
		AMR:            []string{"qr", "mfa"},
		ExpiresAt:      base.Add(12 * time.Hour),
		LoginStateHash: hash("state:" + name),
		CreatedAt:      base.Add(-time.Minute),
	}
}

func mustSession(t *testing.T, s storage.Store, userID, name string) *storage.Session {
	t.Helper()
	sess := newSession(userID, name)
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession(%s): %v", name, err)
	}
	return sess
}

// newGrant returns a grant with a refresh family at generation 0.
func newGrant(clientID, userID, name string) *storage.Grant {
	return &storage.Grant{
		ID:                "grant-" + name,
		ClientID:          clientID,
		UserID:            userID,
		Scopes:            []string{"openid", "profile", "offline_access"},
		Audience:          []string{clientID},
		AuthTime:          base.Add(-time.Minute),
		AMR:               []string{"qr"},
		CodeHash:          hash("code:" + name),
		RefreshID:         "refresh-" + name,
		RefreshGeneration: 0,
		RefreshHash:       refreshHash(name, 0),
		CreatedAt:         base,
		ExpiresAt:         base.Add(30 * 24 * time.Hour),
	}
}

func refreshHash(name string, generation int64) []byte {
	return hash(fmt.Sprintf("refresh:%s:%d", name, generation))
}

func mustGrant(t *testing.T, s storage.Store, g *storage.Grant) {
	t.Helper()
	if _, err := s.CreateGrant(t.Context(), g); err != nil {
		t.Fatalf("CreateGrant(%s): %v", g.ID, err)
	}
}

func mustGetGrant(t *testing.T, s storage.Store, id string, now time.Time) *storage.Grant {
	t.Helper()
	g, _, err := s.GetGrant(t.Context(), id, now)
	if err != nil {
		t.Fatalf("GetGrant(%s): %v", id, err)
	}
	return g
}

func wantErr(t *testing.T, op string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want %v", op, err, target)
	}
}

func noErr(t *testing.T, op string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", op, err)
	}
}

// race calls f(0) … f(n-1) at once, each in its own goroutine, and returns
// their errors.
func race(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// exactlyOneWinner checks that one call succeeded and every other failed
// with loser; it returns the winner's index.
func exactlyOneWinner(t *testing.T, op string, errs []error, loser error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("%s: calls %d and %d both succeeded", op, winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, loser):
			t.Errorf("%s: call %d: err = %v, want %v", op, i, err, loser)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: no call succeeded", op)
	}
	return winner
}

var (
	timeType    = reflect.TypeFor[time.Time]()
	bytesType   = reflect.TypeFor[[]byte]()
	stringsType = reflect.TypeFor[[]string]()
)

// jsonFields are compared as JSON values, not bytes, so that a backend may
// store them in a normalising type (Postgres jsonb).
var jsonFields = map[string]bool{"Claims": true, "Details": true}

// check reports every field in which got differs from want. Both are
// structs or pointers to structs of the same type. Times compare with
// time.Equal and got's must be in UTC; byte and string slices compare by
// content (nil equals empty); Claims and Details compare as JSON.
func check(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := diff(want, got); len(d) > 0 {
		t.Errorf("%s differs:\n\t%s", what, strings.Join(d, "\n\t"))
	}
}

func diff(want, got any) []string {
	wv, gv := reflect.ValueOf(want), reflect.ValueOf(got)
	if wv.Kind() == reflect.Pointer {
		if wv.IsNil() || gv.IsNil() {
			if wv.IsNil() != gv.IsNil() {
				return []string{fmt.Sprintf("want %v, got %v", want, got)}
			}
			return nil
		}
		wv, gv = wv.Elem(), gv.Elem()
	}
	var out []string
	for i := range wv.NumField() {
		f := wv.Type().Field(i)
		w, g := wv.Field(i).Interface(), gv.Field(i).Interface()
		switch f.Type {
		case timeType:
			wt, gt := w.(time.Time), g.(time.Time)
			if !wt.Equal(gt) {
				out = append(out, fmt.Sprintf("%s: want %v, got %v", f.Name, wt, gt))
			}
			if gt.Location() != time.UTC {
				out = append(out, fmt.Sprintf("%s: %v is not in UTC", f.Name, gt))
			}
		case bytesType:
			wb, gb := w.([]byte), g.([]byte)
			if jsonFields[f.Name] {
				if !jsonEqual(wb, gb) {
					out = append(out, fmt.Sprintf("%s: want %s, got %s", f.Name, wb, gb))
				}
			} else if !bytes.Equal(wb, gb) {
				out = append(out, fmt.Sprintf("%s: want %x, got %x", f.Name, wb, gb))
			}
		case stringsType:
			if ws, gs := w.([]string), g.([]string); !slices.Equal(ws, gs) {
				out = append(out, fmt.Sprintf("%s: want %q, got %q", f.Name, ws, gs))
			}
		default:
			if !reflect.DeepEqual(w, g) {
				out = append(out, fmt.Sprintf("%s: want %v, got %v", f.Name, w, g))
			}
		}
	}
	return out
}

func jsonEqual(a, b []byte) bool {
	if len(a) == 0 || len(b) == 0 {
		return isEmptyJSON(a) && isEmptyJSON(b)
	}
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}

// isEmptyJSON: nothing, null and {} all mean "no claims / no details".
func isEmptyJSON(b []byte) bool {
	switch strings.TrimSpace(string(b)) {
	case "", "null", "{}":
		return true
	}
	return false
}
