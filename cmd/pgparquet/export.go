package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/device"
	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/incremental"
	"github.com/pgparquet/pgparquet/lakehouse"
	"github.com/pgparquet/pgparquet/objstore"
	"github.com/pgparquet/pgparquet/objstore/s3store"
	"github.com/pgparquet/pgparquet/outcome"
	"github.com/pgparquet/pgparquet/snapshot"
)

// exportArgs is a parsed export command line: the options for export.Run (all but
// ConnConfig, Logger and Engine) and what the command itself acts on.
type exportArgs struct {
	opts       export.Options
	dsn        string
	logFormat  string
	noProgress bool
	cpuProfile string
	tracePath  string
	gpu        device.Mode // --gpu
	gpuLib     string      // --gpu-lib
	output     objstore.Location
	pathStyle  bool // --s3-path-style
	// incremental: the next run of an incremental chain in the output dir (--incremental),
	// reading slot (--slot; empty: derived from the table).
	incremental bool
	slot        string
	// restart, with incremental: the run is a snapshot run even though the chain has runs
	// (--restart; the text is recorded as the reason).
	restart string
	iceberg icebergArgs
}

// runExport parses the export command's flags and runs one export.
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a, err := parseExportArgs(args, stderr)
	if err != nil {
		return err
	}
	opts := a.opts
	cfg, err := pgx.ParseConfig(a.dsn)
	if err != nil {
		return usagef("export: --dsn: %w (e.g. --dsn postgres://user@host:5432/db; without --dsn the PG* variables apply)", err)
	}
	applyConnDefaults(cfg)
	opts.ConnConfig = cfg
	tty := isTerminal(os.Stderr) && !a.noProgress
	level := slog.LevelInfo
	if tty {
		level = slog.LevelWarn // the progress bar tells the story; logs would break its line
	}
	handlerOpts := &slog.HandlerOptions{Level: level}
	var handler slog.Handler = slog.NewTextHandler(stderr, handlerOpts)
	if a.logFormat == "json" {
		handler = slog.NewJSONHandler(stderr, handlerOpts)
	}
	opts.Logger = slog.New(handler)
	// The GPU's start (a few hundred milliseconds) goes on while the object store and the
	// Iceberg catalog are opened.
	dev := device.Start(a.gpu, a.gpuLib, opts.Logger)
	opts.Engine = dev
	var st *s3store.Store
	if !a.output.IsLocal() {
		if st, err = s3store.New(ctx, s3store.Config{Bucket: a.output.Bucket, PathStyle: a.pathStyle}); err != nil {
			return err
		}
		opts.Store, opts.OutputDir = st, a.output.Prefix
		if opts.OutputDir == "" {
			opts.OutputDir = "."
		}
	}
	var cat *lakehouse.Catalog
	if a.iceberg.table != "" {
		a.opts.OutputDir = opts.OutputDir
		if cat, err = openIceberg(ctx, a, cfg, st); err != nil {
			return err
		}
		defer cat.Close()
	}

	bar := &progressBar{w: stderr, tty: tty, log: opts.Logger}
	opts.Progress = bar.update

	if a.cpuProfile != "" {
		stop, err := startRecording("--cpu-profile", a.cpuProfile, pprof.StartCPUProfile, pprof.StopCPUProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	if a.tracePath != "" {
		// The lanes mark their stages with trace regions (bench/traceregions sums them).
		stop, err := startRecording("--trace", a.tracePath, trace.Start, trace.Stop)
		if err != nil {
			return err
		}
		defer stop()
	}
	var res *outcome.Result
	if a.incremental {
		res, err = incremental.Run(ctx, incremental.Options{Export: opts, Slot: a.slot, Restart: a.restart})
		if incremental.NeedsSnapshot(err) && a.restart == "" {
			err = fmt.Errorf("%w; run again with --restart to go on from a new snapshot run", err)
		}
	} else {
		res, err = export.Run(ctx, opts)
	}
	bar.done()
	if os.Getenv("PGPARQUET_CUDA_CALLSTATS") != "" {
		// Where the CUDA library's CPU went (device.Device.CallStats), for measurements.
		fmt.Fprint(stderr, dev.CallStats())
	}
	if err != nil {
		if errors.Is(err, export.ErrNotEmpty) {
			return fmt.Errorf("%w; use --overwrite to replace a previous export", err)
		}
		return explainConnectTimeout(ctx, err, cfg)
	}
	switch {
	case cat != nil && a.incremental:
		if err := commitChain(ctx, cat, a, res); err != nil {
			return err
		}
	case cat != nil:
		// After the manifest is published: the files the table references are complete.
		if err := commitIceberg(ctx, cat, a, st, res); err != nil {
			return err
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// parseExportArgs reads the export command's flags. Every error it returns matches errUsage:
// -h prints the flags on stderr and returns errUsage itself; anything else is a usageError
// whose one line names the flag, what is wrong and what would work. A numeric flag given
// explicitly must be in its range (zero included: only a flag left out takes the default).
func parseExportArgs(args []string, stderr io.Writer) (exportArgs, error) {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	// Parse errors are reported on one line by run, not followed by every flag.
	fs.SetOutput(io.Discard)
	var (
		a           exportArgs
		opts        = &a.opts
		columns     string
		gpu         string
		maxFileSize string
		bufferSize  string
		hugeRows    string
		asText      string
	)
	fs.StringVar(&a.dsn, "dsn", "", "PostgreSQL connection string (default: the PG* environment variables)")
	fs.StringVar(&opts.Table, "table", "", "table, view, materialized view, foreign or partitioned table to export (required)")
	fs.StringVar(&columns, "columns", "", "comma-separated columns to export, in this order (default: all); a name with commas, spaces or quotes in double quotes, as in SQL: '\"a,b\",id'")
	fs.IntVar(&opts.Parallel, "parallel", export.DefaultParallel, fmt.Sprintf("worker connections, 1 to %d", export.MaxParallel))
	fs.IntVar(&opts.Chunks, "chunks", 0, "ctid ranges to split the table into, 1 or more (default: 4 per worker)")
	fs.StringVar(&opts.OutputDir, "output-dir", "", "local directory, or s3://bucket/prefix, for the Parquet files and _manifest.json (required; S3 credentials, region and endpoint from the AWS_* variables, shared config or web identity)")
	fs.BoolVar(&a.pathStyle, "s3-path-style", false, "address S3 buckets in the URL path (endpoint/bucket/key), as most S3-compatible servers need")
	fs.BoolVar(&opts.Overwrite, "overwrite", false, "replace a previous export in a non-empty output dir")
	fs.StringVar(&opts.Compression, "compression", export.DefaultCompression, "zstd, snappy, gzip, brotli, lz4 or none; zstd, gzip and brotli take a level: zstd:1")
	fs.Int64Var(&opts.RowGroupSize, "row-group-size", export.DefaultRowGroupSize, "maximum rows per row group, 1 or more")
	fs.StringVar(&maxFileSize, "max-file-size", formatSize(export.DefaultMaxFileSize), "start a new file past this size, 1MiB or more (bytes, or with KiB/MiB/GiB/TiB/KB/MB/GB/TB)")
	bufferDefaults := fmt.Sprintf("default %s where the GPU decodes, else %s", formatSize(export.DefaultGPUBufferSize), formatSize(export.DefaultBufferSize))
	fs.StringVar(&bufferSize, "buffer-size", "", "size of each COPY receive buffer, 64KiB to 256MiB ("+bufferDefaults+")")
	fs.StringVar(&hugeRows, "huge-row-memory", formatSize(export.DefaultHugeRowBytes), "memory rows larger than a receive buffer may take at once (they wait for each other), 1MiB or more")
	fs.StringVar(&gpu, "gpu", string(device.ModeAuto), "GPU decoder: auto, on or off")
	fs.StringVar(&a.gpuLib, "gpu-lib", "", "CUDA decoder library (default: $PGPARQUET_CUDA_LIB, then libpgparquet_cuda.so beside the binary, ../lib, the loader path)")
	fs.StringVar(&opts.Role, "role", "", "read as this role (SET ROLE): its privileges and row-level security apply")
	fs.StringVar(&a.logFormat, "log-format", "text", "log format on stderr: text or json")
	fs.BoolVar(&a.noProgress, "no-progress", false, "no progress bar, even on a terminal")
	fs.StringVar(&a.cpuProfile, "cpu-profile", "", "write a pprof CPU profile of the export to this file (bench/cpusplit reads it)")
	fs.StringVar(&a.tracePath, "trace", "", "write a Go execution trace of the export to this file: where each lane's time goes, by stage (bench/traceregions reads it)")
	fs.StringVar(&opts.Numeric, "numeric", export.DefaultNumeric, "numeric without typmod: string (exact text), decimal:P,S or float64")
	fs.StringVar(&opts.WideNumeric, "wide-numeric", export.DefaultWideNumeric, "numeric(p,s) with 38 < p <= 76: string (exact text, which every reader takes) or decimal256 (DuckDB reads a DOUBLE, Spark refuses it)")
	fs.StringVar(&opts.Compat, "compat", export.DefaultCompat, "reader profile: default (pyarrow, DuckDB and other Arrow readers) or spark (uuid as text, time as int64 µs, no decimal256: what Spark 4 reads)")
	fs.StringVar(&opts.Timestamp, "timestamp", export.DefaultTimestamp, "timestamp(tz): micros (timestamp[us]; past 294246 AD fails) or text (ISO text in UTC, always exact)")
	fs.StringVar(&asText, "as-text", "", "comma-separated columns to export as their PostgreSQL text form (names quoted as for --columns)")
	fs.BoolVar(&a.incremental, "incremental", false, "the next run of an incremental chain in --output-dir: the table at a new logical slot's consistent point, then the changes since the last run (docs/incremental.md)")
	fs.StringVar(&a.slot, "slot", "", "with --incremental: the logical replication slot and publication (default: pgparquet_ and the table's name)")
	restart := fs.Bool("restart", false, "with --incremental: go on from a new snapshot run (after the chain's slot was lost, or the table rewritten by ALTER TYPE)")
	fs.StringVar(&a.iceberg.table, "iceberg-table", "", "commit the export as a snapshot of this Iceberg table, namespace.name (created when missing; its data replaced); with --incremental, change runs append to namespace.name_changes")
	fs.StringVar(&a.iceberg.catalog, "iceberg-catalog", lakehouse.DefaultCatalog, "Iceberg catalog: postgres (the SQL catalog in the exported database, schema "+lakehouse.SchemaName+"), postgres://… (another database's) or rest+http(s)://… (a REST catalog; token from $PGPARQUET_ICEBERG_TOKEN)")
	fs.StringVar(&a.iceberg.warehouse, "iceberg-warehouse", "", "where a new Iceberg table's metadata goes: <warehouse>/<namespace>.db/<name> (local directory, file:///… or s3://…; default: the directory holding --output-dir); for a REST catalog, its warehouse parameter (default: none, the server places tables)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fs.Usage()
			return a, errUsage
		}
		return a, usagef("export: %w (pgparquet export -h lists the flags)", err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })

	if fs.NArg() > 0 {
		return a, usagef("export: unexpected argument %q: export takes flags only (pgparquet export -h lists them)", fs.Arg(0))
	}
	if strings.TrimSpace(opts.Table) == "" {
		return a, usagef("export: --table is required (e.g. --table public.orders)")
	}
	if opts.OutputDir == "" {
		return a, usagef("export: --output-dir is required (e.g. --output-dir ./out)")
	}
	output, err := objstore.Parse(opts.OutputDir)
	if err != nil {
		return a, usagef("export: --output-dir %w", err)
	}
	a.output = output
	if given["parallel"] && (opts.Parallel < 1 || opts.Parallel > export.MaxParallel) {
		return a, usagef("export: --parallel %d is out of range: give 1 to %d (default %d)", opts.Parallel, export.MaxParallel, export.DefaultParallel)
	}
	if given["chunks"] && opts.Chunks < 1 {
		return a, usagef("export: --chunks %d is out of range: give 1 or more (default %d per worker)", opts.Chunks, export.DefaultChunksPerWorker)
	}
	if given["row-group-size"] && opts.RowGroupSize < 1 {
		return a, usagef("export: --row-group-size %d is out of range: give 1 or more rows (default %d)", opts.RowGroupSize, export.DefaultRowGroupSize)
	}
	if opts.MaxFileSize, err = parseSize(maxFileSize); err != nil {
		return a, usagef("export: --max-file-size %w", err)
	}
	if opts.MaxFileSize < export.MinMaxFileSize {
		return a, usagef("export: --max-file-size %q is out of range: give 1MiB or more (default %s)", maxFileSize, formatSize(export.DefaultMaxFileSize))
	}
	if bufferSize != "" {
		size, err := parseSize(bufferSize)
		if err != nil {
			return a, usagef("export: --buffer-size %w", err)
		}
		if size < export.MinBufferSize || size > export.MaxBufferSize {
			return a, usagef("export: --buffer-size %q is out of range: give 64KiB to 256MiB (%s)", bufferSize, bufferDefaults)
		}
		opts.BufferSize = int(size) // else 0: export.Options picks by decoder
	}
	huge, err := parseSize(hugeRows)
	if err != nil {
		return a, usagef("export: --huge-row-memory %w", err)
	}
	if huge < export.MinHugeRowBytes {
		return a, usagef("export: --huge-row-memory %q is out of range: give 1MiB or more (default %s)", hugeRows, formatSize(export.DefaultHugeRowBytes))
	}
	opts.HugeRows = snapshot.NewHugeRows(huge)
	if a.gpu, err = device.ParseMode(gpu); err != nil {
		return a, usagef("export: --gpu %w", err)
	}
	if a.logFormat != "text" && a.logFormat != "json" {
		return a, usagef("export: --log-format %q is not text or json", a.logFormat)
	}
	if opts.Columns, err = splitNames(columns); err != nil {
		return a, usagef("export: --columns: %w", err)
	}
	if opts.AsText, err = splitNames(asText); err != nil {
		return a, usagef("export: --as-text: %w", err)
	}
	if *restart {
		a.restart = "asked with --restart"
	}
	if (given["slot"] || given["restart"]) && !a.incremental {
		return a, usagef("export: --slot and --restart need --incremental")
	}
	if a.incremental && !a.output.IsLocal() {
		return a, usagef("export: --incremental writes its chain to a local directory; %s is not one (export the chain locally, or export the whole table to object storage without --incremental)", a.output)
	}
	if a.incremental {
		for _, f := range []string{"columns", "as-text", "role", "overwrite", "numeric", "wide-numeric", "compat", "timestamp"} {
			if given[f] {
				return a, usagef("export: --%s is not supported with --incremental: every run of a chain exports all columns with the default types", f)
			}
		}
	}
	if err := checkIcebergArgs(a, given); err != nil {
		return a, err
	}
	return a, nil
}

// splitNames splits a comma-separated list of column names; empty gives nil. A name is taken
// as written, without the spaces around it, or, between double quotes, exactly (commas,
// spaces and "" for a quote included), as in SQL: "a,b", " x" and "say ""hi""".
func splitNames(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var names []string
	rest := s
	for {
		rest = strings.TrimLeft(rest, " \t")
		var name string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			for {
				j := strings.IndexByte(rest[i:], '"')
				if j < 0 {
					return nil, fmt.Errorf("%q: a quoted name has no closing quote (write a quote inside one as \"\")", s)
				}
				b.WriteString(rest[i : i+j])
				i += j + 1
				if !strings.HasPrefix(rest[i:], `"`) {
					break
				}
				b.WriteByte('"')
				i++
			}
			name, rest = b.String(), strings.TrimLeft(rest[i:], " \t")
			if rest != "" && rest[0] != ',' {
				return nil, fmt.Errorf("%q: a comma must follow the quoted name %q", s, name)
			}
		} else {
			end := strings.IndexByte(rest, ',')
			if end < 0 {
				end = len(rest)
			}
			name, rest = strings.TrimSpace(rest[:end]), rest[end:]
		}
		if name == "" {
			return nil, fmt.Errorf("%q: an empty name (quote a name with commas or spaces: \"a,b\")", s)
		}
		names = append(names, name)
		if rest == "" {
			return names, nil
		}
		rest = rest[1:] // the comma
	}
}

// splitList splits a comma-separated flag value into trimmed names; empty gives nil.
func splitList(s string) []string {
	if s == "" {
		return nil
	}
	var names []string
	for _, c := range strings.Split(s, ",") {
		names = append(names, strings.TrimSpace(c))
	}
	return names
}

// parseSize reads a byte count such as 1048576, 512MiB or 1GB (units KiB, MiB, GiB, TiB, KB,
// MB, GB, TB and B, in any case, with optional spaces). It refuses fractions, negative sizes and
// sizes above math.MaxInt64 bytes; its errors start with the quoted input, to follow a flag name.
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
	switch {
	case errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(t, "-"), err == nil && n > math.MaxInt64/mult:
		return 0, fmt.Errorf("%q is too large: sizes go up to %d bytes (just under 8EiB)", s, int64(math.MaxInt64))
	case err == nil && n < 0, errors.Is(err, strconv.ErrRange):
		return 0, fmt.Errorf("%q is negative: give a size in bytes (e.g. 536870912, 512MiB, 1GB)", s)
	case err != nil:
		return 0, fmt.Errorf("%q is not a size in bytes (e.g. 536870912, 512MiB, 1GB)", s)
	}
	return n * mult, nil
}

// formatSize prints n bytes as parseSize reads them back: in the largest binary unit that
// divides it (1GiB, 4MiB, 1536KiB), else in bytes.
func formatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n != 0 && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// startRecording writes what start records (a CPU profile, an execution trace) to the file at
// path until the returned function is called, which stops it (stop) and closes the file; flag
// names the option in errors.
func startRecording(flag, path string, start func(io.Writer) error, stop func()) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	return func() {
		stop()
		f.Close()
	}, nil
}
