// Command demo shows pgparquet on a fresh machine: it starts a throwaway PostgreSQL, fills a
// lineorder-shaped table, runs the real `pgparquet export` binary against it, lists the files
// and prints a few rows read back from the Parquet output. `make demo` runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/internal/pgtest"
)

func main() {
	bin := flag.String("bin", "bin/pgparquet", "the pgparquet binary")
	out := flag.String("out", "demo-out", "output directory (replaced)")
	rows := flag.Int("rows", 1000000, "rows in the demo table")
	flag.Parse()
	if err := run(context.Background(), *bin, *out, *rows); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, bin, out string, rows int) error {
	step("starting a throwaway PostgreSQL")
	c, err := pgtest.Start(ctx, pgtest.Options{})
	if err != nil {
		return err
	}
	defer c.Stop() //nolint:errcheck // best effort at exit
	dsn := c.DSN("postgres")
	fmt.Println("  ", dsn)

	step(fmt.Sprintf("creating lineorder with %d rows", rows))
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	for _, sql := range []string{pgtest.LineorderDDL("lineorder"), pgtest.LineorderFill("lineorder", 0, int64(rows)-1), "VACUUM ANALYZE lineorder"} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w", strings.Fields(sql)[0], err)
		}
	}
	conn.Close(ctx)

	step("exporting: " + bin + " export --table public.lineorder --output-dir " + out + " --overwrite")
	cmd := exec.CommandContext(ctx, bin, "export", "--dsn", dsn, "--table", "public.lineorder", "--output-dir", out, "--overwrite")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgparquet export: %w", err)
	}

	step("files in " + out)
	entries, err := os.ReadDir(out)
	if err != nil {
		return err
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			return err
		}
		fmt.Printf("  %12d  %s\n", info.Size(), e.Name())
	}

	step("first rows of part-00000.parquet")
	return printRows(filepath.Join(out, "part-00000.parquet"), 5)
}

// printRows prints the first n rows of a Parquet file, column by column.
func printRows(path string, n int64) error {
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		return err
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: n}, memory.DefaultAllocator)
	if err != nil {
		return err
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		return err
	}
	defer rr.Release()
	if !rr.Next() {
		return rr.Err()
	}
	rec := rr.RecordBatch()
	for i, f := range rec.Schema().Fields() {
		col := rec.Column(i)
		vals := make([]string, 0, n)
		for r := 0; r < int(min(n, rec.NumRows())); r++ {
			vals = append(vals, col.ValueStr(r))
		}
		fmt.Printf("  %-18s %-22s %s\n", f.Name, f.Type, strings.Join(vals, " | "))
	}
	return nil
}

func step(s string) { fmt.Printf("\n== %s\n", s) }
