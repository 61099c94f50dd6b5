// Command loadgen measures dingoidc's throughput, latency and cost in one
// run (docs/performance.md):
//
//  1. calibration: RS256 (RSA-2048, PKCS #1 v1.5) signatures per second on
//     all cores, in this process, before the cells and after them, so every
//     figure can be read as a ratio to the machine's signing rate S;
//  2. for each workload — first logins (a new browser each time: authorize →
//     upstream → callback → code → token → userinfo), SSO-session logins (a
//     second app in a browser that already has a session), refresh-token
//     rotations and userinfo calls — and each concurrency c: the rate,
//     p50/p90/p99 latency, failures, HTTP requests per operation, the
//     server's CPU per operation and RSS (from /proc/<pid>), and on
//     PostgreSQL the CPU per operation of the backends serving its database.
//
// It prints a table and, with -json FILE, writes every figure as JSON.
//
// By default it starts the server itself: it builds ./cmd/dingoidc (or runs
// -dingoidc BIN), and runs `dingoidc serve --dev` with an auto-approving dev
// upstream and two apps, on a fresh SQLite file (-serve sqlite) or a fresh
// PostgreSQL database (-serve postgres, created on -pg and dropped at the
// end). With -serve none it targets a running server at -issuer instead.
//
//	go run ./cmd/loadgen -serve postgres -d 15s -json pg.json
//	go run ./cmd/loadgen -serve sqlite -d 1s -c 1,4 -calibrate 1s      # smoke run
//	go run ./cmd/loadgen -serve none -issuer http://127.0.0.1:8080 -pid 1234 \
//	    -client a -secret … -client2 b -secret2 … -pg-db dingoidc
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// config is the command line.
type config struct {
	serve    string // sqlite, postgres or none
	binary   string // dingoidc binary; empty: build ./cmd/dingoidc
	pgDSN    string // PostgreSQL admin DSN (a database to connect to for CREATE DATABASE and pg_stat_activity)
	pgDB     string // with -serve none: the database the running server uses
	atFormat string // access_token_format of the started server; empty: its default
	issuer   string
	pid      int
	client   string
	secret   string
	client2  string
	secret2  string
	redirect string
	// upstreamPath is where the server's upstream login pages are, under
	// the issuer; empty: not checked.
	upstreamPath string
	scope        string
	conc         []int
	cell         time.Duration
	warmup       time.Duration
	calibrate    time.Duration
	workloads    []string
	jsonFile     string
}

var allWorkloads = []string{"first", "sso", "refresh", "userinfo"}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.serve, "serve", "sqlite", "start a server on a fresh `DB`: sqlite or postgres; none targets -issuer")
	fs.StringVar(&c.binary, "dingoidc", "", "dingoidc `BINARY` to start (default: go build ./cmd/dingoidc into a temporary directory)")
	fs.StringVar(&c.pgDSN, "pg", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL admin `DSN`: where the fresh database is created and backends are looked up; the started server gets the same host and parameters (no TLS by default: the database is on this machine)")
	fs.StringVar(&c.pgDB, "pg-db", "", "with -serve none: the running server's PostgreSQL `DATABASE`, to measure its backends' CPU")
	fs.StringVar(&c.atFormat, "access-token-format", "", "access_token_format of the started server (jwt or opaque; default: the server's default)")
	fs.StringVar(&c.issuer, "issuer", "http://127.0.0.1:8080", "with -serve none: the running server's `URL`")
	fs.IntVar(&c.pid, "pid", 0, "with -serve none: the running server's `PID`, for its CPU time and RSS")
	fs.StringVar(&c.client, "client", "loadgen-a", "with -serve none: the first app's client `ID`")
	fs.StringVar(&c.secret, "secret", "", "with -serve none: the first app's `SECRET`")
	fs.StringVar(&c.client2, "client2", "loadgen-b", "with -serve none: the second app (SSO-session logins)")
	fs.StringVar(&c.secret2, "secret2", "", "with -serve none: the second app's `SECRET`")
	fs.StringVar(&c.redirect, "redirect", "http://127.0.0.1:1/callback", "both apps' registered redirect `URI` (never contacted)")
	fs.StringVar(&c.upstreamPath, "upstream-path", "/dev/", "`PATH` under the issuer of the upstream's login page: first logins must visit it, SSO logins must not (empty: not checked)")
	fs.StringVar(&c.scope, "scope", "openid profile email offline_access", "`SCOPES` the apps ask for")
	concs := fs.String("c", "1,4,16,64", "concurrency `LIST`: workers per cell")
	fs.DurationVar(&c.cell, "d", 10*time.Second, "`DURATION` of each cell")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "first logins at c=4 before the cells, not measured")
	fs.DurationVar(&c.calibrate, "calibrate", 3*time.Second, "`DURATION` of the signing calibration")
	wl := fs.String("workloads", strings.Join(allWorkloads, ","), "`LIST` of workloads to run, in order")
	fs.StringVar(&c.jsonFile, "json", "", "also write the figures as JSON to `FILE`")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch c.serve {
	case "sqlite", "postgres":
	case "none":
		if c.secret == "" || c.secret2 == "" {
			return nil, errors.New("-serve none needs -secret and -secret2 (the two apps' client secrets)")
		}
	default:
		return nil, fmt.Errorf("-serve %q: want sqlite, postgres or none", c.serve)
	}
	for _, s := range strings.Split(*concs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-c: %q is not a positive number", s)
		}
		c.conc = append(c.conc, n)
	}
	for _, s := range strings.Split(*wl, ",") {
		s = strings.TrimSpace(s)
		if !contains(allWorkloads, s) {
			return nil, fmt.Errorf("-workloads: unknown %q (want some of %s)", s, strings.Join(allWorkloads, ", "))
		}
		c.workloads = append(c.workloads, s)
	}
	if c.cell <= 0 || c.calibrate <= 0 || c.warmup < 0 {
		return nil, errors.New("-d and -calibrate must be positive, -warmup not negative")
	}
	return c, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	rep := &Report{Started: time.Now().UTC(), Machine: machineInfo(), CellSeconds: c.cell.Seconds()}

	var tgt *target
	if c.serve == "none" {
		tgt = &target{issuer: strings.TrimSuffix(c.issuer, "/"), pid: c.pid, storage: "unknown",
			client: c.client, secret: c.secret, client2: c.client2, secret2: c.secret2, pgDB: c.pgDB}
		if c.pgDB != "" {
			tgt.storage = "postgres"
		}
	} else {
		fmt.Fprintf(stderr, "loadgen: starting dingoidc on a fresh %s database…\n", c.serve)
		tgt, err = startServer(ctx, c, stderr)
		if err != nil {
			return err
		}
		defer tgt.stop(stderr)
	}
	h, err := newHarness(ctx, c, tgt)
	if err != nil {
		return err
	}
	defer h.close()
	rep.Server = h.serverInfo()

	fmt.Fprintf(stderr, "loadgen: calibrating RS256 signing for %s…\n", c.calibrate)
	before := calibrate(ctx, c.calibrate)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	rep.Calibration = Calibration{Seconds: c.calibrate.Seconds()}
	if c.warmup > 0 {
		fmt.Fprintf(stderr, "loadgen: warming up for %s…\n", c.warmup)
		h.runCell(ctx, "first", 4, c.warmup) // figures discarded
	}
cells:
	for _, w := range c.workloads {
		for _, n := range c.conc {
			cell := h.runCell(ctx, w, n, c.cell)
			if ctx.Err() != nil {
				break cells // interrupted: the cell is incomplete
			}
			rep.Cells = append(rep.Cells, cell)
			fmt.Fprintf(stderr, "loadgen: %-8s c=%-3d %8.1f/s  p99 %7.1f ms  failures %d\n", w, n, cell.Rate, cell.P99, cell.Failures)
		}
	}
	after := before
	if ctx.Err() == nil {
		fmt.Fprintf(stderr, "loadgen: calibrating again…\n")
		after = calibrate(ctx, c.calibrate)
	}
	if ctx.Err() != nil {
		// Interrupted: report the cells that completed, with the first
		// calibration only.
		after = before
		fmt.Fprintln(stderr, "loadgen: interrupted; the table has the cells that completed")
	}
	rep.Calibration.combine(before, after)
	for i := range rep.Cells {
		if s := rep.Calibration.SignaturesPerSecond; s > 0 {
			rep.Cells[i].RateOverS = round(rep.Cells[i].Rate/s, 3)
		}
	}
	rep.Server.PeakRSSMiB = h.peakRSS()
	rep.Finished = time.Now().UTC()
	rep.writeTable(stdout)
	if c.jsonFile != "" {
		if err := rep.writeJSON(c.jsonFile); err != nil {
			return err
		}
	}
	var failed int64
	for _, cell := range rep.Cells {
		failed += cell.Failures
	}
	if failed > 0 {
		return fmt.Errorf("%d failed operations (see first_failure in the cells)", failed)
	}
	return ctx.Err()
}
