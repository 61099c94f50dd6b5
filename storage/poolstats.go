package storage

import "time"

// PoolStats are a store's connection-pool figures, for metrics.
type PoolStats struct {
	MaxOpen      int           // the pool's limit
	Open         int           // connections open (in use + idle)
	InUse        int           // connections running a statement or transaction
	Idle         int           // connections waiting in the pool
	WaitCount    int64         // acquisitions that had to wait for a connection, ever
	WaitDuration time.Duration // total time spent waiting, ever
}

// PoolStatser is implemented by stores with a connection pool (pgxpool's
// Stat for PostgreSQL, database/sql's Stats for SQLite).
type PoolStatser interface {
	PoolStats() PoolStats
}
