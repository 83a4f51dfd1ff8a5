package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/export"
)

// runExport parses the export command's flags and runs one export.
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		opts        export.Options
		dsn         string
		columns     string
		gpu         string
		maxFileSize string
		bufferSize  string
		logFormat   string
		noProgress  bool
		asText      string
		cpuProfile  string
	)
	fs.StringVar(&dsn, "dsn", "", "PostgreSQL connection string (default: the PG* environment variables)")
	fs.StringVar(&opts.Table, "table", "", "table, view, materialized view, foreign or partitioned table to export (required)")
	fs.StringVar(&columns, "columns", "", "comma-separated columns to export, in this order (default: all)")
	fs.IntVar(&opts.Parallel, "parallel", export.DefaultParallel, "worker connections")
	fs.IntVar(&opts.Chunks, "chunks", 0, "ctid ranges to split the table into (default: 4 per worker)")
	fs.StringVar(&opts.OutputDir, "output-dir", "", "directory for the Parquet files and _manifest.json (required)")
	fs.BoolVar(&opts.Overwrite, "overwrite", false, "replace a previous export in a non-empty output dir")
	fs.StringVar(&opts.Compression, "compression", export.DefaultCompression, "zstd, snappy, gzip, brotli, lz4 or none; zstd, gzip and brotli take a level: zstd:1")
	fs.Int64Var(&opts.RowGroupSize, "row-group-size", export.DefaultRowGroupSize, "maximum rows per row group")
	fs.StringVar(&maxFileSize, "max-file-size", "1GiB", "start a new file past this size (bytes, or with KiB/MiB/GiB/KB/MB/GB)")
	fs.StringVar(&bufferSize, "buffer-size", "4MiB", "size of each COPY receive buffer")
	fs.StringVar(&gpu, "gpu", string(export.GPUAuto), "GPU decoder: auto, on or off")
	fs.StringVar(&opts.GPULibrary, "gpu-lib", "", "CUDA decoder library (default: $PGPARQUET_CUDA_LIB, then libpgparquet_cuda.so beside the binary, ../lib, the loader path)")
	fs.StringVar(&opts.Role, "role", "", "read as this role (SET ROLE): its privileges and row-level security apply")
	fs.StringVar(&logFormat, "log-format", "text", "log format on stderr: text or json")
	fs.BoolVar(&noProgress, "no-progress", false, "no progress bar, even on a terminal")
	fs.StringVar(&cpuProfile, "cpu-profile", "", "write a pprof CPU profile of the export to this file (bench/cpusplit reads it)")
	fs.StringVar(&opts.Numeric, "numeric", export.DefaultNumeric, "numeric without typmod: string (exact text), decimal:P,S or float64")
	fs.StringVar(&opts.Timestamp, "timestamp", export.DefaultTimestamp, "timestamp(tz): micros (timestamp[us]; past 294246 AD fails) or text (ISO text in UTC, always exact)")
	fs.StringVar(&asText, "as-text", "", "comma-separated columns to export as their PostgreSQL text form")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("export: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("--dsn: %w", err)
	}
	opts.ConnConfig = cfg
	if columns != "" {
		for _, c := range strings.Split(columns, ",") {
			opts.Columns = append(opts.Columns, strings.TrimSpace(c))
		}
	}
	if asText != "" {
		for _, c := range strings.Split(asText, ",") {
			opts.AsText = append(opts.AsText, strings.TrimSpace(c))
		}
	}
	opts.GPU = export.GPUMode(gpu)
	if opts.MaxFileSize, err = parseSize(maxFileSize); err != nil {
		return fmt.Errorf("--max-file-size: %w", err)
	}
	size, err := parseSize(bufferSize)
	if err != nil {
		return fmt.Errorf("--buffer-size: %w", err)
	}
	opts.BufferSize = int(size)

	tty := isTerminal(os.Stderr) && !noProgress
	level := slog.LevelInfo
	if tty {
		level = slog.LevelWarn // the progress bar tells the story; logs would break its line
	}
	handlerOpts := &slog.HandlerOptions{Level: level}
	var handler slog.Handler = slog.NewTextHandler(stderr, handlerOpts)
	if logFormat == "json" {
		handler = slog.NewJSONHandler(stderr, handlerOpts)
	} else if logFormat != "text" {
		return fmt.Errorf("--log-format: %q is not text or json", logFormat)
	}
	opts.Logger = slog.New(handler)
	bar := &progressBar{w: stderr, tty: tty, log: opts.Logger}
	opts.Progress = bar.update

	if cpuProfile != "" {
		stop, err := startCPUProfile(cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	res, err := export.Run(ctx, opts)
	bar.done()
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(summary(res))
}

// summaryJSON is the JSON document printed on stdout at the end of an export.
type summaryJSON struct {
	Table       string         `json:"table"`
	OutputDir   string         `json:"output_dir"`
	Rows        int64          `json:"rows"`
	CopyBytes   int64          `json:"copy_bytes"`
	OutputBytes int64          `json:"output_bytes"`
	Files       int            `json:"files"`
	Seconds     float64        `json:"seconds"`
	GBPerSecond float64        `json:"gb_per_s"`
	Decoder     string         `json:"decoder"`
	Workers     int            `json:"workers"`
	Snapshot    string         `json:"snapshot"`
	LSN         string         `json:"lsn"`
	Timings     export.Timings `json:"timings"`
}

func summary(r *export.Result) summaryJSON {
	return summaryJSON{Table: r.Table, OutputDir: r.OutputDir, Rows: r.Rows, CopyBytes: r.CopyBytes,
		OutputBytes: r.OutputBytes, Files: len(r.Files), Seconds: r.Seconds, GBPerSecond: r.GBPerSecond,
		Decoder: r.Decoder, Workers: r.Workers, Snapshot: r.Snapshot, LSN: r.LSN, Timings: r.Timings}
}

// parseSize reads a byte count such as 1048576, 512MiB or 1GB.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) && (u.suffix != "B" || !strings.HasSuffix(strings.ToUpper(t), "IB")) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size in bytes (e.g. 536870912, 512MiB, 1GB)", s)
	}
	return n * mult, nil
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// startCPUProfile profiles the process until the returned function is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
