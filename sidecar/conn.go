package sidecar

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// opTimeout bounds one control-table operation, so that a server that stopped answering
// cannot hold a control connection forever.
const opTimeout = 10 * time.Second

// controlLockTimeout bounds how long a control-table statement waits for a row lock: a role
// that locks its own request or schedule row (SELECT ... FOR UPDATE in an open transaction)
// then delays only the writes of that row, which fail and are retried, never the others'.
const controlLockTimeout = 2 * time.Second

// ctlPool is a small pool of connections for control-table queries, opened on demand and
// replaced after they break (a server restart, a network failure), so that one slow or
// blocked statement never holds up the others. It is safe for concurrent use.
type ctlPool struct {
	pool *pgxpool.Pool
}

// newControl prepares the pool; it connects lazily. size bounds its connections.
func newControl(cfg *pgx.ConnConfig, size int) (*ctlPool, error) {
	pcfg, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, fmt.Errorf("control connections: %w", err)
	}
	c := cfg.Copy()
	if c.RuntimeParams == nil {
		c.RuntimeParams = map[string]string{}
	}
	c.RuntimeParams["lock_timeout"] = fmt.Sprint(controlLockTimeout.Milliseconds())
	// The sidecar's statements name the control schema; everything else is the catalog's.
	c.RuntimeParams["search_path"] = "pg_catalog, pg_temp"
	if c.RuntimeParams["application_name"] == "" {
		c.RuntimeParams["application_name"] = "pgparquet sidecar"
	}
	pcfg.ConnConfig = c
	pcfg.MaxConns = int32(size)
	pcfg.MinConns = 0
	pcfg.HealthCheckPeriod = 10 * time.Second
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		return nil, fmt.Errorf("control connections: %w", err)
	}
	return &ctlPool{pool: pool}, nil
}

// do runs fn on a connection of the pool, connecting first if needed, within opTimeout. A
// connection that fn's failure left broken is not reused.
func (c *ctlPool) do(ctx context.Context, fn func(ctx context.Context, conn *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	pc, err := c.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer pc.Release()
	return fn(ctx, pc.Conn())
}

// close closes every connection.
func (c *ctlPool) close() { c.pool.Close() }
