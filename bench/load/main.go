// Command load creates and fills a benchmark table in parallel sessions: `lineorder` (the Star
// Schema Benchmark shape of ../shared/gpuhost/make-lineorder.sh: ints, bigint, numeric(12,2),
// date, timestamp, char, varchar) or `wide` (text-heavy, numeric-heavy, arrays and jsonb, with
// NULLs). The size is given in rows, or in GB of the COPY BINARY stream the exporter reads: a
// calibration batch is loaded first, its COPY measured with the exporter's own column list, and
// the row count derived from it.
//
// Tables are UNLOGGED (the load is the benchmark's setup, not what it measures), then VACUUM
// ANALYZE'd so that every export reads pages with hint bits set. It prints one JSON object.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/snapshot"
)

// shape is one benchmark table: its columns and the SELECT list that makes row g.
type shape struct {
	ddl, fill string
	// series is the type of g: int as in make-lineorder.sh, bigint where products of g must not overflow.
	series string
}

var shapes = map[string]shape{
	"lineorder": {
		ddl:    pgtest.LineorderColumns,
		fill:   pgtest.LineorderRow,
		series: "int",
	},
	"wide": {
		ddl: `id bigint, name text, email varchar(80), note text, city text, status char(8),
 amount numeric(18,4), price numeric(12,2), ratio numeric, qty int, score float8, weight float4,
 created timestamptz, day date, active bool, uid uuid, tags text[], vals int[], attrs jsonb`,
		fill: `g, 'customer ' || g, 'user' || g || '@example.com',
 CASE WHEN g%10 = 0 THEN NULL ELSE repeat(md5(g::text), (1 + g%4)::int) END,
 (array['Berlin','Paris','Tokyo','Lima','Oslo','São Paulo'])[1+g%6], (array['new','active','closed'])[1+g%3],
 ((g*7919)%100000000)/10000.0, ((g*31)%1000000)/100.0, CASE WHEN g%7 = 0 THEN NULL ELSE (g%1000)/7.0 END,
 g%1000, (g%10000)/3.0, (g%500)/8.0, timestamptz '2020-01-01 00:00:00+00' + g * interval '1 second',
 date '2000-01-01' + (g%9000)::int, g%2 = 0, md5(g::text)::uuid,
 array['a' || g%10, 'b' || g%7, 'c' || g%3], array[g%100, g%1000, g%100000]::int[],
 jsonb_build_object('id', g, 'kind', (array['x','y','z'])[1+g%3], 'n', g%97, 'ok', g%2 = 0, 'tags', array[g%5, g%11])`,
		series: "bigint",
	},
}

// calibrationRows is the batch whose COPY size sets the bytes per row.
const calibrationRows = 20000

type summary struct {
	Table         string  `json:"table"`
	Shape         string  `json:"shape"`
	Rows          int64   `json:"rows"`
	BytesPerRow   float64 `json:"copy_bytes_per_row"`
	EstCopyBytes  int64   `json:"est_copy_bytes"`
	RelationBytes int64   `json:"relation_bytes"`
	Sessions      int     `json:"sessions"`
	Seconds       float64 `json:"seconds"`
	Reused        bool    `json:"reused"`
}

func main() {
	dsn := flag.String("dsn", "", "connection string (empty: PG* variables)")
	kind := flag.String("shape", "lineorder", "table shape: lineorder or wide")
	table := flag.String("table", "", "table name (default: the shape's name)")
	gb := flag.Float64("gb", 0.4, "target size in GB (1e9 bytes) of COPY BINARY, when --rows is 0")
	rows := flag.Int64("rows", 0, "rows to load (overrides --gb)")
	sessions := flag.Int("sessions", runtime.NumCPU(), "parallel loading sessions")
	reuse := flag.Bool("reuse", false, "keep an existing table of this name if it has the requested row count (--rows), or any rows (--gb)")
	printSQL := flag.Bool("print-sql", false, "print the table's CREATE and its INSERT (rows LO to HI) as two lines, for hosts without this binary, and exit")
	flag.Parse()
	sh, ok := shapes[*kind]
	if !ok {
		fmt.Fprintf(os.Stderr, "load: --shape %q: want lineorder or wide\n", *kind)
		os.Exit(2)
	}
	if *table == "" {
		*table = *kind
	}
	if *printSQL {
		ident := pgx.Identifier{*table}.Sanitize()
		oneLine := func(s string) string { return strings.ReplaceAll(s, "\n", " ") }
		fmt.Printf("DROP TABLE IF EXISTS %s; CREATE UNLOGGED TABLE %s (%s)\n", ident, ident, oneLine(sh.ddl))
		fmt.Printf("INSERT INTO %s SELECT %s FROM generate_series(LO::%s, HI) g\n", ident, oneLine(sh.fill), sh.series)
		return
	}
	if *rows <= 0 && *gb <= 0 {
		fmt.Fprintln(os.Stderr, "load: give --rows or --gb")
		os.Exit(2)
	}
	s, err := load(context.Background(), *dsn, *kind, sh, *table, *gb, *rows, max(*sessions, 1), *reuse)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	b, _ := json.Marshal(s)
	fmt.Println(string(b))
}

func load(ctx context.Context, dsn, kind string, sh shape, table string, gb float64, rows int64, sessions int, reuse bool) (*summary, error) {
	start := time.Now()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("--dsn: %w", err)
	}
	conn, err := snapshot.Connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background()) //nolint:errcheck // best effort at exit
	ident := pgx.Identifier{table}.Sanitize()
	s := &summary{Table: table, Shape: kind, Sessions: sessions}

	if reuse {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+ident).Scan(&n); err == nil && n > 0 && (rows <= 0 || n == rows) {
			s.Rows, s.Reused = n, true
			return s, finish(ctx, conn, ident, s, start)
		}
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS %s; CREATE UNLOGGED TABLE %s (%s)", ident, ident, sh.ddl)); err != nil {
		return nil, fmt.Errorf("create %s: %w", table, err)
	}
	// Calibrate on rows from the middle of the range so that numbers in text have typical length.
	if _, err := conn.Exec(ctx, fmt.Sprintf("INSERT INTO %s SELECT %s FROM generate_series(%d::%s, %d) g", ident, sh.fill,
		1000000, sh.series, 1000000+calibrationRows-1)); err != nil {
		return nil, fmt.Errorf("calibrate %s: %w", table, err)
	}
	cbytes, err := copyBytes(ctx, conn, table)
	if err != nil {
		return nil, fmt.Errorf("calibrate %s: %w", table, err)
	}
	s.BytesPerRow = float64(cbytes) / calibrationRows
	if rows <= 0 {
		rows = int64(gb * 1e9 / s.BytesPerRow)
	}
	if _, err := conn.Exec(ctx, "TRUNCATE "+ident); err != nil {
		return nil, err
	}
	s.Rows = rows
	s.EstCopyBytes = int64(float64(rows) * s.BytesPerRow)

	errs := make([]error, sessions)
	var wg sync.WaitGroup
	for i := range sessions {
		lo, hi := int64(i)*rows/int64(sessions), int64(i+1)*rows/int64(sessions)-1
		if hi < lo {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := snapshot.Connect(ctx, cfg)
			if err != nil {
				errs[i] = err
				return
			}
			defer c.Close(context.Background()) //nolint:errcheck // best effort
			if _, err := c.Exec(ctx, fmt.Sprintf("INSERT INTO %s SELECT %s FROM generate_series(%d::%s, %d) g", ident, sh.fill, lo, sh.series, hi)); err != nil {
				errs[i] = fmt.Errorf("session %d: rows %d-%d: %w", i, lo, hi, err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("fill %s: %w", table, err)
	}
	if _, err := conn.Exec(ctx, "VACUUM (FREEZE, ANALYZE) "+ident); err != nil {
		return nil, fmt.Errorf("vacuum %s: %w", table, err)
	}
	return s, finish(ctx, conn, ident, s, start)
}

func finish(ctx context.Context, conn *pgx.Conn, ident string, s *summary, start time.Time) error {
	if err := conn.QueryRow(ctx, "SELECT pg_relation_size($1::regclass)", ident).Scan(&s.RelationBytes); err != nil {
		return fmt.Errorf("size of %s: %w", ident, err)
	}
	s.Seconds = time.Since(start).Seconds()
	return nil
}

// copyBytes is the size of the exporter's COPY BINARY stream for the whole table: the same
// column list, with ::text casts where the exporter casts.
func copyBytes(ctx context.Context, conn *pgx.Conn, table string) (int64, error) {
	rel, err := snapshot.Resolve(ctx, conn, table, nil, "")
	if err != nil {
		return 0, err
	}
	selects := make([]string, len(rel.Columns))
	for i, c := range rel.Columns {
		selects[i] = c.Ident()
		if pgarrow.PlanColumn(c.Name, c.TypeOID, c.Typmod, c.PGType).CastText {
			selects[i] += "::text"
		}
	}
	var n countWriter
	_, err = conn.PgConn().CopyTo(ctx, &n, fmt.Sprintf("COPY (SELECT %s FROM %s) TO STDOUT (FORMAT BINARY)", strings.Join(selects, ", "), rel.Name))
	return int64(n), err
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)
