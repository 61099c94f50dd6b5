package idp

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/dingoidc/dingoidc/storage"
)

type fakePool struct{}

func (fakePool) PoolStats() storage.PoolStats { return storage.PoolStats{MaxOpen: 4} }

// TestGrafanaDashboard: every metric the dashboard in deploy/dashboards
// queries is one the registry exports (histograms by their _bucket, _sum
// and _count series).
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("../deploy/dashboards/dingoidc.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash any
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("deploy/dashboards/dingoidc.json: %v", err)
	}
	var exprs []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if s, ok := e.(string); ok && (k == "expr" || k == "definition") {
					exprs = append(exprs, s)
				}
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(dash)

	// Every metric family, each vector with one child so that it is gathered.
	m := NewMetrics()
	m.reg.MustRegister(newPoolCollector(fakePool{}))
	m.request("/x", 200, 0)
	m.loginStarted("u", "c")
	m.loginCompleted("u", "c")
	m.loginSSO("u", "c")
	m.loginRefused("u", "c", refusedDenied)
	m.rateLimited.WithLabelValues("/x", "ip").Inc()
	m.upstreamCalls.WithLabelValues("u", "/x", "").Inc()
	m.upstreamDuration.WithLabelValues("u", "/x").Observe(1)
	families, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, f := range families {
		known[f.GetName()] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				known[f.GetName()+s] = true
			}
		}
	}

	used := map[string]bool{}
	for _, e := range exprs {
		for _, name := range metricNames(e) {
			used[name] = true
			if !known[name] {
				t.Errorf("the dashboard queries %s, which dingoidc does not export (in %q)", name, e)
			}
		}
	}
	// The dashboard covers what the README's alerts rely on.
	for _, want := range []string{"dingoidc_http_requests_total", "dingoidc_http_request_duration_seconds_bucket", "dingoidc_logins_refused_total",
		"dingoidc_upstream_requests_total", "dingoidc_db_pool_in_use_connections", "dingoidc_tokens_issued_total", "dingoidc_rate_limited_total"} {
		if !used[want] {
			t.Errorf("the dashboard does not show %s", want)
		}
	}
}

var (
	promStrings   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promMatchers  = regexp.MustCompile(`\{[^}]*\}`)
	promRanges    = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping  = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdent     = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?`)
	promKeywords  = []string{"and", "or", "unless", "bool", "offset", "inf", "nan", "by", "without"}
	grafanaPrefix = regexp.MustCompile(`\$\{?[A-Za-z_]+\}?`)
	promNumbers   = regexp.MustCompile(`\b[0-9][0-9.eE+-]*`)
	labelValues   = regexp.MustCompile(`label_values\(\s*([^,()]+),[^)]*\)`) // Grafana's: (metric, label)
)

// metricNames returns the metric names a PromQL expression selects: what
// is left once strings, label matchers, ranges, grouping clauses,
// functions, numbers, keywords and Grafana variables are removed
// (label_values(metric, label) keeps its metric).
func metricNames(expr string) []string {
	e := labelValues.ReplaceAllString(expr, " $1 ")
	e = promStrings.ReplaceAllString(e, " ")
	e = promMatchers.ReplaceAllString(e, " ")
	e = promRanges.ReplaceAllString(e, " ")
	e = promGrouping.ReplaceAllString(e, " ")
	e = grafanaPrefix.ReplaceAllString(e, " ")
	e = promNumbers.ReplaceAllString(e, " ")
	var out []string
	for _, m := range promIdent.FindAllStringSubmatch(e, -1) {
		if m[1] != "" { // a function call
			continue
		}
		if slices.Contains(promKeywords, strings.ToLower(m[0])) {
			continue
		}
		out = append(out, m[0])
	}
	return out
}

func TestMetricNames(t *testing.T) {
	got := metricNames(`histogram_quantile(0.95, sum by (le, route) (rate(a_bucket{x="}",y=~"$i"}[$__rate_interval]))) / on (i) b + 1e3 and label_values(c, instance)`)
	if want := []string{"a_bucket", "b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
