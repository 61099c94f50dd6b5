package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dingoidc/dingoidc/storage/postgres/pgtest"
)

// raceEnabled reports whether this test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// dingoidcBinary builds ./cmd/dingoidc once per test binary, with -race
// when the tests have it (the packages are then already in the build cache,
// and the server runs under the race detector while loaded).
func dingoidcBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "loadgen-test-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "dingoidc")
		args := []string{"build", "-o", binPath}
		if raceEnabled() {
			args = append(args, "-race")
		}
		buildOut, buildErr = exec.Command("go", append(args, "github.com/dingoidc/dingoidc/cmd/dingoidc")...).CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/dingoidc: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// TestHarnessRun runs the whole harness briefly (1 s cells, c = 1 and 4)
// against a server it starts itself, on SQLite and on PostgreSQL, and
// checks that the JSON holds every figure, sane, with no failure. Rates and
// latencies are only checked for sanity (positive, ordered): the machine
// may be busy.
func TestHarnessRun(t *testing.T) {
	bin := dingoidcBinary(t)
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			args := []string{"-serve", db, "-dingoidc", bin, "-d", "1s", "-c", "1,4", "-calibrate", "300ms", "-warmup", "0s"}
			if db == "postgres" {
				pgtest.NewDatabase(t) // skips locally, fails in CI, when PostgreSQL is unreachable
				args = append(args, "-pg", pgtest.AdminDSN())
			}
			jsonFile := filepath.Join(t.TempDir(), "run.json")
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
			defer cancel()
			if err := run(ctx, append(args, "-json", jsonFile), &stdout, &stderr); err != nil {
				t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			b, err := os.ReadFile(jsonFile)
			if err != nil {
				t.Fatal(err)
			}
			checkReport(t, b, db)

			table := stdout.String()
			for _, want := range []string{"| first ", "| sso ", "| refresh ", "| userinfo ", "calibration: S = ", "server CPU ms/op"} {
				if !strings.Contains(table, want) {
					t.Errorf("table lacks %q:\n%s", want, table)
				}
			}
			if strings.Contains(stderr.String(), "did not stop") {
				t.Errorf("server had to be killed:\n%s", stderr.String())
			}
			if db == "postgres" {
				// The fresh database was dropped at the end.
				var rep Report
				if err := json.Unmarshal(b, &rep); err != nil || !strings.HasPrefix(rep.Server.Database, "loadgen_") {
					t.Fatalf("server.database = %q (%v)", rep.Server.Database, err)
				}
				conn, err := pgx.Connect(ctx, pgtest.AdminDSN())
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close(ctx)
				var n int
				if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", rep.Server.Database).Scan(&n); err != nil || n != 0 {
					t.Errorf("database %s still exists (%d, %v)", rep.Server.Database, n, err)
				}
			}
		})
	}
}

// checkReport checks a run's JSON: every figure present and sane.
func checkReport(t *testing.T, b []byte, db string) {
	t.Helper()
	// Presence is checked on the raw JSON, so a figure missing from the
	// output (not merely zero in the struct) is caught.
	var raw struct {
		Machine     map[string]any   `json:"machine"`
		Server      map[string]any   `json:"server"`
		Calibration map[string]any   `json:"calibration"`
		Cells       []map[string]any `json:"cells"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("JSON: %v\n%s", err, b)
	}
	positive := func(where string, m map[string]any, key string) float64 {
		t.Helper()
		v, ok := m[key].(float64)
		if !ok || v <= 0 {
			t.Errorf("%s: %s = %v, want a positive number", where, key, m[key])
		}
		return v
	}
	positive("machine", raw.Machine, "cpus")
	if s, _ := raw.Machine["cpu_model"].(string); s == "" {
		t.Errorf("machine: no cpu_model")
	}
	positive("server", raw.Server, "pid")
	positive("server", raw.Server, "idle_rss_mib")
	positive("server", raw.Server, "peak_rss_mib")
	if raw.Server["storage"] != db {
		t.Errorf("server storage %v, want %s", raw.Server["storage"], db)
	}
	positive("calibration", raw.Calibration, "signatures_per_s")
	positive("calibration", raw.Calibration, "cpu_ms_per_signature")
	positive("calibration", raw.Calibration, "measured_cpu_ms_per_signature")
	positive("calibration", raw.Calibration, "signatures_per_s_before")
	positive("calibration", raw.Calibration, "signatures_per_s_after")

	seen := map[string]bool{}
	reqs := map[string]float64{}
	for _, c := range raw.Cells {
		where := c["workload"].(string) + " c=" + jsonNum(c["concurrency"])
		seen[where] = true
		if c["failures"] != float64(0) {
			t.Errorf("%s: %v failures: %v", where, c["failures"], c["first_failure"])
		}
		for _, k := range []string{"ops", "seconds", "rate_per_s", "rate_over_s", "p50_ms", "p90_ms", "p99_ms", "requests_per_op",
			"server_cpu_ms_per_op", "server_cpu_cores", "server_rss_mib", "driver_cpu_cores"} {
			positive(where, c, k)
		}
		if p50, p90, p99 := c["p50_ms"].(float64), c["p90_ms"].(float64), c["p99_ms"].(float64); p50 > p90 || p90 > p99 {
			t.Errorf("%s: percentiles out of order: %v %v %v", where, p50, p90, p99)
		}
		if v, ok := c["db_cpu_ms_per_op"]; !ok {
			t.Errorf("%s: no db_cpu_ms_per_op key", where)
		} else if db == "postgres" {
			// A backend's CPU is counted in 10 ms ticks: a 1 s cell of
			// userinfo calls may see none. Present and a number is what can
			// be asserted.
			if _, isNum := v.(float64); !isNum {
				t.Errorf("%s: db_cpu_ms_per_op = %v, want a number on PostgreSQL", where, v)
			}
		} else if v != nil {
			t.Errorf("%s: db_cpu_ms_per_op = %v, want null without PostgreSQL", where, v)
		}
		reqs[c["workload"].(string)] = c["requests_per_op"].(float64)
	}
	for _, w := range allWorkloads {
		for _, n := range []string{"1", "4"} {
			if !seen[w+" c="+n] {
				t.Errorf("no cell for %s c=%s", w, n)
			}
		}
	}
	// A first login visits the upstream, an SSO login does not; both end
	// with token and userinfo. Refresh and userinfo are one request each.
	if !(reqs["first"] > reqs["sso"] && reqs["sso"] >= 3) {
		t.Errorf("requests per op: first %v, sso %v: want first > sso ≥ 3", reqs["first"], reqs["sso"])
	}
	if reqs["refresh"] != 1 || reqs["userinfo"] != 1 {
		t.Errorf("requests per op: refresh %v, userinfo %v, want 1 each", reqs["refresh"], reqs["userinfo"])
	}
}

func jsonNum(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestHarnessTarget measures a server it did not start (-serve none), told
// its URL, pid and apps.
func TestHarnessTarget(t *testing.T) {
	bin := dingoidcBinary(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var log bytes.Buffer
	tgt, err := startServer(ctx, &config{serve: "sqlite", binary: bin, redirect: "http://127.0.0.1:1/callback"}, &log)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, log.String())
	}
	defer tgt.stop(&log)
	jsonFile := filepath.Join(t.TempDir(), "run.json")
	var stdout, stderr bytes.Buffer
	err = run(ctx, []string{"-serve", "none", "-issuer", tgt.issuer, "-pid", strconv.Itoa(tgt.pid),
		"-client", tgt.client, "-secret", tgt.secret, "-client2", tgt.client2, "-secret2", tgt.secret2,
		"-workloads", "sso,refresh", "-c", "2", "-d", "500ms", "-calibrate", "100ms", "-warmup", "0s", "-json", jsonFile}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\n%s\n%s", err, stdout.String(), stderr.String())
	}
	b, _ := os.ReadFile(jsonFile)
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Server.Started || rep.Server.PID != tgt.pid || len(rep.Cells) != 2 {
		t.Fatalf("report: %s", b)
	}
	for _, c := range rep.Cells {
		if c.Ops == 0 || c.Failures != 0 || c.ServerCPUPerOp == nil || c.ServerRSS == nil || c.DBCPUPerOp != nil {
			t.Errorf("cell %s: %+v", c.Workload, c)
		}
	}
}

// TestFlags: bad command lines get a clear error.
func TestFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-serve", "mysql"}, `-serve "mysql"`},
		{[]string{"-serve", "none"}, "needs -secret and -secret2"},
		{[]string{"-c", "1,x"}, `-c: "x"`},
		{[]string{"-c", "0"}, `-c: "0"`},
		{[]string{"-workloads", "first,logout"}, `unknown "logout"`},
		{[]string{"-d", "0s"}, "must be positive"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	} {
		_, err := parseFlags(c.args, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one containing %q", c.args, err, c.want)
		}
	}
	c, err := parseFlags([]string{"-c", "2, 8", "-workloads", "refresh"}, &bytes.Buffer{})
	if err != nil || len(c.conc) != 2 || c.conc[1] != 8 || len(c.workloads) != 1 {
		t.Errorf("parseFlags: %+v %v", c, err)
	}
}

// TestProcReaders reads this process's own CPU time and memory, and sums
// backend CPU across readings.
func TestProcReaders(t *testing.T) {
	pid := os.Getpid()
	if _, err := cpuTime(pid); err != nil {
		t.Fatalf("cpuTime(self): %v", err)
	}
	rss, hwm, err := memStatus(pid)
	if err != nil || rss <= 0 || hwm < rss {
		t.Fatalf("memStatus(self) = %v, %v, %v", rss, hwm, err)
	}
	if _, err := cpuTime(0); err == nil {
		t.Error("cpuTime(0): no error")
	}
	before := map[int]time.Duration{1: 10 * time.Millisecond, 2: 20 * time.Millisecond, 3: time.Second}
	after := map[int]time.Duration{1: 30 * time.Millisecond, 2: 20 * time.Millisecond, 4: 50 * time.Millisecond} // 3 exited, 4 new
	if got := spent(before, after); got != 70*time.Millisecond {
		t.Errorf("spent = %v, want 70ms", got)
	}
	lat := []time.Duration{1 * time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 4 * time.Millisecond}
	if p50, p99 := percentile(lat, 0.5), percentile(lat, 0.99); p50 != 2 || p99 != 4 {
		t.Errorf("percentiles %v %v, want 2 4", p50, p99)
	}
}
