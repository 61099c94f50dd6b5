package idp

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dingoidc/dingoidc/storage"
)

// poolCollector reads the store's pool figures at each scrape.
type poolCollector struct {
	pool                                  storage.PoolStatser
	maxOpen, open, inUse, idle, waits, wt *prometheus.Desc
}

func newPoolCollector(p storage.PoolStatser) *poolCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &poolCollector{
		pool:    p,
		maxOpen: d("dingoidc_db_pool_max_connections", "The database pool's connection limit."),
		open:    d("dingoidc_db_pool_open_connections", "Database connections open (in use and idle)."),
		inUse:   d("dingoidc_db_pool_in_use_connections", "Database connections running a statement or transaction."),
		idle:    d("dingoidc_db_pool_idle_connections", "Database connections idle in the pool."),
		waits:   d("dingoidc_db_pool_wait_total", "Connection acquisitions that had to wait (the pool was exhausted)."),
		wt:      d("dingoidc_db_pool_wait_seconds_total", "Time spent waiting for a database connection."),
	}
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.maxOpen, c.open, c.inUse, c.idle, c.waits, c.wt} {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.pool.PoolStats()
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	g(c.maxOpen, float64(st.MaxOpen))
	g(c.open, float64(st.Open))
	g(c.inUse, float64(st.InUse))
	g(c.idle, float64(st.Idle))
	ch <- prometheus.MustNewConstMetric(c.waits, prometheus.CounterValue, float64(st.WaitCount))
	ch <- prometheus.MustNewConstMetric(c.wt, prometheus.CounterValue, st.WaitDuration.Seconds())
}

// watchStore adds the store's pool figures, once per registry, when the
// store has a pool.
func (m *Metrics) watchStore(st storage.Store) {
	p, ok := st.(storage.PoolStatser)
	if !ok {
		return
	}
	m.storeOnce.Do(func() { m.reg.MustRegister(newPoolCollector(p)) })
}
