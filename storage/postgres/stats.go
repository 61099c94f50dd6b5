package postgres

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dingoidc/dingoidc/storage"
)

// counter is a pgx tracer counting what the store sends: every statement
// (BEGIN and COMMIT included; each statement of a batch counts once) and the
// rows that INSERT, UPDATE and DELETE statements report. Statements that write
// inside a CTE while reporting SELECT add their writes with addWrites.
type counter struct {
	statements atomic.Int64
	rowWrites  atomic.Int64
}

var (
	_ pgx.QueryTracer = (*counter)(nil)
	_ pgx.BatchTracer = (*counter)(nil)
)

func (c *counter) snapshot() storage.Stats {
	return storage.Stats{Statements: c.statements.Load(), RowWrites: c.rowWrites.Load()}
}

func (c *counter) addWrites(n int64) { c.rowWrites.Add(n) }

func (c *counter) countTag(tag pgconn.CommandTag) {
	if tag.Insert() || tag.Update() || tag.Delete() {
		c.rowWrites.Add(tag.RowsAffected())
	}
}

func (c *counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.statements.Add(1)
	return ctx
}

func (c *counter) TraceQueryEnd(_ context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	c.countTag(data.CommandTag)
}

func (c *counter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	c.statements.Add(int64(data.Batch.Len()))
	return ctx
}

func (c *counter) TraceBatchQuery(_ context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	c.countTag(data.CommandTag)
}

func (c *counter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}
