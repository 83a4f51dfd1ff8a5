package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// standbyReadyTimeout bounds how long StartStandby waits for a started standby to accept
// read-only connections when ctx has no earlier deadline.
const standbyReadyTimeout = time.Minute

// recoveryConflictCode is the SQLSTATE of a query or session a standby cancelled because the
// WAL it replays conflicts with it (serialization_failure).
const recoveryConflictCode = "40001"

// replayPollInterval is how often StartStandby and WaitReplayed ask the standby where it is.
const replayPollInterval = 10 * time.Millisecond

// StartStandby makes a hot standby of the running cluster c: pg_basebackup -R -X stream into a
// fresh temporary directory, opts.Settings appended to its postgresql.auto.conf (so they win
// over the primary's settings it copied), then started on its own random free port on
// 127.0.0.1. It returns once the standby accepts connections and pg_is_in_recovery() is true,
// so opts.Settings must leave hot_standby on (the default). The standby streams from c without
// a replication slot and inherits c's postgresql.conf (fsync off, listen_addresses 127.0.0.1)
// and pg_hba.conf. opts.BinDir defaults to c's, which it must match in major version; opts.Logf
// defaults to c's. The caller must Stop the standby, which removes its files, and should do so
// before stopping c.
func (c *Cluster) StartStandby(ctx context.Context, opts Options) (*Cluster, error) {
	s := &Cluster{binDir: opts.BinDir, logf: opts.Logf, cred: c.cred}
	if s.binDir == "" {
		s.binDir = c.binDir
	}
	if s.logf == nil {
		s.logf = c.logf
	}
	var err error
	// MkdirTemp, not t.TempDir: the unprivileged server user must be able to reach the path.
	if s.dir, err = os.MkdirTemp("", "pgtest-standby-"); err != nil {
		return nil, fmt.Errorf("pgtest: create standby temp dir: %w", err)
	}
	if err := os.Chmod(s.dir, 0o755); err != nil {
		return nil, errors.Join(fmt.Errorf("pgtest: chmod %s: %w", s.dir, err), s.removeDir())
	}
	s.dataDir = filepath.Join(s.dir, "data")
	s.logFile = filepath.Join(s.dir, "server.log")
	if err := s.chown(s.dir); err != nil {
		return nil, errors.Join(err, s.removeDir())
	}
	if err := s.baseBackup(ctx, c); err != nil {
		return nil, errors.Join(err, s.removeDir())
	}
	if err := s.appendAutoConf(opts.Settings); err != nil {
		return nil, errors.Join(err, s.removeDir())
	}
	// A free port can be taken by another process between probing and binding: retry a few times.
	for attempt := 0; ; attempt++ {
		if s.port, err = freePort(); err != nil {
			return nil, errors.Join(err, s.removeDir())
		}
		err = s.start(ctx)
		if err == nil {
			break
		}
		if attempt == 4 || ctx.Err() != nil {
			return nil, errors.Join(fmt.Errorf("pgtest: start standby: %w", err), s.removeDir())
		}
		s.logf("pgtest: standby start on port %d failed, retrying: %v", s.port, err)
	}
	if err := s.waitHotStandby(ctx); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

// WaitReplayed waits until standby has replayed c's WAL up to c's current write position
// (pg_current_wal_lsn at the call), so that every transaction c committed before the call is
// visible on standby. Its own queries on standby may be cancelled by recovery conflicts
// (SQLSTATE 40001, as any query there): it then reconnects and asks again. It gives up with an
// error when ctx ends or on any other error.
func (c *Cluster) WaitReplayed(ctx context.Context, standby *Cluster) error {
	primary, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("pgtest: wait for replay: connect to primary: %w", err)
	}
	defer primary.Close(context.Background())
	var target string
	if err := primary.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&target); err != nil {
		return fmt.Errorf("pgtest: wait for replay: read primary's WAL position: %w", err)
	}
	probe := &replayProbe{dsn: standby.DSN("postgres")}
	defer probe.close()
	replayed := "(unknown)"
	for {
		pos, done, err := probe.replayed(ctx, target)
		var pgErr *pgconn.PgError
		switch {
		case err == nil && done:
			return nil
		case err == nil:
			replayed = pos
		case errors.As(err, &pgErr) && pgErr.Code == recoveryConflictCode:
			probe.close() // a conflict may have ended the session too: start afresh
		default:
			return fmt.Errorf("pgtest: wait for replay of %s: %w", target, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgtest: wait for replay of %s: standby replayed up to %s: %w", target, replayed, context.Cause(ctx))
		case <-time.After(replayPollInterval):
		}
	}
}

// replayProbe asks a standby how far it has replayed, over one connection opened on first use
// and reopened after close.
type replayProbe struct {
	dsn  string
	conn *pgx.Conn
}

// replayed returns the standby's replay position and whether it has reached target.
func (p *replayProbe) replayed(ctx context.Context, target string) (string, bool, error) {
	if p.conn == nil {
		conn, err := pgx.Connect(ctx, p.dsn)
		if err != nil {
			return "", false, fmt.Errorf("connect to standby: %w", err)
		}
		p.conn = conn
	}
	var pos string
	var done bool
	err := p.conn.QueryRow(ctx, `SELECT coalesce(pg_last_wal_replay_lsn()::text, '(none)'),
		coalesce(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)`, target).Scan(&pos, &done)
	if err != nil {
		return "", false, fmt.Errorf("read standby's replay position: %w", err)
	}
	return pos, done, nil
}

func (p *replayProbe) close() {
	if p.conn != nil {
		p.conn.Close(context.Background())
		p.conn = nil
	}
}

// baseBackup copies primary into s.dataDir with pg_basebackup, writing standby.signal and
// primary_conninfo (-R) and streaming the WAL written meanwhile (-X stream).
func (s *Cluster) baseBackup(ctx context.Context, primary *Cluster) error {
	s.logf("pgtest: pg_basebackup from 127.0.0.1:%d into %s", primary.port, s.dataDir)
	cmd := exec.CommandContext(ctx, s.tool("pg_basebackup"),
		"-D", s.dataDir, "-h", "127.0.0.1", "-p", strconv.Itoa(primary.port), "-U", "postgres",
		"-X", "stream", "-R", "--checkpoint=fast", "--no-sync")
	if err := s.run(cmd); err != nil {
		return fmt.Errorf("pgtest: pg_basebackup from 127.0.0.1:%d: %w", primary.port, err)
	}
	return nil
}

// appendAutoConf appends settings (name -> value, written as name = 'value') to the standby's
// postgresql.auto.conf, which pg_basebackup -R created and which is read after postgresql.conf.
func (s *Cluster) appendAutoConf(settings map[string]string) error {
	if len(settings) == 0 {
		return nil
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("\n# pgtest standby\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = '%s'\n", k, strings.ReplaceAll(settings[k], "'", "''"))
	}
	path := filepath.Join(s.dataDir, "postgresql.auto.conf")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgtest: open %s: %w", path, err)
	}
	_, werr := f.WriteString(b.String())
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("pgtest: write %s: %w", path, err)
	}
	return nil
}

// waitHotStandby waits until the started standby accepts connections and reports that it is
// in recovery.
func (s *Cluster) waitHotStandby(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, standbyReadyTimeout)
	defer cancel()
	for {
		inRecovery, err := s.inRecovery(ctx)
		if err == nil && inRecovery {
			return nil
		}
		if err == nil {
			err = errors.New("pg_is_in_recovery() is false")
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgtest: standby on 127.0.0.1:%d not ready as a hot standby: %w\nserver log:\n%s",
				s.port, err, tail(s.ServerLog(), 2000))
		case <-time.After(replayPollInterval):
		}
	}
}

func (s *Cluster) inRecovery(ctx context.Context) (bool, error) {
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	var in bool
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&in); err != nil {
		return false, fmt.Errorf("pg_is_in_recovery(): %w", err)
	}
	return in, nil
}
