package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"
)

// Report is everything one run measured; -json writes it as is.
type Report struct {
	Started     time.Time   `json:"started"`
	Finished    time.Time   `json:"finished"`
	Machine     Machine     `json:"machine"`
	Server      ServerInfo  `json:"server"`
	Calibration Calibration `json:"calibration"`
	CellSeconds float64     `json:"cell_seconds"`
	Cells       []Cell      `json:"cells"`
}

func (r *Report) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("-json: %w", err)
	}
	return nil
}

// writeTable prints the run as a Markdown table (docs/performance.md takes
// it as is).
func (r *Report) writeTable(w io.Writer) {
	m, s, cal := r.Machine, r.Server, r.Calibration
	fmt.Fprintf(w, "machine: %d CPUs (%s), GOMAXPROCS %d, %s, Linux %s, load %.2f at start\n",
		m.CPUs, m.CPUModel, m.GOMAXPROCS, m.Go, m.Kernel, m.LoadAvg1)
	fmt.Fprintf(w, "server: %s, storage %s, upstream %s, access tokens %s, idle RSS %s MiB, peak RSS %s MiB\n",
		s.Issuer, s.Storage, s.Upstream, orDash(s.AccessTokenFormat), fmtPtr(s.IdleRSSMiB, 1), fmtPtr(s.PeakRSSMiB, 1))
	fmt.Fprintf(w, "calibration: S = %.0f RS256 signatures/s on %d cores (%.0f before the cells, %.0f after); a signature costs %.2f ms of CPU (cores/S), %.2f ms measured\n\n",
		cal.SignaturesPerSecond, cal.Workers, cal.Start, cal.End, cal.CPUMsPerSignature, cal.MeasuredCPUMsPerSignature)
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "| workload\t| c\t| ops/s\t| ×S\t| p50 ms\t| p90 ms\t| p99 ms\t| failures\t| req/op\t| server CPU ms/op\t| server cores\t| DB CPU ms/op\t| RSS MiB\t| driver cores\t|")
	fmt.Fprintln(tw, "|---\t|--:\t|--:\t|--:\t|--:\t|--:\t|--:\t|--:\t|--:\t|--:\t|--:\t|--:\t|--:\t|--:\t|")
	for _, c := range r.Cells {
		fmt.Fprintf(tw, "| %s\t| %d\t| %.1f\t| %.3f\t| %.1f\t| %.1f\t| %.1f\t| %d\t| %.1f\t| %s\t| %s\t| %s\t| %s\t| %.2f\t|\n",
			c.Workload, c.Concurrency, c.Rate, c.RateOverS, c.P50, c.P90, c.P99, c.Failures, c.RequestsPerOp,
			fmtPtr(c.ServerCPUPerOp, 2), fmtPtr(c.ServerCPUCores, 2), fmtPtr(c.DBCPUPerOp, 2), fmtPtr(c.ServerRSS, 1), c.DriverCPUCores)
	}
	tw.Flush()
	for _, c := range r.Cells {
		if c.FirstFailure != "" {
			fmt.Fprintf(w, "first failure of %s c=%d: %s\n", c.Workload, c.Concurrency, c.FirstFailure)
		}
	}
}

func fmtPtr(v *float64, digits int) string {
	if v == nil {
		return "–"
	}
	return strconv.FormatFloat(*v, 'f', digits, 64)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
