package sidecar

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// opTimeout bounds one control-table operation, so that a server that stopped answering
// cannot hold the sidecar's control connection forever.
const opTimeout = 10 * time.Second

// control is the sidecar's one connection for control-table queries, opened on first use and
// reopened after it breaks (a server restart, a network failure). Operations are serialized;
// each is short. It is safe for concurrent use.
type control struct {
	cfg *pgx.ConnConfig

	mu   sync.Mutex
	conn *pgx.Conn
}

// do runs fn on the connection, connecting first if needed. A connection that fn's failure
// left closed is dropped, so the next call reconnects.
func (c *control) do(ctx context.Context, fn func(ctx context.Context, conn *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil || c.conn.IsClosed() {
		conn, err := pgx.ConnectConfig(ctx, c.cfg.Copy())
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		c.conn = conn
	}
	err := fn(ctx, c.conn)
	if err != nil && c.conn.IsClosed() {
		c.conn = nil
	}
	return err
}

// close closes the connection, if open.
func (c *control) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c.conn.Close(ctx) //nolint:errcheck // closing; nothing to do about a failure
		c.conn = nil
	}
}
