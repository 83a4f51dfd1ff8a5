package export_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// Sizes of TestStandbyExportExactOrFails, chosen so that each export takes about a second on a
// small machine and the whole test stays within a minute.
const (
	standbyRows          = 1_000_000                // accounts rows loaded before the exports
	standbyExports       = 8                        // exports per round
	standbyParallel      = 4                        // --parallel of each export
	standbyChunks        = 96                       // --chunks: small ctid ranges, read over a long time
	standbyTransferrers  = 3                        // sessions moving amounts between rows
	standbyVacuumEvery   = 100 * time.Millisecond   // pause between the VACUUM loop's runs
	standbyCatchUpLimit  = 30 * time.Second         // most an export waits for the standby to catch up
	standbyConflictError = "conflict with recovery" // what a failed export's error must name
	standbyStartLimit    = 2 * time.Minute          // most a standby may take to start
)

// TestStandbyExportExactOrFails exports from hot standbys while the primary keeps changing and
// vacuuming the table, and checks that every export either holds exactly the rows of one
// instant or fails saying why: never a complete-looking export that lost or doubled rows.
//
// The table accounts(id, v) has ids 1..max(id) without gaps and sum(v) = 0 at every instant:
// one session appends ids one committed transaction at a time with v = 0, others move amounts
// between two rows in one transaction, and a loop vacuums the table (as does an aggressive
// autovacuum). Without hot_standby_feedback the primary removes row versions the standby's
// snapshots still need; replaying that cleanup must wait for, or cancel, every session that
// reads the export's snapshot. The first round uses the standby defaults (replay waits up to
// 30 s), the second max_standby_streaming_delay = 1s, where exports are expected to fail with
// a conflict with recovery and must then leave no files.
func TestStandbyExportExactOrFails(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	primary, err := pgtest.Start(ctx, pgtest.Options{
		Settings: map[string]string{
			"autovacuum_naptime":                    "1s",
			"autovacuum_vacuum_threshold":           "50",
			"autovacuum_vacuum_scale_factor":        "0",
			"autovacuum_vacuum_insert_threshold":    "50",
			"autovacuum_vacuum_insert_scale_factor": "0",
			"autovacuum_vacuum_cost_delay":          "0",
			"autovacuum_analyze_threshold":          "50",
			"autovacuum_analyze_scale_factor":       "0",
		},
		Logf: t.Logf,
	})
	if err != nil {
		t.Fatalf("start primary: %v", err)
	}
	t.Cleanup(func() {
		if err := primary.Stop(); err != nil {
			t.Errorf("stop primary: %v", err)
		}
	})
	dsn := primary.DSN("postgres")
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE accounts (id bigint PRIMARY KEY, v bigint NOT NULL)`)
	pgtest.Exec(t, conn, fmt.Sprintf(`INSERT INTO accounts SELECT g, 0 FROM generate_series(1, %d) g`, standbyRows))
	pgtest.Exec(t, conn, `VACUUM ANALYZE accounts`)
	t.Logf("primary with %d accounts ready after %.1fs", standbyRows, time.Since(start).Seconds())

	rounds := []struct {
		name     string
		settings map[string]string
		// mustSucceed: at least one export of the round must succeed.
		mustSucceed bool
	}{
		{name: "defaults", mustSucceed: true},
		{name: "delay_1s", settings: map[string]string{"max_standby_streaming_delay": "1s"}},
	}
	for _, r := range rounds {
		t.Run(r.name, func(t *testing.T) {
			roundStart := time.Now()
			// The standby logs each time replay has waited 100 ms for sessions whose snapshot
			// the replayed cleanup conflicts with: evidence that the rounds exercise that wait.
			settings := map[string]string{"hot_standby": "on", "hot_standby_feedback": "off",
				"log_recovery_conflict_waits": "on", "deadlock_timeout": "100ms", "log_min_messages": "log"}
			maps.Copy(settings, r.settings)
			startCtx, cancel := context.WithTimeout(ctx, standbyStartLimit)
			standby, err := primary.StartStandby(startCtx, pgtest.Options{Settings: settings, Logf: t.Logf})
			cancel()
			if err != nil {
				t.Fatalf("start standby: %v", err)
			}
			defer func() {
				if err := standby.Stop(); err != nil {
					t.Errorf("stop standby: %v", err)
				}
			}()
			t.Logf("standby up after %.1fs", time.Since(roundStart).Seconds())
			load := startAccountsLoad(ctx, dsn)
			defer load.stop() //nolint:errcheck // stopped and checked below; this only covers a failed check
			tally := exportFromStandby(t, primary, standby)
			loadErr := load.stop()
			serverLog := standby.ServerLog()
			t.Logf("standby log: replay waited >= 100 ms for conflicting sessions %d times, cancelled a statement or session %d times",
				strings.Count(serverLog, "recovery still waiting"), strings.Count(serverLog, "due to conflict with recovery"))
			t.Logf("round %s: %d exports: %d exact, %d failed cleanly, %d succeeded but inexact (short); load meanwhile: %d inserts, %d transfers, %d vacuums; %.1fs",
				r.name, standbyExports, tally.exact, tally.failed, tally.inexact,
				load.inserts.Load(), load.transfers.Load(), load.vacuums.Load(), time.Since(roundStart).Seconds())
			if loadErr != nil {
				t.Fatalf("load on the primary: %v", loadErr)
			}
			if load.transfers.Load() == 0 || load.vacuums.Load() == 0 {
				t.Fatalf("the load did not run (%d transfers, %d vacuums): the round tested nothing", load.transfers.Load(), load.vacuums.Load())
			}
			if tally.inexact > 0 {
				t.Errorf("%d of %d exports succeeded without holding exactly one snapshot's rows", tally.inexact, standbyExports)
			}
			if r.mustSucceed && tally.exact == 0 {
				t.Errorf("no export of %d succeeded", standbyExports)
			}
		})
	}
	t.Logf("total %.1fs", time.Since(start).Seconds())
}

// standbyTally counts a round's exports by outcome.
type standbyTally struct {
	exact, failed, inexact int
}

// exportFromStandby runs standbyExports exports of accounts from standby, one after another,
// each once the standby has caught up with the primary, and checks each: a failure must name
// a conflict with recovery and leave no file; a success must hold ids 1..max(id) once each
// with sum(v) = 0. Inexact successes are reported as test errors and counted.
func exportFromStandby(t *testing.T, primary, standby *pgtest.Cluster) standbyTally {
	t.Helper()
	ctx := context.Background()
	cfg := config(t, standby.DSN("postgres"))
	var tally standbyTally
	for i := range standbyExports {
		catchUp, cancel := context.WithTimeout(ctx, standbyCatchUpLimit)
		err := primary.WaitReplayed(catchUp, standby)
		cancel()
		if err != nil {
			t.Fatalf("export %d: %v", i, err)
		}
		dir := filepath.Join(t.TempDir(), "out")
		began := time.Now()
		res, err := export.Run(ctx, export.Options{
			ConnConfig: cfg, Table: "accounts", OutputDir: dir,
			Parallel: standbyParallel, Chunks: standbyChunks,
		})
		took := time.Since(began).Seconds()
		if err != nil {
			tally.failed++
			t.Logf("export %d: failed after %.2fs: %v", i, took, err)
			if !strings.Contains(err.Error(), standbyConflictError) {
				t.Errorf("export %d failed without naming a %s: %v", i, standbyConflictError, err)
			}
			if left := dirEntriesIfAny(t, dir); len(left) > 0 {
				t.Errorf("export %d failed but left %v", i, left)
			}
			continue
		}
		ids := readInt64(t, dir, "id")
		vs := readInt64(t, dir, "v")
		if res.Rows != int64(len(ids)) {
			t.Errorf("export %d: result says %d rows, the files hold %d", i, res.Rows, len(ids))
		}
		if diff := accountsDiff(ids, vs); diff != "" {
			tally.inexact++
			t.Errorf("export %d: succeeded in %.2fs (snapshot %s, lsn %s) but is not one snapshot's rows: %s", i, took, res.Snapshot, res.LSN, diff)
			continue
		}
		tally.exact++
		t.Logf("export %d: exact, %d rows in %.2fs", i, len(ids), took)
	}
	return tally
}

// accountsDiff says how ids and vs (one row each, in any order) differ from one instant of
// accounts: ids 1..max(id) exactly once each and sum(v) = 0. It returns "" when they match.
func accountsDiff(ids, vs []int64) string {
	var maxID, sum int64
	for i, id := range ids {
		maxID = max(maxID, id)
		sum += vs[i]
	}
	seen := make([]bool, maxID+1)
	var missing, doubled, bad int64
	var firstMissing int64 = -1
	for _, id := range ids {
		switch {
		case id < 1:
			bad++
		case seen[id]:
			doubled++
		default:
			seen[id] = true
		}
	}
	for id := int64(1); id <= maxID; id++ {
		if !seen[id] {
			missing++
			if firstMissing < 0 {
				firstMissing = id
			}
		}
	}
	if missing == 0 && doubled == 0 && bad == 0 && sum == 0 {
		return ""
	}
	return fmt.Sprintf("%d rows, max(id) %d, %d ids missing (first %d), %d ids twice, %d ids below 1, sum(v) %d",
		len(ids), maxID, missing, firstMissing, doubled, bad, sum)
}

// dirEntriesIfAny lists what dir holds, nothing when it does not exist.
func dirEntriesIfAny(t testing.TB, dir string) []string {
	t.Helper()
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return dirEntries(t, dir)
}

// accountsLoad changes accounts on the primary until stopped while keeping its invariants:
// ids gapless and sum(v) = 0 in every committed state.
type accountsLoad struct {
	inserts, transfers, vacuums atomic.Int64

	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	err    error
}

// startAccountsLoad starts, against dsn, one session appending ids after max(id),
// standbyTransferrers sessions moving amounts between two random rows, and a loop running
// VACUUM.
func startAccountsLoad(ctx context.Context, dsn string) *accountsLoad {
	ctx, cancel := context.WithCancel(ctx)
	l := &accountsLoad{cancel: cancel}
	l.goSession(ctx, dsn, "insert", func(ctx context.Context, c *pgx.Conn) error {
		var last int64
		if err := c.QueryRow(ctx, `SELECT max(id) FROM accounts`).Scan(&last); err != nil {
			return fmt.Errorf("read max(id): %w", err)
		}
		for id := last + 1; ctx.Err() == nil; id++ {
			// Each id commits on its own, in order: every snapshot sees 1..some max.
			if _, err := c.Exec(ctx, `INSERT INTO accounts VALUES ($1, 0)`, id); err != nil {
				return fmt.Errorf("insert id %d: %w", id, err)
			}
			l.inserts.Add(1)
		}
		return nil
	})
	for w := range standbyTransferrers {
		rng := rand.New(rand.NewPCG(uint64(w), 7))
		l.goSession(ctx, dsn, fmt.Sprintf("transfer %d", w), func(ctx context.Context, c *pgx.Conn) error {
			for ctx.Err() == nil {
				from, to, x := 1+rng.Int64N(standbyRows), 1+rng.Int64N(standbyRows), 1+rng.Int64N(1000)
				if from == to {
					continue
				}
				// Lock the lower id first, so that transfers never deadlock.
				first, second := [2]int64{from, -x}, [2]int64{to, x}
				if to < from {
					first, second = second, first
				}
				err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
					for _, u := range [][2]int64{first, second} {
						if _, err := tx.Exec(ctx, `UPDATE accounts SET v = v + $2 WHERE id = $1`, u[0], u[1]); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					return fmt.Errorf("transfer %d from id %d to id %d: %w", x, from, to, err)
				}
				l.transfers.Add(1)
			}
			return nil
		})
	}
	l.goSession(ctx, dsn, "vacuum", func(ctx context.Context, c *pgx.Conn) error {
		for ctx.Err() == nil {
			if _, err := c.Exec(ctx, `VACUUM (SKIP_LOCKED) accounts`); err != nil {
				return fmt.Errorf("vacuum: %w", err)
			}
			l.vacuums.Add(1)
			select {
			case <-ctx.Done():
			case <-time.After(standbyVacuumEvery):
			}
		}
		return nil
	})
	return l
}

// goSession runs work on a connection of its own until ctx ends; an error other than the one
// ctx's end causes is kept for stop to return.
func (l *accountsLoad) goSession(ctx context.Context, dsn, name string, work func(context.Context, *pgx.Conn) error) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		c, err := pgx.Connect(ctx, dsn)
		if err == nil {
			err = work(ctx, c)
			c.Close(context.Background())
		}
		if err != nil && ctx.Err() == nil {
			l.mu.Lock()
			l.err = errors.Join(l.err, fmt.Errorf("%s session: %w", name, err))
			l.mu.Unlock()
			l.cancel()
		}
	}()
}

// stop ends the load, waits for its sessions and returns their errors. Calling it again
// returns the same errors.
func (l *accountsLoad) stop() error {
	l.cancel()
	l.wg.Wait()
	return l.err
}
