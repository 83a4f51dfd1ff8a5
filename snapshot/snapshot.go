// Package snapshot reads one PostgreSQL relation consistently over several connections.
//
// A coordinator transaction exports a snapshot (pg_export_snapshot) and stays open until every
// worker connection has imported it with SET TRANSACTION SNAPSHOT, so all workers see exactly
// the same rows whatever other sessions commit meanwhile. The relation is split into ctid page
// ranges, and each range is streamed with COPY ... TO STDOUT (FORMAT BINARY) into buffers from a
// bounded pool.
package snapshot

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Snapshot is an exported snapshot and the coordinator transaction that keeps it alive. Its
// connection is used for catalog reads and planning, which then see the same snapshot. A
// Snapshot is not safe for concurrent use.
type Snapshot struct {
	// ID is the snapshot identifier that workers import (e.g. "00000003-0000001B-1").
	ID string
	// LSN is the WAL position at the snapshot: pg_current_wal_lsn() on a primary,
	// pg_last_wal_replay_lsn() on a standby.
	LSN string
	// ServerVersion is server_version_num, e.g. 150018.
	ServerVersion int

	conn *pgx.Conn
}

// Export connects with cfg, begins a REPEATABLE READ READ ONLY transaction and exports its
// snapshot. The caller must call Release once every worker has imported it.
func Export(ctx context.Context, cfg *pgx.ConnConfig) (*Snapshot, error) {
	conn, err := Connect(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	s := &Snapshot{conn: conn}
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return nil, errors.Join(fmt.Errorf("coordinator: begin: %w", err), closeConn(conn))
	}
	err = conn.QueryRow(ctx, `SELECT pg_export_snapshot(),
		(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text,
		current_setting('server_version_num')::int`).Scan(&s.ID, &s.LSN, &s.ServerVersion)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("coordinator: export snapshot: %w", err), closeConn(conn))
	}
	return s, nil
}

// Conn is the coordinator connection, inside the snapshot's transaction.
func (s *Snapshot) Conn() *pgx.Conn { return s.conn }

// Release ends the coordinator transaction and closes its connection. Workers that already
// imported the snapshot keep it; no new worker can import it afterwards.
func (s *Snapshot) Release(ctx context.Context) error {
	if s.conn == nil {
		return nil
	}
	conn := s.conn
	s.conn = nil
	_, err := conn.Exec(ctx, "COMMIT")
	if err != nil {
		err = fmt.Errorf("coordinator: commit: %w", err)
	}
	return errors.Join(err, closeConn(conn))
}

// Connect opens one connection tagged with application_name pgparquet (unless cfg sets one),
// so that DBAs can tell the exporter's sessions apart in pg_stat_activity.
func Connect(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	c := cfg.Copy()
	if c.RuntimeParams == nil {
		c.RuntimeParams = map[string]string{}
	}
	if c.RuntimeParams["application_name"] == "" {
		c.RuntimeParams["application_name"] = "pgparquet"
	}
	// COPY BINARY sends text in the client encoding: Arrow strings must be UTF-8.
	c.RuntimeParams["client_encoding"] = "UTF8"
	conn, err := pgx.ConnectConfig(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("connect to %s:%d/%s as %s: %w", cfg.Host, cfg.Port, cfg.Database, cfg.User, err)
	}
	return conn, nil
}

func closeConn(conn *pgx.Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := conn.Close(ctx); err != nil {
		return fmt.Errorf("close connection: %w", err)
	}
	return nil
}

// quoteLiteral quotes s as an SQL string literal (standard_conforming_strings on, which every
// supported PostgreSQL has by default; a backslash is then an ordinary character).
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
