package idp_test

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// zeros is an endless body that costs the client no memory.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// rss is this process's resident set in bytes (Linux).
func rss(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/self/status")
	return 0
}

// TestBodyLimit: bodies over max_body_bytes are refused with 413 before
// they are read (Content-Length) or cut off when they grow past the cap
// (chunked), and 30 parallel 10 MB POSTs to the token endpoint leave the
// process's memory where it was (without the cap, each one is parsed
// whole: RSS grew by hundreds of MB).
func TestBodyLimit(t *testing.T) {
	e := newEnv(t, backends()[0].open(t))
	const size = 10 << 20
	post := func(chunked bool) (int, error) {
		var body io.Reader = io.LimitReader(zeros{}, size)
		req, _ := http.NewRequest(http.MethodPost, e.issuer+"/oauth/token", body)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if chunked {
			req.ContentLength = -1
		} else {
			req.ContentLength = size
		}
		req.SetBasicAuth("app", testSecret)
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			return 0, err // the server may close while the body is still being sent
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	if st, err := post(false); err == nil && st != http.StatusRequestEntityTooLarge {
		t.Errorf("10 MB with Content-Length: %d, want 413", st)
	}
	if st, err := post(true); err == nil && st != http.StatusRequestEntityTooLarge {
		t.Errorf("10 MB chunked: %d, want 413", st)
	}
	// A body just under the cap is read and answered as usual.
	resp, m := e.postForm("/oauth/token", map[string][]string{"grant_type": {"refresh_token"}, "refresh_token": {"a.0.b"}, "pad": {strings.Repeat("x", 60<<10)}}, "app", testSecret)
	if resp.StatusCode != http.StatusBadRequest || m["error"] != "invalid_grant" {
		t.Errorf("60 KiB body: %d %v", resp.StatusCode, m)
	}

	runtime.GC()
	debug.FreeOSMemory()
	before := rss(t)
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() { _, _ = post(i%2 == 1) })
	}
	wg.Wait()
	after := rss(t)
	growth := after - before
	t.Logf("RSS %d MiB → %d MiB (growth %d MiB) under 30 parallel 10 MB POSTs", before>>20, after>>20, growth>>20)
	if growth > 100<<20 {
		t.Errorf("RSS grew by %d MiB under 30 parallel 10 MB POSTs", growth>>20)
	}
}
