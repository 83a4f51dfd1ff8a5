// Command memory checks that an export's memory is bounded: it exports a lineorder-shaped
// table and one `factor` times larger with the real pgparquet binary, and compares their peak
// RSS (getrusage of the child). `make bench-memory` runs it; the target is a ratio within 1.25.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// run is one measured export.
type run struct {
	Table       string  `json:"table"`
	Rows        int64   `json:"rows"`
	CopyBytes   int64   `json:"copy_bytes"`
	OutputBytes int64   `json:"output_bytes"`
	Seconds     float64 `json:"seconds"`
	PeakRSSMiB  float64 `json:"peak_rss_mib"`
	CPUSeconds  float64 `json:"cpu_s"`
	Env         string  `json:"env,omitempty"` // the variant's environment settings
}

func main() {
	bin := flag.String("bin", "bin/pgparquet", "the pgparquet binary")
	rows := flag.Int("rows", 500000, "rows of the smaller table")
	factor := flag.Int("factor", 4, "how many times larger the second table is")
	parallel := flag.Int("parallel", 4, "--parallel of both exports")
	results := flag.String("results", "bench/results", "directory for the JSON result")
	extra := flag.String("export-flags", "", "extra flags for both exports, space-separated")
	output := flag.String("output", "", "export to s3://bucket/prefix/<table> (with --s3-path-style; credentials and endpoint from the AWS_* variables) instead of a temporary local directory")
	hugeRows := flag.Int("huge-rows", 0, "instead: export a table of this many rows of -huge-mb MB each, with --huge-row-memory 64GiB and with the default, and compare peak RSS")
	hugeMB := flag.Int("huge-mb", 300, "size of each huge row in MB")
	variants := flag.String("variants", "", "environment settings to compare, each variant's space-separated NAME=VALUE pairs, variants separated by ';' (an empty variant is the inherited environment), e.g. ';GOMEMLIMIT=800MiB': each table is exported once per variant, interleaved")
	inProcess := flag.Int("in-process", 0, "instead: export a lineorder table of -rows rows this many times inside this process with -parallel workers, reporting the Go heap's peaks (and -heap-profile)")
	heapProfile := flag.String("heap-profile", "", "with -in-process: write the heap profile taken at the peak of the heap in use here")
	cpuProfile := flag.String("cpu-profile", "", "with -in-process: write a CPU profile of the exports")
	flag.Parse()
	if *inProcess > 0 {
		if *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			if err == nil {
				err = pprof.StartCPUProfile(f)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "bench-memory:", err)
				os.Exit(1)
			}
			defer pprof.StopCPUProfile()
		}
		if err := profileInProcess(context.Background(), *rows, *parallel, *inProcess, *heapProfile, export.Options{}); err != nil {
			pprof.StopCPUProfile()
			fmt.Fprintln(os.Stderr, "bench-memory:", err)
			os.Exit(1)
		}
		return
	}
	if *hugeRows > 0 {
		if err := measureHuge(context.Background(), *bin, *hugeRows, *hugeMB, *results); err != nil {
			fmt.Fprintln(os.Stderr, "bench-memory:", err)
			os.Exit(1)
		}
		return
	}
	if err := measure(context.Background(), *bin, *rows, *factor, *parallel, *results, *output, strings.Fields(*extra), strings.Split(*variants, ";")); err != nil {
		fmt.Fprintln(os.Stderr, "bench-memory:", err)
		os.Exit(1)
	}
}

func measure(ctx context.Context, bin string, rows, factor, parallel int, results, output string, extra, variants []string) error {
	c, conn, err := startCluster(ctx)
	if err != nil {
		return err
	}
	defer c.Stop() //nolint:errcheck // best effort at exit
	defer conn.Close(ctx)
	tables := []struct {
		name string
		rows int
	}{{"small", rows}, {"large", rows * factor}}
	for _, tb := range tables {
		for _, sql := range []string{pgtest.LineorderDDL(tb.name), pgtest.LineorderFill(tb.name, 0, int64(tb.rows)-1), "VACUUM ANALYZE " + tb.name} {
			if _, err := conn.Exec(ctx, sql); err != nil {
				return fmt.Errorf("load %s: %w", tb.name, err)
			}
		}
	}
	var runs []run
	for _, tb := range tables {
		for _, v := range variants {
			r, err := exportOnce(ctx, bin, c.DSN("postgres"), tb.name, parallel, output, extra, strings.Fields(v))
			if err != nil {
				return err
			}
			r.Env = v
			runs = append(runs, r)
		}
	}
	ratio := runs[len(variants)].PeakRSSMiB / runs[0].PeakRSSMiB
	host, _ := os.Hostname()
	doc := map[string]any{
		"benchmark": "bounded memory", "host": host, "cpus": runtime.NumCPU(), "date": time.Now().UTC().Format(time.RFC3339),
		"parallel": parallel, "export_flags": extra, "output": output, "runs": runs, "rss_ratio": ratio, "target_ratio": 1.25, "pass": ratio <= 1.25,
	}
	out, err := writeResult(results, "memory", doc)
	if err != nil {
		return err
	}
	fmt.Printf("\n| table | environment | rows | COPY MB | Parquet MB | seconds | CPU-s | peak RSS MiB |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range runs {
		fmt.Printf("| %s | %s | %d | %.1f | %.1f | %.2f | %.2f | %.1f |\n", r.Table, r.Env, r.Rows, float64(r.CopyBytes)/1e6,
			float64(r.OutputBytes)/1e6, r.Seconds, r.CPUSeconds, r.PeakRSSMiB)
	}
	fmt.Printf("\npeak RSS ratio large/small (%dx the rows): %.3f (target <= 1.25) -> %s\nwritten to %s\n",
		factor, ratio, map[bool]string{true: "PASS", false: "FAIL"}[ratio <= 1.25], out)
	if ratio > 1.25 {
		return fmt.Errorf("peak RSS grew %.2fx for %dx the rows", ratio, factor)
	}
	return nil
}

func exportOnce(ctx context.Context, bin, dsn, table string, parallel int, output string, extra, env []string) (run, error) {
	dir, err := os.MkdirTemp("", "bench-memory-")
	if err != nil {
		return run{}, err
	}
	defer os.RemoveAll(dir)
	if output != "" {
		dir = fmt.Sprintf("%s/%s-%d", output, table, time.Now().UnixNano())
		extra = append([]string{"--s3-path-style"}, extra...)
	}
	var stdout, stderr bytes.Buffer
	args := append([]string{"export", "--dsn", dsn, "--table", table, "--output-dir", dir,
		"--parallel", fmt.Sprint(parallel), "--no-progress"}, extra...)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Run(); err != nil {
		return run{}, fmt.Errorf("export %s: %w\n%s", table, err, stderr.String())
	}
	var sum struct {
		Rows        int64   `json:"rows"`
		CopyBytes   int64   `json:"copy_bytes"`
		OutputBytes int64   `json:"output_bytes"`
		Seconds     float64 `json:"seconds"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		return run{}, fmt.Errorf("export %s: summary: %w", table, err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return run{Table: table, Rows: sum.Rows, CopyBytes: sum.CopyBytes, OutputBytes: sum.OutputBytes, Seconds: sum.Seconds,
		PeakRSSMiB: float64(ru.Maxrss) / 1024, CPUSeconds: cmd.ProcessState.UserTime().Seconds() + cmd.ProcessState.SystemTime().Seconds()}, nil
}

// measureHuge exports rows of mb MB each over as many workers, once with a huge-row budget
// large enough to hold them all and once with the default, and reports both peak RSS.
func measureHuge(ctx context.Context, bin string, rows, mb int, results string) error {
	c, conn, err := startCluster(ctx)
	if err != nil {
		return err
	}
	defer c.Stop() //nolint:errcheck // best effort at exit
	defer conn.Close(ctx)
	// A wide inline pad puts each row on a page of its own, and one range per page gives each
	// worker one huge row.
	for _, sql := range []string{`CREATE TABLE huge (id int, pad char(5000), body text)`,
		`ALTER TABLE huge ALTER COLUMN pad SET STORAGE PLAIN`,
		`ALTER TABLE huge ALTER COLUMN body SET STORAGE EXTERNAL`,
		fmt.Sprintf(`INSERT INTO huge SELECT g, 'p', repeat(md5(g::text), %d) FROM generate_series(1, %d) g`, mb*1000000/32, rows),
		`VACUUM ANALYZE huge`} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("load huge: %w", err)
		}
	}
	var runs []run
	for _, budget := range []string{"64GiB", "512MiB"} {
		r, err := exportOnce(ctx, bin, c.DSN("postgres"), "huge", rows, "", []string{"--chunks", fmt.Sprint(rows), "--huge-row-memory", budget}, nil)
		if err != nil {
			return err
		}
		r.Table = "huge, --huge-row-memory " + budget
		runs = append(runs, r)
	}
	host, _ := os.Hostname()
	doc := map[string]any{"benchmark": "huge rows", "host": host, "cpus": runtime.NumCPU(), "date": time.Now().UTC().Format(time.RFC3339),
		"rows": rows, "row_mb": mb, "runs": runs}
	out, err := writeResult(results, "memory-huge", doc)
	if err != nil {
		return err
	}
	fmt.Printf("\n| export | rows | COPY MB | seconds | peak RSS MiB |\n|---|---|---|---|---|\n")
	for _, r := range runs {
		fmt.Printf("| %s | %d | %.1f | %.2f | %.1f |\n", r.Table, r.Rows, float64(r.CopyBytes)/1e6, r.Seconds, r.PeakRSSMiB)
	}
	fmt.Printf("written to %s\n", out)
	return nil
}

// startCluster starts a throwaway PostgreSQL and connects to it; the caller stops both.
func startCluster(ctx context.Context) (*pgtest.Cluster, *pgx.Conn, error) {
	c, err := pgtest.Start(ctx, pgtest.Options{})
	if err != nil {
		return nil, nil, err
	}
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return nil, nil, errors.Join(err, c.Stop())
	}
	return c, conn, nil
}

// writeResult writes doc as results/<name>-<host>-<date>.json and returns the path.
func writeResult(results, name string, doc map[string]any) (string, error) {
	if err := os.MkdirAll(results, 0o755); err != nil {
		return "", err
	}
	host, _ := os.Hostname()
	out := filepath.Join(results, fmt.Sprintf("%s-%s-%s.json", name, host, time.Now().UTC().Format("2006-01-02")))
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "", err
	}
	return out, os.WriteFile(out, append(b, '\n'), 0o644)
}
