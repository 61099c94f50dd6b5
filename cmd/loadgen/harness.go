package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// harness drives one server.
type harness struct {
	c   *config
	tgt *target
	tr  *http.Transport
	// Endpoints from discovery.
	authorizeURL, tokenURL, userinfoURL string
	pg                                  *pgBackends // nil unless the server is on PostgreSQL
	idleRSS                             *float64
}

func newHarness(ctx context.Context, c *config, tgt *target) (*harness, error) {
	maxC := slices.Max(c.conc)
	h := &harness{c: c, tgt: tgt, tr: &http.Transport{
		MaxIdleConns: 4 * maxC, MaxIdleConnsPerHost: 4 * maxC, IdleConnTimeout: time.Minute,
	}}
	var disc struct {
		Authorization string `json:"authorization_endpoint"`
		Token         string `json:"token_endpoint"`
		Userinfo      string `json:"userinfo_endpoint"`
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tgt.issuer+"/.well-known/openid-configuration", nil)
	resp, err := (&http.Client{Transport: h.tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	err = json.NewDecoder(resp.Body).Decode(&disc)
	resp.Body.Close()
	if err != nil || disc.Authorization == "" || disc.Token == "" || disc.Userinfo == "" {
		return nil, fmt.Errorf("discovery at %s: %s, endpoints missing (%v)", tgt.issuer, resp.Status, err)
	}
	h.authorizeURL, h.tokenURL, h.userinfoURL = disc.Authorization, disc.Token, disc.Userinfo
	if tgt.pgDB != "" {
		conn, err := pgx.Connect(ctx, c.pgDSN)
		if err != nil {
			return nil, fmt.Errorf("PostgreSQL at -pg (to measure the backends): %w", err)
		}
		h.pg = &pgBackends{conn: conn, db: tgt.pgDB}
	}
	if rss, _, err := memStatus(tgt.pid); err == nil {
		h.idleRSS = ptr(round(rss, 1))
	}
	return h, nil
}

func (h *harness) close() {
	if h.pg != nil {
		_ = h.pg.conn.Close(context.Background())
	}
	h.tr.CloseIdleConnections()
}

func (h *harness) peakRSS() *float64 {
	if _, hwm, err := memStatus(h.tgt.pid); err == nil {
		return ptr(round(hwm, 1))
	}
	return nil
}

// worker is one simulated user agent with what it carries between
// operations.
type worker struct {
	jar     http.CookieJar // the SSO workload's browser, logged in to the first app
	refresh string
	access  string
}

// workload: setup prepares a worker before the measured window (not
// counted), op is one measured operation; it returns the HTTP requests it
// made.
type workload struct {
	setup func(ctx context.Context, w *worker) error
	op    func(ctx context.Context, w *worker) (int, error)
}

func (h *harness) workload(name string) workload {
	switch name {
	case "first":
		return workload{
			setup: func(context.Context, *worker) error { return nil },
			op: func(ctx context.Context, w *worker) (int, error) {
				jar, _ := cookiejar.New(nil)
				r, err := h.login(ctx, jar, h.tgt.client, h.tgt.secret, false)
				return r.requests, err
			},
		}
	case "sso":
		return workload{
			setup: func(ctx context.Context, w *worker) error {
				w.jar, _ = cookiejar.New(nil)
				_, err := h.login(ctx, w.jar, h.tgt.client, h.tgt.secret, false)
				return err
			},
			op: func(ctx context.Context, w *worker) (int, error) {
				r, err := h.login(ctx, w.jar, h.tgt.client2, h.tgt.secret2, true)
				return r.requests, err
			},
		}
	case "refresh":
		return workload{
			setup: func(ctx context.Context, w *worker) error {
				jar, _ := cookiejar.New(nil)
				r, err := h.login(ctx, jar, h.tgt.client, h.tgt.secret, false)
				if err == nil && r.refresh == "" {
					err = errors.New("no refresh token (does the app get offline_access?)")
				}
				w.refresh = r.refresh
				return err
			},
			op: func(ctx context.Context, w *worker) (int, error) {
				tok, err := h.token(ctx, h.tgt.client, h.tgt.secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {w.refresh}})
				if err == nil && tok.RefreshToken == "" {
					err = errors.New("refresh: no new refresh token")
				}
				if err != nil {
					w.refresh = "" // setup again
					return 1, err
				}
				w.refresh = tok.RefreshToken
				return 1, nil
			},
		}
	case "userinfo":
		return workload{
			setup: func(ctx context.Context, w *worker) error {
				jar, _ := cookiejar.New(nil)
				r, err := h.login(ctx, jar, h.tgt.client, h.tgt.secret, false)
				w.access = r.access
				return err
			},
			op: func(ctx context.Context, w *worker) (int, error) {
				return 1, h.userinfo(ctx, w.access)
			},
		}
	}
	panic("unknown workload " + name)
}

// needsSetup tells whether a worker lost what its workload needs (after a
// failure).
func (w *worker) needsSetup(name string) bool {
	switch name {
	case "sso":
		return w.jar == nil
	case "refresh":
		return w.refresh == ""
	case "userinfo":
		return w.access == ""
	}
	return false
}

// Cell is one workload at one concurrency.
type Cell struct {
	Workload    string  `json:"workload"`
	Concurrency int     `json:"concurrency"`
	Ops         int64   `json:"ops"`
	Failures    int64   `json:"failures"`
	Seconds     float64 `json:"seconds"`
	Rate        float64 `json:"rate_per_s"`
	// RateOverS is Rate divided by the calibrated signing rate S.
	RateOverS     float64 `json:"rate_over_s"`
	P50           float64 `json:"p50_ms"`
	P90           float64 `json:"p90_ms"`
	P99           float64 `json:"p99_ms"`
	RequestsPerOp float64 `json:"requests_per_op"`
	// ServerCPUPerOp is the server process's CPU (user+system, all threads)
	// per successful operation; ServerCPUCores the same over the cell's wall
	// time, in cores.
	ServerCPUPerOp *float64 `json:"server_cpu_ms_per_op"`
	ServerCPUCores *float64 `json:"server_cpu_cores"`
	// DBCPUPerOp is the CPU of the PostgreSQL backends serving the server's
	// database per operation; null when the server is not on PostgreSQL.
	DBCPUPerOp *float64 `json:"db_cpu_ms_per_op"`
	// ServerRSS is the server's resident memory at the end of the cell.
	ServerRSS *float64 `json:"server_rss_mib"`
	// DriverCPUCores is loadgen's own CPU over the cell's wall time, in
	// cores: on a small machine the load driver competes with the server.
	DriverCPUCores float64 `json:"driver_cpu_cores"`
	FirstFailure   string  `json:"first_failure,omitempty"`
}

// runCell runs workload name with n workers for d: setup of every worker
// first, then the measured window, in which workers start operations until
// d has passed and finish the one they are in.
func (h *harness) runCell(ctx context.Context, name string, n int, d time.Duration) Cell {
	wl := h.workload(name)
	cell := Cell{Workload: name, Concurrency: n}
	var (
		failures atomic.Int64
		firstErr atomic.Pointer[string]
		mu       sync.Mutex
		lat      []time.Duration
		requests int64
		ready    sync.WaitGroup
		done     sync.WaitGroup
		stop     atomic.Bool
	)
	fail := func(err error) {
		failures.Add(1)
		s := err.Error()
		firstErr.CompareAndSwap(nil, &s)
	}
	startGate := make(chan struct{})
	workers := make([]*worker, n)
	for i := range workers {
		workers[i] = &worker{}
		ready.Add(1)
		done.Add(1)
		go func(w *worker) {
			defer done.Done()
			err := wl.setup(ctx, w)
			ready.Done()
			if err != nil {
				fail(fmt.Errorf("setup: %w", err))
				w.jar, w.refresh, w.access = nil, "", ""
			}
			<-startGate
			var mine []time.Duration
			var reqs int64
			for !stop.Load() && ctx.Err() == nil {
				if w.needsSetup(name) {
					if err := wl.setup(ctx, w); err != nil {
						fail(fmt.Errorf("setup: %w", err))
						w.jar, w.refresh, w.access = nil, "", ""
						continue
					}
				}
				t0 := time.Now()
				r, err := wl.op(ctx, w)
				if ctx.Err() != nil {
					break // interrupted: neither a result nor a failure
				}
				if err != nil {
					fail(err)
					continue
				}
				mine = append(mine, time.Since(t0))
				reqs += int64(r)
			}
			mu.Lock()
			lat = append(lat, mine...)
			requests += reqs
			mu.Unlock()
		}(workers[i])
	}
	ready.Wait()

	cpu0, cpuErr := cpuTime(h.tgt.pid)
	self0, _ := cpuTime(os.Getpid())
	var db0 map[int]time.Duration
	var dbErr error
	if h.pg != nil {
		db0, dbErr = h.pg.cpu(ctx)
	}
	t0 := time.Now()
	close(startGate)
	timer := time.NewTimer(d)
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
	timer.Stop()
	stop.Store(true)
	done.Wait()
	elapsed := time.Since(t0)
	cpu1, cpuErr1 := cpuTime(h.tgt.pid)
	self1, _ := cpuTime(os.Getpid())
	cell.DriverCPUCores = round((self1-self0).Seconds()/elapsed.Seconds(), 3)
	var db1 map[int]time.Duration
	if h.pg != nil && dbErr == nil {
		db1, dbErr = h.pg.cpu(ctx)
	}

	ops := int64(len(lat))
	slices.Sort(lat)
	cell.Ops, cell.Failures, cell.Seconds = ops, failures.Load(), round(elapsed.Seconds(), 3)
	cell.Rate = round(float64(ops)/elapsed.Seconds(), 1)
	cell.P50, cell.P90, cell.P99 = percentile(lat, 0.50), percentile(lat, 0.90), percentile(lat, 0.99)
	if e := firstErr.Load(); e != nil {
		cell.FirstFailure = *e
	}
	if ops > 0 {
		cell.RequestsPerOp = round(float64(requests)/float64(ops), 2)
		if cpuErr == nil && cpuErr1 == nil {
			cell.ServerCPUPerOp = ptr(round(ms(cpu1-cpu0)/float64(ops), 3))
			cell.ServerCPUCores = ptr(round((cpu1-cpu0).Seconds()/elapsed.Seconds(), 3))
		}
		if h.pg != nil && dbErr == nil {
			cell.DBCPUPerOp = ptr(round(ms(spent(db0, db1))/float64(ops), 3))
		}
	}
	if rss, _, err := memStatus(h.tgt.pid); err == nil {
		cell.ServerRSS = ptr(round(rss, 1))
	}
	return cell
}

// percentile is the nearest-rank percentile of sorted latencies, in ms.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return round(ms(sorted[max(0, min(i, len(sorted)-1))]), 2)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func ptr[T any](v T) *T { return &v }

// ServerInfo describes the server under test.
type ServerInfo struct {
	Issuer            string   `json:"issuer"`
	Started           bool     `json:"started_by_loadgen"`
	Storage           string   `json:"storage"`
	Database          string   `json:"database,omitempty"` // PostgreSQL
	Upstream          string   `json:"upstream"`
	AccessTokenFormat string   `json:"access_token_format"`
	PID               int      `json:"pid"`
	IdleRSSMiB        *float64 `json:"idle_rss_mib"`
	PeakRSSMiB        *float64 `json:"peak_rss_mib"`
}

func (h *harness) serverInfo() ServerInfo {
	s := ServerInfo{Issuer: h.tgt.issuer, Started: h.tgt.dir != "", Storage: h.tgt.storage, Database: h.tgt.pgDB, PID: h.tgt.pid,
		IdleRSSMiB: h.idleRSS, Upstream: "unknown", AccessTokenFormat: h.c.atFormat}
	if s.Started {
		s.Upstream = "dev (in the server process, auto_approve)"
		if s.AccessTokenFormat == "" {
			s.AccessTokenFormat = "server default"
		}
	}
	return s
}
