// Command sourcelimit measures the source limit: how fast PostgreSQL emits the exporter's own
// COPY BINARY stream for a table when nothing is done with the bytes. For each P in a list it
// exports one snapshot, plans the same ctid ranges as `pgparquet export --parallel P` (4 per
// worker, pages measured inside the snapshot, columns cast ::text exactly where the exporter
// casts them), opens P connections that import the snapshot, and streams every range through
// pgconn's CopyTo into a writer that only counts. No exporter on the same host can pass the
// GB/s it prints.
//
// It prints one JSON object per P on stdout:
//
//	{"parallel":2,"copy_bytes":...,"rows":...,"tasks":8,"seconds":...,"gb_per_s":...,"cpu_s":...}
//
// cpu_s is this process's own user+sys time for that P (the client side of the measurement).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/snapshot"
)

// result is one measurement, printed as a JSON line.
type result struct {
	Parallel  int     `json:"parallel"`
	CopyBytes int64   `json:"copy_bytes"`
	Rows      int64   `json:"rows"`
	Tasks     int     `json:"tasks"`
	Seconds   float64 `json:"seconds"`
	GBPerS    float64 `json:"gb_per_s"`
	CPUS      float64 `json:"cpu_s"`
}

func main() {
	dsn := flag.String("dsn", "", "connection string (empty: PG* variables)")
	table := flag.String("table", "", "table to read (required)")
	list := flag.String("parallel", "1,2", "comma-separated connection counts to measure")
	chunks := flag.Int("chunks-per-worker", 4, "ctid ranges per connection, as the exporter's default --chunks")
	flag.Parse()
	if *table == "" {
		fmt.Fprintln(os.Stderr, "sourcelimit: --table is required")
		os.Exit(2)
	}
	var ps []int
	for _, f := range strings.Split(*list, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || p < 1 {
			fmt.Fprintf(os.Stderr, "sourcelimit: --parallel: %q is not a positive integer\n", f)
			os.Exit(2)
		}
		ps = append(ps, p)
	}
	cfg, err := pgx.ParseConfig(*dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sourcelimit: --dsn:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	enc := json.NewEncoder(os.Stdout)
	for _, p := range ps {
		r, err := measure(ctx, cfg, *table, p, *chunks)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sourcelimit: P=%d: %v\n", p, err)
			os.Exit(1)
		}
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, "sourcelimit:", err)
			os.Exit(1)
		}
	}
}

// counter is the io.Writer COPY streams into: it keeps the byte count and the number of Write
// calls (pgconn hands each CopyData message, one per row plus the trailer, to one Write).
type counter struct{ bytes, writes int64 }

func (c *counter) Write(p []byte) (int, error) {
	c.bytes += int64(len(p))
	c.writes++
	return len(p), nil
}

func measure(ctx context.Context, cfg *pgx.ConnConfig, table string, p, chunksPerWorker int) (result, error) {
	cpu0 := cpuSeconds()
	snap, err := snapshot.Export(ctx, cfg, snapshot.ExportOptions{Table: table})
	if err != nil {
		return result{}, err
	}
	defer snap.Abort() // released below once the COPYs are done; this covers early returns
	rel, err := snapshot.Resolve(ctx, snap.Conn(), snap.Relation, nil, "")
	if err != nil {
		return result{}, err
	}
	selects := make([]string, len(rel.Columns))
	for i, c := range rel.Columns {
		selects[i] = c.Ident()
		if pgarrow.PlanColumn(c.Name, c.TypeOID, c.Typmod, c.PGType).CastText {
			selects[i] += "::pg_catalog.text"
		}
	}
	selectList := strings.Join(selects, ", ")
	tasks := snapshot.Plan(rel.Sources, p*chunksPerWorker, p)
	conns := make([]*pgx.Conn, min(p, len(tasks)))
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close(context.Background()) //nolint:errcheck // read-only transactions
			}
		}
	}()
	for i := range conns {
		if conns[i], err = snapshot.Connect(ctx, cfg); err != nil {
			return result{}, err
		}
		for _, s := range []string{"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", "SET TRANSACTION SNAPSHOT '" + snap.ID + "'"} {
			if _, err := conns[i].Exec(ctx, s); err != nil {
				return result{}, fmt.Errorf("connection %d: %s: %w", i, s, err)
			}
		}
	}
	var next atomic.Int64
	var bytes, writes atomic.Int64
	errs := make([]error, len(conns))
	var wg sync.WaitGroup
	start := time.Now()
	for i, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c counter
			for {
				k := int(next.Add(1) - 1)
				if k >= len(tasks) {
					break
				}
				if _, err := conn.PgConn().CopyTo(ctx, &c, tasks[k].CopySQL(selectList)); err != nil {
					errs[i] = fmt.Errorf("%s: %w", tasks[k], err)
					return
				}
			}
			bytes.Add(c.bytes)
			writes.Add(c.writes)
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if err := errors.Join(append(errs, snap.Release(ctx))...); err != nil {
		return result{}, err
	}
	return result{Parallel: p, CopyBytes: bytes.Load(), Rows: writes.Load() - int64(len(tasks)), Tasks: len(tasks),
		Seconds: secs, GBPerS: float64(bytes.Load()) / secs / 1e9, CPUS: cpuSeconds() - cpu0}, nil
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
