//go:build linux

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// chaosSize is one size of TestSidecarChaos.
type chaosSize struct {
	sidecars  int              // sidecar processes serving the queue at once
	requests  int              // export requests, each by alice or bob at random
	tableRows []int64          // rows of each table exported (ids 1..n, one table per entry)
	pace      int64            // a requester's read pauses 20 ms every pace rows; 0: never
	chaos     time.Duration    // how long faults are injected, at least (see runChaos)
	feed      time.Duration    // the requests are queued over this first part of the chaos
	faultGap  [2]time.Duration // random pause between two faults
	settle    time.Duration    // most time for every request to be final once the faults stop
}

// chaosSizes are the sizes $PGPARQUET_CHAOS selects; unset, "short" runs (the one `make test`
// runs: about a minute on 2 cores; `make chaos` runs "long": about 10 minutes on 2 cores).
// Faults come rarely enough for an export to finish between two of them mostly, so that
// requests seldom use up their attempts.
var chaosSizes = map[string]chaosSize{
	"short": {sidecars: 3, requests: 30, tableRows: []int64{150_000, 200_000, 250_000}, pace: 1000,
		chaos: 40 * time.Second, feed: 25 * time.Second, faultGap: [2]time.Duration{1500 * time.Millisecond, 3500 * time.Millisecond},
		settle: 2 * time.Minute},
	"long": {sidecars: 4, requests: 250, tableRows: []int64{1_000_000, 2_000_000, 3_000_000}, pace: 50_000,
		chaos: 5 * time.Minute, feed: 4 * time.Minute, faultGap: [2]time.Duration{5 * time.Second, 10 * time.Second},
		settle: 10 * time.Minute},
}

// Sidecar timing under chaos: a frozen sidecar is stopped for longer than chaosLease, so that
// another one re-queues and re-runs its requests while it sleeps.
const (
	chaosLease     = 3 * time.Second
	chaosPoll      = 200 * time.Millisecond
	chaosHeartbeat = time.Second
	chaosAttempts  = 10
)

// TestSidecarChaos checks the sidecar's central promise under faults: every request ends
// final (succeeded, failed or cancelled), and every succeeded request's Parquet files are
// exactly its manifest, exactly its rows of parquet_export_files (names, rows, bytes, sha256
// recomputed from disk), the only Parquet files in its directory, and hold the table's rows:
// the same count and sum(v), every id exactly once. Since every fault here is transient, a
// request may fail only once its attempts are used up.
//
// Setup: a PostgreSQL cluster of its own (it is restarted), the roles of deploy/roles.sql (the
// sidecar logs in as pgparquet: no superuser, no BYPASSRLS), requester roles alice and bob
// served by it, tables (id bigint, v bigint, pad text) of known count and sum, and several
// `pgparquet sidecar` processes of one binary. A row-level security policy makes the
// requesters' reads pause now and then (chaosSize.pace), so that exports of these small
// tables are still in flight, as those of large ones are, when faults strike.
//
// Alice and bob queue requests (each with its own output_path and max_attempts 10) while
// faults strike at random intervals (runChaos): kill -9 of a sidecar (restarted at once),
// SIGSTOP of a sidecar for longer than the lease (then SIGCONT), and once a restart of
// PostgreSQL. Then the faults stop, every request must become final within a bound, the
// sidecars are stopped with SIGTERM (so that nothing writes while the files are checked) and
// every request is checked; each broken one fails the test with what is wrong (which file,
// which ids lost or duplicated) and its history from the sidecars' logs.
//
// $PGPARQUET_CHAOS picks the size (chaosSizes); $PGPARQUET_CHAOS_SEED replays a run's choices
// of requests and faults (their timing still varies). Without a GPU the sidecars write through
// the GPU writer's file path (pqfile row groups, pages gathered from fragments) on its CPU
// twins; with $PGPARQUET_PAGE_WRITER=off through arrow-go's FileWriter.
func TestSidecarChaos(t *testing.T) {
	sizeName := os.Getenv("PGPARQUET_CHAOS")
	if sizeName == "" {
		sizeName = "short"
	}
	size, ok := chaosSizes[sizeName]
	if !ok {
		t.Fatalf("PGPARQUET_CHAOS=%q: want one of short, long", sizeName)
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("PGPARQUET_CHAOS_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("PGPARQUET_CHAOS_SEED=%q: %v", s, err)
		}
	}
	t.Logf("chaos size %s, seed %d (PGPARQUET_CHAOS_SEED=%d replays it)", sizeName, seed, seed)
	began := time.Now()

	bin := buildBinary(t)
	env := newChaosEnv(t, size)
	root := t.TempDir()
	fleet := newChaosFleet(t, bin, env.sidecarDSN, "--output-root", root,
		"--lease", chaosLease.String(), "--heartbeat", chaosHeartbeat.String(), "--poll-interval", chaosPoll.String(),
		"--concurrency", "2", "--parallel", "2")
	fleet.startAll(size.sidecars)
	t.Logf("setup done in %s: %d tables, %d sidecars", time.Since(began).Round(time.Millisecond), len(env.tables), size.sidecars)

	rng := rand.New(rand.NewPCG(seed, 0))
	plan := planRequests(rng, size, env.tables)
	var gate sync.RWMutex // held for writing while PostgreSQL restarts
	feedCtx, stopFeed := context.WithCancel(context.Background())
	var feeding sync.WaitGroup
	fed := make(chan struct{})
	var queued int
	var feedErr error
	feeding.Go(func() {
		defer close(fed)
		queued, feedErr = feedRequests(feedCtx, env, plan, size.feed, &gate, rand.New(rand.NewPCG(seed, 1)))
	})
	t.Cleanup(func() { stopFeed(); feeding.Wait() })

	chaosStart := time.Now()
	stats := runChaos(t, env, fleet, size, &gate, rng, fed)
	stopFeed()
	feeding.Wait()
	if feedErr != nil {
		t.Fatalf("queueing requests: %v", feedErr)
	}
	t.Logf("chaos done in %s: %d kills, %d freezes, %d PostgreSQL restarts, %d sidecar exits on their own; %d of %d requests queued",
		time.Since(chaosStart).Round(time.Millisecond), stats.kills, stats.freezes, stats.restarts, stats.exits, queued, len(plan))
	plan = plan[:queued]

	settleStart := time.Now()
	settle := size.settle
	if d, ok := t.Deadline(); ok {
		settle = min(settle, time.Until(d)-time.Minute)
	}
	waitAllFinal(t, env, fleet, plan, settle)
	t.Logf("all %d requests final %s after the chaos", len(plan), time.Since(settleStart).Round(time.Millisecond))
	fleet.stopAll(30 * time.Second)

	checkStart := time.Now()
	sum := checkRequests(t, env, fleet, root, plan)
	t.Logf("checked in %s; a succeeded export took %.1f s (median), %.1f s at most; decoders %v", time.Since(checkStart).Round(time.Millisecond),
		sum.medianSeconds, sum.maxSeconds, sum.decoders)
	t.Logf("requests %d: %d succeeded, %d failed, %d cancelled (%d attempts in all); faults: %d kills, %d freezes, "+
		"%d PostgreSQL restarts, %d sidecar exits on their own; rows checked %d, lost %d, duplicated %d; "+
		"stray Parquet files %d, other entries %d; %s in all",
		len(plan), sum.states["succeeded"], sum.states["failed"], sum.states["cancelled"], sum.attempts,
		stats.kills, stats.freezes, stats.restarts, stats.exits, sum.rowsChecked, sum.lost, sum.duplicated,
		sum.stray, len(sum.others), time.Since(began).Round(time.Millisecond))
	if len(sum.others) > 0 {
		t.Logf("entries beside succeeded exports, neither Parquet nor partial files (first of %d): %v",
			len(sum.others), sum.others[:min(5, len(sum.others))])
	}
	if sum.states["succeeded"] == 0 {
		t.Errorf("no request succeeded: nothing was checked")
	}
	// make test runs this test a second time with arrow-go's FileWriter
	// ($PGPARQUET_PAGE_WRITER=off, which the sidecars inherit): each run must have taken its
	// file path.
	want := "are encoded on the CPU"
	if os.Getenv("PGPARQUET_PAGE_WRITER") == "off" {
		want = "arrow-go encodes every column"
	} else if sum.decoders["gpu"] > 0 {
		want = "are encoded on the GPU"
	}
	// $PGPARQUET_CHAOS_DECODER (the GPU host sets gpu) is the decoder every succeeded export
	// must have used, so that the run is known to have put that path under the faults.
	if d := os.Getenv("PGPARQUET_CHAOS_DECODER"); d != "" && sum.decoders[d] != sum.states["succeeded"] {
		t.Errorf("decoders of the succeeded exports: %v; want all %s", sum.decoders, d)
	}
	if !slices.ContainsFunc(fleet.all, func(p *chaosProc) bool { return strings.Contains(p.stderr.String(), want) }) {
		t.Errorf("no sidecar's log says %q: the file path this run is for was not taken", want)
	}
}

// chaosEnv is the database of TestSidecarChaos.
type chaosEnv struct {
	cluster    *pgtest.Cluster
	db         string
	suDSN      string            // the superuser's
	sidecarDSN string            // role pgparquet's
	roleDSN    map[string]string // requester role -> its DSN
	tables     []chaosTable
	checking   atomic.Bool // the files are being checked: a failure now is not the server's
}

// chaosTable is an exported table and what its export must hold.
type chaosTable struct {
	name string
	rows int64 // ids are exactly 1..rows
	sumV int64
}

// chaosRequesters are the roles that queue requests; each logs in with password "pw".
var chaosRequesters = []string{"alice", "bob"}

// newChaosEnv starts a PostgreSQL cluster of the test's own (stopped when the test ends, its
// log printed when the test failed before the checks), creates database chaos with the roles
// of deploy/roles.sql, the requester roles (served by the sidecar) and size's tables, which
// they may read.
func newChaosEnv(t *testing.T, size chaosSize) *chaosEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cluster, err := pgtest.Start(ctx, pgtest.Options{})
	if err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	e := &chaosEnv{cluster: cluster, db: "chaos", roleDSN: map[string]string{}}
	t.Cleanup(func() { // registered first: runs after the sidecars are gone
		if t.Failed() && !e.checking.Load() {
			t.Logf("PostgreSQL log (tail):\n%s", lastLines(cluster.ServerLog(), 15))
		}
		if err := cluster.Stop(); err != nil {
			t.Errorf("stop PostgreSQL: %v", err)
		}
	})
	if e.suDSN, err = cluster.CreateDatabase(ctx, e.db); err != nil {
		t.Fatal(err)
	}
	pgtest.InstallRoles(t, cluster, e.db)
	su := pgtest.Connect(t, e.suDSN)
	e.sidecarDSN = cluster.DSNAs(e.db, "pgparquet", pgtest.RolesPassword)
	var super, bypass bool
	if err := su.QueryRow(ctx, `SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'pgparquet'`).Scan(&super, &bypass); err != nil {
		t.Fatalf("role pgparquet after deploy/roles.sql: %v", err)
	}
	if super || bypass {
		t.Fatalf("deploy/roles.sql made pgparquet superuser=%t bypassrls=%t", super, bypass)
	}
	pgtest.Exec(t, su, `CREATE FUNCTION chaos_pause() RETURNS boolean LANGUAGE plpgsql VOLATILE
		AS $$ BEGIN PERFORM pg_sleep(0.02); RETURN true; END $$`)
	for i, rows := range size.tableRows {
		tbl := chaosTable{name: fmt.Sprintf("chaos_%d", i+1), rows: rows}
		pgtest.Exec(t, su, fmt.Sprintf(`CREATE TABLE %s (id bigint, v bigint, pad text)`, tbl.name))
		pgtest.Exec(t, su, fmt.Sprintf(`INSERT INTO %s SELECT g, (g * 2654435761) %% 1000000007, lpad((g %% 997)::text, 20, 'p')
			FROM generate_series(1, %d) g`, tbl.name, rows))
		pgtest.Exec(t, su, `ANALYZE `+tbl.name)
		if size.pace > 0 { // the requesters' reads only: the table's owner, who counts below, is exempt
			pgtest.Exec(t, su, `ALTER TABLE `+tbl.name+` ENABLE ROW LEVEL SECURITY`)
			pgtest.Exec(t, su, fmt.Sprintf(`CREATE POLICY pace ON %s FOR SELECT USING (id %% %d <> 0 OR chaos_pause())`, tbl.name, size.pace))
		}
		var n, distinct, lo, hi int64
		if err := su.QueryRow(ctx, fmt.Sprintf(`SELECT count(*), count(DISTINCT id), min(id), max(id), sum(v)::bigint FROM %s`, tbl.name)).
			Scan(&n, &distinct, &lo, &hi, &tbl.sumV); err != nil {
			t.Fatalf("count %s: %v", tbl.name, err)
		}
		if n != rows || distinct != rows || lo != 1 || hi != rows {
			t.Fatalf("%s holds %d rows, %d distinct ids in %d..%d; want ids 1..%d once each", tbl.name, n, distinct, lo, hi, rows)
		}
		e.tables = append(e.tables, tbl)
	}
	for _, role := range chaosRequesters {
		pgtest.Exec(t, su, fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD 'pw'`, pgx.Identifier{role}.Sanitize()))
		for _, tbl := range e.tables {
			pgtest.Exec(t, su, fmt.Sprintf(`GRANT SELECT ON %s TO %s`, tbl.name, pgx.Identifier{role}.Sanitize()))
		}
		serveRole(t, su, role)
		e.roleDSN[role] = cluster.DSNAs(e.db, role, "pw")
	}
	return e
}

// serveRole lets the sidecar's role pgparquet serve role's requests, as an administrator
// does: with pgparquet_auth.serve_role(regrole) when deploy/roles.sql installed that function,
// else with GRANT role TO pgparquet.
func serveRole(t *testing.T, su *pgx.Conn, role string) {
	t.Helper()
	var viaFunction bool
	if err := su.QueryRow(context.Background(),
		`SELECT to_regprocedure('pgparquet_auth.serve_role(regrole)') IS NOT NULL`).Scan(&viaFunction); err != nil {
		t.Fatalf("look for pgparquet_auth.serve_role: %v", err)
	}
	if viaFunction {
		pgtest.ServeRole(t, su, role)
		return
	}
	pgtest.Exec(t, su, fmt.Sprintf(`GRANT %s TO pgparquet`, pgx.Identifier{role}.Sanitize()))
}

// chaosRequest is one export request of the run: planned before it, id set once queued.
type chaosRequest struct {
	requester, table, outputPath string
	id                           int64
}

// planRequests draws size.requests requests: a random requester and table each, and an
// output_path of its own.
func planRequests(rng *rand.Rand, size chaosSize, tables []chaosTable) []*chaosRequest {
	plan := make([]*chaosRequest, size.requests)
	for i := range plan {
		role := chaosRequesters[rng.IntN(len(chaosRequesters))]
		tbl := tables[rng.IntN(len(tables))].name
		plan[i] = &chaosRequest{requester: role, table: tbl, outputPath: fmt.Sprintf("chaos/%03d-%s-%s", i+1, role, tbl)}
	}
	return plan
}

// chaosMaxQueued is the most requests a role has queued at once: the feeder waits before it
// queues more, so as to stay below any per-role limit of queued requests.
const chaosMaxQueued = 40

// feedRequests queues plan's requests in order, each in its requester's own session: a third
// at once (so that every sidecar is busy when the faults begin), the rest at random times over
// span, each role waiting (up to two minutes) while it has chaosMaxQueued requests queued. It
// holds gate for reading around each INSERT, so that PostgreSQL never restarts in the middle
// of one (an INSERT cut off after its commit would leave it unknown whether the request
// exists), and checks each session with a ping first (a session from before a restart is
// replaced). It sets each queued request's id and returns how many it queued (the first ones
// of plan): all of them, or those queued before ctx ended (no error) or before an error.
func feedRequests(ctx context.Context, env *chaosEnv, plan []*chaosRequest, span time.Duration, gate *sync.RWMutex, rng *rand.Rand) (int, error) {
	conns := map[string]*pgx.Conn{}
	defer func() {
		for _, c := range conns {
			c.Close(context.Background()) //nolint:errcheck // done with it
		}
	}()
	// queue inserts req unless its requester has chaosMaxQueued requests queued; it reports
	// whether it did.
	queue := func(req *chaosRequest) (bool, error) {
		gate.RLock()
		defer gate.RUnlock()
		opCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		c := conns[req.requester]
		if c == nil || c.Ping(opCtx) != nil {
			if c != nil {
				c.Close(opCtx) //nolint:errcheck // it is broken
			}
			var err error
			if c, err = pgx.Connect(opCtx, env.roleDSN[req.requester]); err != nil {
				delete(conns, req.requester)
				return false, fmt.Errorf("connect as %s: %w", req.requester, err)
			}
			conns[req.requester] = c
		}
		var queued int
		if err := c.QueryRow(opCtx, `SELECT count(*) FROM parquet_export_requests WHERE state = 'queued'`).Scan(&queued); err != nil {
			return false, fmt.Errorf("count %s's queued requests: %w", req.requester, err)
		}
		if queued >= chaosMaxQueued {
			return false, nil
		}
		if err := c.QueryRow(opCtx, `INSERT INTO parquet_export_requests (table_name, output_path, max_attempts)
			VALUES ($1, $2, $3) RETURNING id`, req.table, req.outputPath, chaosAttempts).Scan(&req.id); err != nil {
			return false, fmt.Errorf("queue %s as %s: %w", req.outputPath, req.requester, err)
		}
		return true, nil
	}
	upfront := len(plan) / 3
	offsets := make([]time.Duration, len(plan))
	for i := upfront; i < len(plan); i++ {
		offsets[i] = time.Duration(rng.Int64N(int64(span)))
	}
	slices.Sort(offsets)
	start := time.Now()
	for i, req := range plan {
		wait := time.Until(start.Add(offsets[i]))
		var waitedFrom time.Time
		for {
			select {
			case <-ctx.Done():
				return i, nil
			case <-time.After(wait):
			}
			ok, err := queue(req)
			if err != nil {
				if ctx.Err() != nil {
					return i, nil
				}
				return i, err
			}
			if ok {
				break
			}
			if waitedFrom.IsZero() {
				waitedFrom = time.Now()
			} else if time.Since(waitedFrom) > 2*time.Minute {
				return i, fmt.Errorf("%s has had %d requests queued for 2 minutes: the sidecars do not keep up", req.requester, chaosMaxQueued)
			}
			wait = 500 * time.Millisecond
		}
	}
	return len(plan), nil
}

// chaosStats counts the faults of a run.
type chaosStats struct {
	kills    int // kill -9, each followed by a restart
	freezes  int // SIGSTOP for longer than the lease, then SIGCONT
	restarts int // of PostgreSQL
	exits    int // sidecar processes that exited on their own (replaced at once)
}

// runChaos injects faults for size.chaos, and on while fed is open (the requests are still
// being queued), up to twice size.chaos. Every faultGap (drawn at random) it kills -9 a
// sidecar and starts it again (1 time in 3), or freezes one (never the last one running) for
// 0.5-3.5 s longer than the lease, so that it is thawed while another sidecar re-runs its
// exports or just after; once, at a random time in the middle, it restarts PostgreSQL
// (holding gate). Kills strike sidecars that run exports (3 times in 4, as the control table
// shows them). A freeze is aimed at the end of an export's COPY, when the attempt is about to
// publish its files, which a stale attempt must never do: it waits (up to 3 s, looking every
// 5 ms) for the sessions of one export (same sidecar, same snapshot) to have no COPY running
// any more, then strikes within 30 ms; with no such moment it strikes a sidecar chosen as for
// a kill. Sidecars that exit on their own are replaced. When it returns, every sidecar runs
// unfrozen.
func runChaos(t *testing.T, env *chaosEnv, fleet *chaosFleet, size chaosSize, gate *sync.RWMutex, rng *rand.Rand, fed <-chan struct{}) chaosStats {
	var st chaosStats
	start := time.Now()
	end, limit := start.Add(size.chaos), start.Add(2*size.chaos)
	// over reports whether the faults are over.
	over := func(now time.Time) bool {
		select {
		case <-fed:
			return !now.Before(end)
		default:
			return !now.Before(limit)
		}
	}
	restartAt := start.Add(size.chaos/4 + time.Duration(rng.Int64N(int64(size.chaos/2))))
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo)+1)) }
	nextFault := start.Add(between(size.faultGap[0], size.faultGap[1]))
	watch := &exportWatch{dsn: env.suDSN}
	defer watch.close()
	// slotOf maps a sidecar id to its slot when that process runs unfrozen.
	slotOf := func(id string) (int, bool) {
		for slot, p := range fleet.slots {
			if p.id == id && p.frozenUntil.IsZero() && !p.exited() {
				return slot, true
			}
		}
		return 0, false
	}
	// pick returns the slot to strike: 3 times in 4 one whose sidecar runs exports, if any.
	pick := func() (int, bool) {
		var candidates []int
		for _, id := range watch.busy() {
			if slot, ok := slotOf(id); ok && !slices.Contains(candidates, slot) {
				candidates = append(candidates, slot)
			}
		}
		if len(candidates) == 0 || rng.IntN(4) == 0 {
			candidates = fleet.runningSlots()
		}
		if len(candidates) == 0 {
			return 0, false
		}
		return candidates[rng.IntN(len(candidates))], true
	}
	// freeze stops slot's sidecar for 0.5-3.5 s longer than the lease, unless it is the last
	// one running.
	freeze := func(slot int, why string) {
		if len(fleet.runningSlots()) < 2 {
			return
		}
		d := chaosLease + between(500*time.Millisecond, 3500*time.Millisecond)
		fleet.freeze(slot, d)
		st.freezes++
		t.Logf("%5.1fs SIGSTOP %s for %s%s", time.Since(start).Seconds(), fleet.slots[slot].id, d.Round(time.Millisecond), why)
	}
	var (
		freezeDue time.Time         // a freeze waits for an export's COPY to end
		copying   map[copyGroup]int // at the last look: active COPY sessions per export
		aimID     string            // the sidecar to freeze at aimAt
		aimAt     time.Time
	)
	for now := time.Now(); !over(now); now = time.Now() {
		if aimID != "" || !freezeDue.IsZero() {
			time.Sleep(5 * time.Millisecond)
		} else {
			time.Sleep(100 * time.Millisecond)
		}
		fleet.thawDue()
		st.exits += fleet.replaceExited()
		switch {
		case st.restarts == 0 && now.After(restartAt):
			restart := time.Now()
			gate.Lock()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			err := env.cluster.Restart(ctx)
			cancel()
			gate.Unlock()
			if err != nil {
				t.Fatalf("restart PostgreSQL: %v", err)
			}
			st.restarts++
			t.Logf("%5.1fs PostgreSQL restarted (took %s)", time.Since(start).Seconds(), time.Since(restart).Round(time.Millisecond))
		case aimID != "":
			if now.Before(aimAt) {
				continue
			}
			if slot, ok := slotOf(aimID); ok {
				freeze(slot, " at the end of an export's COPY")
			}
			aimID = ""
		case !freezeDue.IsZero():
			if cur := watch.copying(); cur != nil {
				for g, n := range copying {
					_, ok := slotOf(g.sidecar)
					if m, still := cur[g]; ok && still && n > 0 && m == 0 {
						aimID, aimAt = g.sidecar, now.Add(between(0, 30*time.Millisecond))
						break
					}
				}
				copying = cur
			}
			switch {
			case aimID != "":
				freezeDue, copying = time.Time{}, nil
			case now.Sub(freezeDue) > 3*time.Second:
				freezeDue, copying = time.Time{}, nil
				if slot, ok := pick(); ok {
					freeze(slot, "")
				}
			}
		case now.After(nextFault):
			nextFault = now.Add(between(size.faultGap[0], size.faultGap[1]))
			if rng.IntN(3) > 0 && len(fleet.runningSlots()) >= 2 {
				freezeDue = now
				continue
			}
			if slot, ok := pick(); ok {
				old := fleet.slots[slot].id
				fleet.killAndRestart(slot)
				st.kills++
				t.Logf("%5.1fs kill -9 %s, started %s", time.Since(start).Seconds(), old, fleet.slots[slot].id)
			}
		}
	}
	fleet.thawAll()
	st.exits += fleet.replaceExited()
	return st
}

// exportWatch looks at the exports in flight, as the superuser, over a connection of its own
// reopened after it breaks (PostgreSQL restarts). Its methods answer nil when the server does
// not answer.
type exportWatch struct {
	dsn  string
	conn *pgx.Conn
}

// copyGroup is the sessions of one export: its sidecar (their application_name) and the xmin of
// the snapshot they share.
type copyGroup struct{ sidecar, xmin string }

// busy returns the sidecars that run exports, as the control table says.
func (w *exportWatch) busy() []string {
	var out []string
	w.query(`SELECT DISTINCT claimed_by FROM parquet_export_requests WHERE state = 'running' AND claimed_by IS NOT NULL`,
		func(rows pgx.Rows) error {
			var id string
			_, err := pgx.ForEachRow(rows, []any{&id}, func() error { out = append(out, id); return nil })
			return err
		})
	return out
}

// copying returns, for every export whose sessions hold a snapshot, how many of them run a COPY.
func (w *exportWatch) copying() map[copyGroup]int {
	out := map[copyGroup]int{}
	ok := w.query(`SELECT application_name, backend_xmin::text, count(*) FILTER (WHERE state = 'active' AND query ILIKE 'copy%')
		FROM pg_stat_activity WHERE backend_xmin IS NOT NULL AND application_name <> '' GROUP BY 1, 2`,
		func(rows pgx.Rows) error {
			var g copyGroup
			var n int
			_, err := pgx.ForEachRow(rows, []any{&g.sidecar, &g.xmin, &n}, func() error { out[g] = n; return nil })
			return err
		})
	if !ok {
		return nil
	}
	return out
}

// query runs sql and hands its rows to read; it reports whether both succeeded.
func (w *exportWatch) query(sql string, read func(pgx.Rows) error) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if w.conn == nil || w.conn.IsClosed() {
		var err error
		if w.conn, err = pgx.Connect(ctx, w.dsn); err != nil {
			w.conn = nil
			return false
		}
	}
	rows, err := w.conn.Query(ctx, sql)
	if err != nil {
		return false
	}
	return read(rows) == nil
}

func (w *exportWatch) close() {
	if w.conn != nil {
		w.conn.Close(context.Background()) //nolint:errcheck // done with it
	}
}

// chaosFleet runs the sidecar processes: one slot per sidecar, each holding its current
// process. A process killed or exited is replaced by a new one with its own --id ("s2-3" is
// slot 2's third process). Every process ever started is killed (frozen or not) when the test
// ends, and dies with the test process if that is killed. Its methods are called from the
// test's goroutine only.
type chaosFleet struct {
	t     *testing.T
	bin   string
	dsn   string   // the sidecars' connection string, without application_name
	args  []string // flags of every process but --dsn, --id and --listen
	slots []*chaosProc
	gens  []int
	all   []*chaosProc // every process started, oldest first
}

// chaosProc is one `pgparquet sidecar` process.
type chaosProc struct {
	id          string
	cmd         *exec.Cmd
	addr        string // of /healthz
	stderr      *lockedBuffer
	done        chan struct{} // closed once the process exited; then err is Wait's result
	err         error
	frozenUntil time.Time // when SIGSTOPped: when to SIGCONT it; else zero
}

func (p *chaosProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// newChaosFleet returns a fleet of sidecars of binary bin that connect with dsn (a URL), each
// tagging its sessions with its id as application_name, and take args.
func newChaosFleet(t *testing.T, bin, dsn string, args ...string) *chaosFleet {
	f := &chaosFleet{t: t, bin: bin, dsn: dsn, args: args}
	t.Cleanup(func() {
		for _, p := range f.all {
			if !p.exited() {
				p.cmd.Process.Kill() //nolint:errcheck // it may have exited meanwhile
			}
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				t.Errorf("sidecar %s (pid %d) still running 10 s after SIGKILL", p.id, p.cmd.Process.Pid)
			}
		}
	})
	return f
}

// startAll starts n sidecars, one after the other (the first creates the control tables), and
// waits until each answers /healthz.
func (f *chaosFleet) startAll(n int) {
	f.t.Helper()
	f.slots, f.gens = make([]*chaosProc, n), make([]int, n)
	client := &http.Client{Timeout: 2 * time.Second}
	for slot := range n {
		p := f.start(slot)
		deadline := time.Now().Add(30 * time.Second)
		for {
			if resp, err := client.Get("http://" + p.addr + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if p.exited() {
				f.t.Fatalf("sidecar %s exited at start: %v\n%s", p.id, p.err, p.stderr.String())
			}
			if time.Now().After(deadline) {
				f.t.Fatalf("sidecar %s not healthy after 30s:\n%s", p.id, p.stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// start starts a new process in slot; it does not wait for it to be healthy.
func (f *chaosFleet) start(slot int) *chaosProc {
	f.t.Helper()
	f.gens[slot]++
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.t.Fatalf("find a port for a sidecar: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	p := &chaosProc{id: fmt.Sprintf("s%d-%d", slot+1, f.gens[slot]), addr: addr, stderr: &lockedBuffer{}, done: make(chan struct{})}
	dsn := f.dsn + "&application_name=" + p.id
	if !strings.Contains(f.dsn, "?") {
		dsn = f.dsn + "?application_name=" + p.id
	}
	p.cmd = exec.Command(f.bin, append([]string{"sidecar", "--id", p.id, "--listen", addr, "--dsn", dsn}, f.args...)...)
	p.cmd.Stderr = p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		f.t.Fatalf("start sidecar %s: %v", p.id, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	f.slots[slot] = p
	f.all = append(f.all, p)
	return p
}

// runningSlots are the slots whose process runs and is not frozen.
func (f *chaosFleet) runningSlots() []int {
	var out []int
	for slot, p := range f.slots {
		if p.frozenUntil.IsZero() && !p.exited() {
			out = append(out, slot)
		}
	}
	return out
}

// killAndRestart kills slot's process with SIGKILL, waits for it to be gone and starts a new one.
func (f *chaosFleet) killAndRestart(slot int) {
	f.t.Helper()
	p := f.slots[slot]
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		f.t.Fatalf("kill -9 sidecar %s: %v", p.id, err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		f.t.Fatalf("sidecar %s still running 10 s after kill -9", p.id)
	}
	f.start(slot)
}

// freeze stops slot's process with SIGSTOP; thawDue continues it after d.
func (f *chaosFleet) freeze(slot int, d time.Duration) {
	f.t.Helper()
	p := f.slots[slot]
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil && !errors.Is(err, os.ErrProcessDone) {
		f.t.Fatalf("SIGSTOP sidecar %s: %v", p.id, err)
	}
	p.frozenUntil = time.Now().Add(d)
}

// thawDue continues (SIGCONT) the frozen processes whose time is up.
func (f *chaosFleet) thawDue() {
	f.t.Helper()
	for _, p := range f.slots {
		if !p.frozenUntil.IsZero() && time.Now().After(p.frozenUntil) {
			f.thaw(p)
		}
	}
}

// thawAll continues every frozen process.
func (f *chaosFleet) thawAll() {
	f.t.Helper()
	for _, p := range f.slots {
		if !p.frozenUntil.IsZero() {
			f.thaw(p)
		}
	}
}

func (f *chaosFleet) thaw(p *chaosProc) {
	f.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		f.t.Fatalf("SIGCONT sidecar %s: %v", p.id, err)
	}
	p.frozenUntil = time.Time{}
}

// replaceExited starts a new process in each slot whose process exited on its own (one that
// started while PostgreSQL restarted cannot migrate and exits), logging why it exited. It
// returns how many it replaced and fails the test when a slot keeps exiting.
func (f *chaosFleet) replaceExited() int {
	f.t.Helper()
	n := 0
	for slot, p := range f.slots {
		if !p.exited() {
			continue
		}
		f.t.Logf("sidecar %s exited on its own (%v): %s", p.id, p.err, lastLines(p.stderr.String(), 3))
		if f.gens[slot] > 50 {
			f.t.Fatalf("sidecar slot %d keeps exiting (%d processes)", slot+1, f.gens[slot])
		}
		f.start(slot)
		n++
	}
	return n
}

// stopAll continues any frozen process, sends every process SIGTERM and waits up to within for
// them to exit 0, so that nothing writes under the output root afterwards.
func (f *chaosFleet) stopAll(within time.Duration) {
	f.t.Helper()
	f.thawAll()
	for _, p := range f.slots {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
			f.t.Fatalf("SIGTERM sidecar %s: %v", p.id, err)
		}
	}
	deadline := time.After(within)
	for _, p := range f.slots {
		select {
		case <-p.done:
			if p.err != nil {
				f.t.Errorf("sidecar %s exited with %v after SIGTERM, want exit 0: %s", p.id, p.err, lastLines(p.stderr.String(), 5))
			}
		case <-deadline:
			p.cmd.Process.Kill() //nolint:errcheck // it may have exited meanwhile
			<-p.done
			f.t.Errorf("sidecar %s still running %s after SIGTERM; killed: %s", p.id, within, lastLines(p.stderr.String(), 5))
		}
	}
}

// history returns the log lines of every process about request id in time order, as
// "time sidecar message key=value ...", at most max of them (the last ones).
func (f *chaosFleet) history(id int64, max int) []string {
	key := fmt.Sprintf(`"request":%d`, id)
	type entry struct {
		at   time.Time // zero for a line that is not JSON: it sorts first
		line string
	}
	var entries []entry
	for _, p := range f.all {
		for _, line := range strings.Split(p.stderr.String(), "\n") {
			i := strings.Index(line, key)
			if i < 0 || (len(line) > i+len(key) && line[i+len(key)] != ',' && line[i+len(key)] != '}') {
				continue
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				entries = append(entries, entry{line: line})
				continue
			}
			var b strings.Builder
			at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(rec["time"]))
			if err == nil {
				b.WriteString(at.Format("15:04:05.000"))
			}
			fmt.Fprintf(&b, " %v %v", rec["sidecar"], rec["msg"])
			keys := make([]string, 0, len(rec))
			for k := range rec {
				switch k {
				case "time", "level", "msg", "sidecar", "request", "table", "requester":
				default:
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(&b, " %s=%v", k, rec[k])
			}
			entries = append(entries, entry{at: at, line: b.String()})
		}
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].at.Before(entries[j].at) })
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.line
	}
	if len(out) > max {
		out = append([]string{fmt.Sprintf("(%d earlier lines)", len(out)-max)}, out[len(out)-max:]...)
	}
	return out
}

// finalStates are the states a request never leaves.
var finalStates = []string{"succeeded", "failed", "cancelled"}

// waitAllFinal waits up to within for every planned request to be final, replacing sidecars
// that exit meanwhile; past it, it fails the test with every request that is not.
func waitAllFinal(t *testing.T, env *chaosEnv, fleet *chaosFleet, plan []*chaosRequest, within time.Duration) {
	t.Helper()
	su := pgtest.Connect(t, env.suDSN)
	ids := make([]int64, len(plan))
	for i, r := range plan {
		ids[i] = r.id
	}
	deadline := time.Now().Add(within)
	for {
		var open int
		if err := su.QueryRow(context.Background(), `SELECT count(*) FROM parquet_export_requests
			WHERE id = ANY($1) AND state <> ALL($2)`, ids, finalStates).Scan(&open); err != nil {
			t.Fatalf("read request states: %v", err)
		}
		if open == 0 {
			return
		}
		if time.Now().After(deadline) {
			rows, err := su.Query(context.Background(), `SELECT format('request %s (%s, %s): %s, attempt %s of %s, sidecar %s, heartbeat %s ago, note %L, error %L',
					id, requester, table_name, state, attempt, max_attempts, coalesce(claimed_by, '-'),
					coalesce((now() - heartbeat_at)::text, '-'), note, error)
				FROM parquet_export_requests WHERE id = ANY($1) AND state <> ALL($2) ORDER BY id`, ids, finalStates)
			if err != nil {
				t.Fatalf("%d requests not final after %s (and their states unreadable: %v)", open, within, err)
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatalf("%d requests not final after %s (and their states unreadable: %v)", open, within, err)
			}
			var running []string
			for _, p := range fleet.slots {
				running = append(running, fmt.Sprintf("%s exited=%t", p.id, p.exited()))
			}
			t.Fatalf("%d requests not final %s after the chaos stopped (sidecars: %s):\n%s",
				open, within, strings.Join(running, ", "), strings.Join(lines, "\n"))
		}
		fleet.replaceExited()
		time.Sleep(500 * time.Millisecond)
	}
}

// chaosSummary adds up the checks of every request.
type chaosSummary struct {
	states                        map[string]int
	attempts                      int
	rowsChecked, lost, duplicated int64
	stray                         int
	others                        []string       // entries beside succeeded exports, neither Parquet nor partial
	medianSeconds, maxSeconds     float64        // of the succeeded exports' last attempts
	decoders                      map[string]int // succeeded exports by decoder (gpu, cpu)
}

// requestRow is a request as the control table holds it at the end.
type requestRow struct {
	id                   int64
	requester, state     string
	attempt, maxAttempts int
	rows                 *int64
	errText, note        string
}

// fileRow is a row of parquet_export_files.
type fileRow struct {
	path        string // relative to the output root
	rows, bytes int64
	sha256      string
}

// checkRequests reads every request and its files back from the control tables, checks that
// the requests are exactly the ones queued, each final and by its requester, that only
// succeeded ones have files, and checks each succeeded one's files (checkExport, several at
// once). Each broken request fails the test with everything wrong with it and its history
// from the sidecars' logs.
func checkRequests(t *testing.T, env *chaosEnv, fleet *chaosFleet, root string, plan []*chaosRequest) chaosSummary {
	t.Helper()
	env.checking.Store(true)
	ctx := context.Background()
	su := pgtest.Connect(t, env.suDSN)
	rows, err := su.Query(ctx, `SELECT id, requester, state, attempt, max_attempts, rows, coalesce(error, ''), coalesce(note, '')
		FROM parquet_export_requests ORDER BY id`)
	if err != nil {
		t.Fatalf("read requests: %v", err)
	}
	got := map[int64]*requestRow{}
	var r requestRow
	if _, err := pgx.ForEachRow(rows, []any{&r.id, &r.requester, &r.state, &r.attempt, &r.maxAttempts, &r.rows, &r.errText, &r.note}, func() error {
		c := r
		got[r.id] = &c
		return nil
	}); err != nil {
		t.Fatalf("read requests: %v", err)
	}
	rows, err = su.Query(ctx, `SELECT request_id, path, rows, bytes, sha256 FROM parquet_export_files ORDER BY request_id, path`)
	if err != nil {
		t.Fatalf("read parquet_export_files: %v", err)
	}
	files := map[int64][]fileRow{}
	var id int64
	var f fileRow
	if _, err := pgx.ForEachRow(rows, []any{&id, &f.path, &f.rows, &f.bytes, &f.sha256}, func() error {
		files[id] = append(files[id], f)
		return nil
	}); err != nil {
		t.Fatalf("read parquet_export_files: %v", err)
	}
	if len(got) != len(plan) {
		t.Errorf("parquet_export_requests holds %d requests, %d were queued", len(got), len(plan))
	}
	tables := map[string]chaosTable{}
	for _, tbl := range env.tables {
		tables[tbl.name] = tbl
	}

	sum := chaosSummary{states: map[string]int{}}
	if err := su.QueryRow(ctx, `SELECT coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds), 0), coalesce(max(seconds), 0)
		FROM parquet_export_requests WHERE state = 'succeeded'`).Scan(&sum.medianSeconds, &sum.maxSeconds); err != nil {
		t.Fatalf("read export durations: %v", err)
	}
	rows, err = su.Query(ctx, `SELECT coalesce(decoder, 'none'), count(*) FROM parquet_export_requests WHERE state = 'succeeded' GROUP BY 1`)
	if err != nil {
		t.Fatalf("read decoders: %v", err)
	}
	sum.decoders = map[string]int{}
	var decoder string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&decoder, &n}, func() error { sum.decoders[decoder] = n; return nil }); err != nil {
		t.Fatalf("read decoders: %v", err)
	}
	verdicts := make([]exportVerdict, len(plan))
	var wg sync.WaitGroup
	work := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range work {
				req := plan[i]
				verdicts[i] = checkExport(root, tables[req.table], got[req.id], files[req.id])
			}
		})
	}
	for i, req := range plan {
		row := got[req.id]
		switch {
		case row == nil:
			t.Errorf("request %d (%s) is missing from parquet_export_requests", req.id, req.outputPath)
			continue
		case row.requester != req.requester:
			t.Errorf("request %d was queued by %s but its requester is %s", req.id, req.requester, row.requester)
		}
		sum.states[row.state]++
		sum.attempts += row.attempt
		switch {
		case !slices.Contains(finalStates, row.state):
			t.Errorf("request %d (%s) is %s, not final", req.id, req.outputPath, row.state)
		case row.state == "succeeded":
			work <- i
		case row.state == "failed" && row.attempt < row.maxAttempts:
			t.Errorf("request %d (%s on %s, output_path %s) failed at attempt %d of %d, though every fault here is transient: %s\n  its history in the sidecars' logs:\n\t%s",
				req.id, req.requester, req.table, req.outputPath, row.attempt, row.maxAttempts, row.errText,
				strings.Join(fleet.history(req.id, 40), "\n\t"))
		default:
			t.Logf("request %d (%s, %s) %s after %d of %d attempts: %s", req.id, req.requester, req.table,
				row.state, row.attempt, row.maxAttempts, row.errText)
		}
		if row.state != "succeeded" {
			if n := len(files[req.id]); n > 0 {
				t.Errorf("request %d is %s but parquet_export_files lists %d files for it", req.id, row.state, n)
			}
		}
	}
	close(work)
	wg.Wait()
	for i, v := range verdicts {
		sum.rowsChecked += v.rowsRead
		sum.lost += v.lost
		sum.duplicated += v.duplicated
		sum.stray += v.stray
		sum.others = append(sum.others, v.others...)
		if len(v.problems) == 0 {
			continue
		}
		req := plan[i]
		row := got[req.id]
		t.Errorf("request %d (%s on %s, output_path %s, succeeded on attempt %d): %d rows lost, %d duplicated:\n\t%s\n  its history in the sidecars' logs:\n\t%s",
			req.id, req.requester, req.table, req.outputPath, row.attempt, v.lost, v.duplicated,
			strings.Join(v.problems, "\n\t"), strings.Join(fleet.history(req.id, 40), "\n\t"))
	}
	return sum
}

// exportVerdict is what checkExport found about one succeeded request.
type exportVerdict struct {
	problems   []string
	rowsRead   int64    // rows read back from the recorded files
	lost       int64    // ids of the table in none of them
	duplicated int64    // rows beyond the first of the same id
	stray      int      // Parquet files in the directory that the export does not list
	others     []string // other entries there but the manifest (no reader of *.parquet sees them)
}

// manifestFile is a file as _manifest.json lists it.
type manifestFile struct {
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// checkExport checks the files of a succeeded request of table tbl against everything that
// describes them. The directory is the one of the recorded paths (relative to root); in it
// _manifest.json must list exactly the recorded files with the same rows, bytes and sha256;
// on disk each must have those bytes and that sha256, and no other *.parquet nor partial
// (.inprogress) file may be there. Read back with arrow-go, the recorded files must hold the
// recorded rows each and, together, the table: its count, its sum(v), every id exactly once.
func checkExport(root string, tbl chaosTable, req *requestRow, files []fileRow) exportVerdict {
	var v exportVerdict
	problem := func(format string, args ...any) { v.problems = append(v.problems, fmt.Sprintf(format, args...)) }
	if req.rows == nil || *req.rows != tbl.rows {
		problem("the request records %s rows, the table holds %d", fmtPtr(req.rows), tbl.rows)
	}
	if len(files) == 0 {
		problem("no files recorded in parquet_export_files")
		v.lost = tbl.rows
		return v
	}
	dirs := map[string]bool{}
	recorded := map[string]fileRow{}
	for _, f := range files {
		dirs[path.Dir(f.path)] = true
		recorded[path.Base(f.path)] = f
	}
	if len(dirs) > 1 {
		problem("recorded files lie in %d directories: %v", len(dirs), slices.Sorted(maps.Keys(dirs)))
	}
	dirRel := path.Dir(files[0].path)
	dir := filepath.Join(root, filepath.FromSlash(dirRel))

	// The manifest against the files table.
	if b, err := os.ReadFile(filepath.Join(dir, "_manifest.json")); err != nil {
		problem("manifest: %v", err)
	} else {
		var m struct {
			Rows  int64          `json:"rows"`
			Files []manifestFile `json:"files"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			problem("manifest %s: %v", filepath.Join(dirRel, "_manifest.json"), err)
		}
		if m.Rows != tbl.rows {
			problem("manifest says %d rows, the table holds %d", m.Rows, tbl.rows)
		}
		listed := map[string]bool{}
		for _, mf := range m.Files {
			listed[mf.Name] = true
			f, ok := recorded[mf.Name]
			switch {
			case !ok:
				problem("%s is in the manifest (%d rows) but not in parquet_export_files", path.Join(dirRel, mf.Name), mf.Rows)
			case f.rows != mf.Rows || f.bytes != mf.Bytes || f.sha256 != mf.SHA256:
				problem("%s: manifest says %d rows, %d bytes, sha256 %s; parquet_export_files says %d rows, %d bytes, sha256 %s",
					f.path, mf.Rows, mf.Bytes, short(mf.SHA256), f.rows, f.bytes, short(f.sha256))
			}
		}
		for _, f := range files {
			if !listed[path.Base(f.path)] {
				problem("%s is in parquet_export_files (%d rows) but not in the manifest", f.path, f.rows)
			}
		}
	}

	// The files on disk, and what else the directory holds.
	present := map[string]bool{}
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.path))
		size, sum, err := hashFile(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
			problem("%s (%d rows recorded) is missing from disk", f.path, f.rows)
			continue
		case err != nil:
			problem("%s: %v", f.path, err)
			continue
		case size != f.bytes || sum != f.sha256:
			problem("%s on disk: %d bytes, sha256 %s; recorded: %d bytes, sha256 %s", f.path, size, short(sum), f.bytes, short(f.sha256))
		}
		present[f.path] = true
	}
	if entries, err := os.ReadDir(dir); err != nil {
		problem("list %s: %v", dirRel, err)
	} else {
		for _, e := range entries {
			name := e.Name()
			if _, ok := recorded[name]; ok || name == "_manifest.json" {
				continue
			}
			switch {
			case strings.HasSuffix(name, ".parquet"):
				v.stray++
				n, err := parquetRows(filepath.Join(dir, name))
				if err != nil {
					problem("stray %s beside the export (unreadable: %v): a reader of *.parquet reads it too", path.Join(dirRel, name), err)
				} else {
					problem("stray %s (%d rows) beside the export: a reader of *.parquet reads it too", path.Join(dirRel, name), n)
				}
			case strings.HasSuffix(name, ".inprogress"):
				problem("partial file %s left beside the export", path.Join(dirRel, name))
			default:
				v.others = append(v.others, path.Join(dirRel, name))
			}
		}
	}

	// The rows: every id of the table exactly once, the recorded count per file, sum(v).
	first := make([]uint16, tbl.rows+1) // id -> 1 + index in files of the file that held it first
	var distinct, inRange, outside, sumV int64
	var dupExamples []string
	for i, f := range files {
		if !present[f.path] {
			continue
		}
		n, err := readIDs(filepath.Join(root, filepath.FromSlash(f.path)), func(id, val int64) {
			sumV += val
			if id < 1 || id > tbl.rows {
				outside++
				return
			}
			inRange++
			if first[id] == 0 {
				first[id] = uint16(i + 1)
				distinct++
			} else if len(dupExamples) < 5 {
				dupExamples = append(dupExamples, fmt.Sprintf("id %d in %s and %s", id, path.Base(files[first[id]-1].path), path.Base(f.path)))
			}
		})
		v.rowsRead += n
		if err != nil {
			problem("read %s back: %v", f.path, err)
		} else if n != f.rows {
			problem("%s holds %d rows, %d recorded", f.path, n, f.rows)
		}
	}
	v.lost = tbl.rows - distinct
	v.duplicated = inRange - distinct
	if v.rowsRead != tbl.rows {
		problem("the recorded files hold %d rows, the table %d", v.rowsRead, tbl.rows)
	}
	if sumV != tbl.sumV {
		problem("sum(v) of the recorded files is %d, of the table %d", sumV, tbl.sumV)
	}
	if v.lost > 0 {
		problem("%d ids of the table are in no recorded file: %s", v.lost, missingRanges(first, 5))
	}
	if v.duplicated > 0 {
		problem("%d rows repeat an id already read: %s", v.duplicated, strings.Join(dupExamples, "; "))
	}
	if outside > 0 {
		problem("%d rows have an id outside the table's 1..%d", outside, tbl.rows)
	}
	return v
}

// readIDs reads columns id and v of the Parquet file at p with arrow-go's reader, a row group
// at a time, and hands each row's values to fn. It returns the rows read.
func readIDs(p string, fn func(id, v int64)) (int64, error) {
	rdr, err := file.OpenParquetFile(p, false)
	if err != nil {
		return 0, fmt.Errorf("open: %w", err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		return 0, fmt.Errorf("arrow reader: %w", err)
	}
	sc := rdr.MetaData().Schema
	cols := []int{sc.ColumnIndexByName("id"), sc.ColumnIndexByName("v")}
	if cols[0] < 0 || cols[1] < 0 {
		return 0, fmt.Errorf("no column id or v in %s", sc)
	}
	var n int64
	for rg := range rdr.NumRowGroups() {
		tbl, err := fr.ReadRowGroups(context.Background(), cols, []int{rg})
		if err != nil {
			return n, fmt.Errorf("row group %d: %w", rg, err)
		}
		ids, err1 := int64Column(tbl.Column(tbl.Schema().FieldIndices("id")[0]).Data().Chunks())
		vs, err2 := int64Column(tbl.Column(tbl.Schema().FieldIndices("v")[0]).Data().Chunks())
		tbl.Release()
		if err := errors.Join(err1, err2); err != nil {
			return n, fmt.Errorf("row group %d: %w", rg, err)
		}
		if len(ids) != len(vs) {
			return n, fmt.Errorf("row group %d: %d ids, %d values of v", rg, len(ids), len(vs))
		}
		for i := range ids {
			fn(ids[i], vs[i])
		}
		n += int64(len(ids))
	}
	return n, nil
}

// int64Column copies the values of chunks, which must be int64 arrays without nulls.
func int64Column(chunks []arrow.Array) ([]int64, error) {
	var out []int64
	for _, c := range chunks {
		a, ok := c.(*array.Int64)
		if !ok {
			return nil, fmt.Errorf("column of type %s, want int64", c.DataType())
		}
		if a.NullN() > 0 {
			return nil, fmt.Errorf("%d nulls in a column without any", a.NullN())
		}
		out = append(out, a.Int64Values()...)
	}
	return out, nil
}

// parquetRows is the row count in the footer of the Parquet file at p.
func parquetRows(p string) (int64, error) {
	rdr, err := file.OpenParquetFile(p, false)
	if err != nil {
		return 0, err
	}
	defer rdr.Close()
	return rdr.NumRows(), nil
}

// hashFile returns the size and hex sha256 of the file at p.
func hashFile(p string) (int64, string, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("read %s: %w", p, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// missingRanges describes the first max runs of ids (indexes of first past 0) never seen.
func missingRanges(first []uint16, max int) string {
	var runs []string
	total := 0
	for id := 1; id < len(first); id++ {
		if first[id] != 0 {
			continue
		}
		end := id
		for end+1 < len(first) && first[end+1] == 0 {
			end++
		}
		total++
		if len(runs) < max {
			if end == id {
				runs = append(runs, strconv.Itoa(id))
			} else {
				runs = append(runs, fmt.Sprintf("%d-%d (%d rows)", id, end, end-id+1))
			}
		}
		id = end
	}
	if total > max {
		runs = append(runs, fmt.Sprintf("and %d more runs", total-max))
	}
	return "ids " + strings.Join(runs, ", ")
}

// short abbreviates a sha256 for messages.
func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12] + "…"
	}
	return sum
}

func fmtPtr(n *int64) string {
	if n == nil {
		return "no"
	}
	return strconv.FormatInt(*n, 10)
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
