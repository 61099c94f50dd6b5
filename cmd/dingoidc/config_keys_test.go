package main

import (
	"strings"
	"testing"
	"time"

	"github.com/dingoidc/dingoidc/idp/keys"
)

// TestKeysCacheTTL: keys.cache_ttl defaults to keys.DefaultCacheTTL, is
// bounded (1s to 10m), reaches the key manager, shows in config check, and
// sets when `keys rotate --now` makes the new key sign.
func TestKeysCacheTTL(t *testing.T) {
	load := func(t *testing.T, extra string) (*FileConfig, error) {
		t.Helper()
		path := writeFile(t, "dingoidc.yaml", validConfig(t.TempDir())+extra)
		return loadConfig(path, fakeEnv{}.getenv, loadOptions{Serve: true})
	}

	cfg, err := load(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.keysOptions(nil).CacheTTL; got != keys.DefaultCacheTTL {
		t.Errorf("default cache_ttl %s, want %s", got, keys.DefaultCacheTTL)
	}
	for _, ok := range []string{"1s", "2s", "90s", "10m"} {
		cfg, err := load(t, "keys: {cache_ttl: "+ok+"}\n")
		if err != nil {
			t.Errorf("cache_ttl %s: %v", ok, err)
			continue
		}
		want, _ := time.ParseDuration(ok)
		if got := cfg.keysOptions(nil).CacheTTL; got != want {
			t.Errorf("cache_ttl %s: keys.Options.CacheTTL %s", ok, got)
		}
	}
	for _, bad := range []string{"0s", "999ms", "-1s", "10m1s", "1h"} {
		_, err := load(t, "keys: {cache_ttl: "+bad+"}\n")
		if err == nil {
			t.Errorf("cache_ttl %s accepted", bad)
			continue
		}
		got := problems(t, err)
		if len(got) != 1 || !strings.HasPrefix(got[0], "keys.cache_ttl: "+bad+" is out of range (1s to 10m") {
			t.Errorf("cache_ttl %s: problems %q", bad, got)
		}
	}
	// Reported with the other problems, not instead of them.
	_, err = load(t, "keys: {cache_ttl: 0s, rotation_period: 2h, publish_ahead: 3h}\n")
	if got := problems(t, err); len(got) != 2 || !strings.HasPrefix(got[0], "keys.publish_ahead:") || !strings.HasPrefix(got[1], "keys.cache_ttl:") {
		t.Errorf("problems %q", got)
	}

	// config check shows it.
	path := writeFile(t, "dingoidc.yaml", validConfig(t.TempDir())+"keys: {cache_ttl: 3s}\n")
	if r := mustRun(t, fakeEnv{}, "config", "check", "--dev", "--config", path); !strings.Contains(r.stdout, "cached 3s per replica") {
		t.Errorf("config check does not show keys.cache_ttl:\n%s", r.stdout)
	}
	out := decodeJSON[struct {
		Config struct {
			Keys struct {
				CacheTTL string `json:"cache_ttl"`
			} `json:"keys"`
		} `json:"config"`
	}](t, mustRun(t, fakeEnv{}, "config", "check", "--dev", "--config", path, "--json").stdout)
	if out.Config.Keys.CacheTTL != "3s" {
		t.Errorf("config check --json: keys.cache_ttl %q, want 3s", out.Config.Keys.CacheTTL)
	}

	// keys rotate --now signs after cache_ttl (the same config as serve).
	path = writeFile(t, "dingoidc.yaml", validConfig(t.TempDir())+"keys: {cache_ttl: 7s}\n")
	mustRun(t, fakeEnv{}, "keys", "rotate", "--config", path) // the first key: signs at once
	before := time.Now()
	k := decodeJSON[keyView](t, mustRun(t, fakeEnv{}, "keys", "rotate", "--now", "--json", "--config", path).stdout)
	// cache_ttl after the key was made, plus a second for the write, rounded up.
	if lo, hi := before.Add(8*time.Second).Truncate(time.Second), time.Now().Add(9*time.Second); k.ActiveFrom.Before(lo) || k.ActiveFrom.After(hi) {
		t.Errorf("rotate --now with cache_ttl 7s: signs from %s, want within [%s, %s]", k.ActiveFrom, lo, hi)
	}
}
