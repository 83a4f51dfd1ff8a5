package export

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/gpuparse"
	"github.com/pgparquet/pgparquet/objstore"
	"github.com/pgparquet/pgparquet/outcome"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/snapshot"
)

// Defaults for Options, applied to zero fields; the CLI and the sidecar show and use these.
const (
	DefaultParallel        = 16
	DefaultChunksPerWorker = 4
	DefaultCompression     = "zstd"
	DefaultRowGroupSize    = 122880
	DefaultMaxFileSize     = 1 << 30
	DefaultBufferSize      = 2 << 20 // the CPU decoder's
	DefaultGPUBufferSize   = 4 << 20 // where the GPU may decode (gpuDecoding)
	DefaultNumeric         = "string"
	DefaultWideNumeric     = "string"
	DefaultCompat          = "default"
	DefaultTimestamp       = "micros"
	// DefaultHugeRowBytes is the memory rows larger than a receive buffer may take at once
	// when Options.HugeRows is not set.
	DefaultHugeRowBytes = 512 << 20
	// rowGroupMaxBytes closes a row group early once its compressed pages reach this size, so a
	// wide table's row group (held in memory until closed) stays bounded.
	rowGroupMaxBytes = 64 << 20
)

// Bounds of Options, checked when an export starts; the CLI checks its flags against them.
const (
	MaxParallel     = 256
	MinMaxFileSize  = 1 << 20
	MinBufferSize   = 64 << 10
	MaxBufferSize   = 256 << 20
	MinHugeRowBytes = 1 << 20
)

// Options describe one export. Zero values take the defaults above.
type Options struct {
	// ConnConfig is where to read from (pgx.ParseConfig honours the PG* variables).
	ConnConfig *pgx.ConnConfig
	// Table is the relation to export, in any form regclass accepts.
	Table string
	// Columns restricts the export to these columns, in this order; empty means all.
	Columns []string
	// Parallel is the number of worker connections (default 16). Fewer are opened when the
	// plan has fewer tasks.
	Parallel int
	// Chunks is the number of ctid ranges to split the table into (default 4 per worker).
	Chunks int
	// OutputDir receives the Parquet files and _manifest.json. It is created if missing and
	// must be empty unless Overwrite is set.
	OutputDir string
	// Overwrite allows a non-empty OutputDir: a previous export's files there are removed first.
	Overwrite bool
	// Root, when set, confines every file the export writes beneath it (the sidecar's output
	// root): OutputDir is then relative to Root, and no path follows a link out of it.
	Root *os.Root
	// Store, when set, is where the files go instead of the local file system (object
	// storage: s3store.New's); OutputDir is then a clean relative path below the store's root
	// ("." for the root itself), and the result's OutputDir is the store's URI of it.
	Store objstore.Store
	// HugeRows bounds the memory of rows larger than BufferSize (each such row is received
	// into a buffer of its own); share one between concurrent exports to bound them together.
	// Nil: a budget of DefaultHugeRowBytes for this export.
	HugeRows *snapshot.HugeRows
	// MaxOutputBytes, when positive, fails the export (ErrOutputLimit) once its Parquet
	// output (written and buffered) passes this many bytes.
	MaxOutputBytes int64
	// MinFreeBytes, when positive, fails the export (ErrFreeSpace) when the file system of the
	// output directory has less free space than this, checked before it starts and every
	// freeSpaceEvery bytes written: one export cannot fill a disk others write to.
	MinFreeBytes int64
	// Tag names this attempt's staging directory (StagingPrefix+Tag inside OutputDir), where
	// its files are written until they are published; empty: a random tag.
	Tag string
	// Compression is the Parquet codec: zstd (default), snappy, gzip, brotli, lz4 (LZ4_RAW), none,
	// with an optional level for zstd, gzip and brotli ("zstd:1").
	Compression string
	// RowGroupSize is the maximum number of rows per row group (default 122880, as DuckDB). A
	// row group is buffered, encoded and compressed, in memory until it is complete, once per
	// worker: this bounds the export's memory.
	RowGroupSize int64
	// MaxFileSize starts a new file once a file reaches this many bytes (default 1 GiB).
	MaxFileSize int64
	// BufferSize is the size of each COPY receive buffer; Parallel × 2 of them are in use at
	// most (buffersPerWorker). The default is DefaultGPUBufferSize (4 MiB) where the engine may
	// decode on the GPU, DefaultBufferSize (2 MiB) otherwise. On the H200 at 16 lanes
	// (bench/results/gpuhost-h200-2026-12-01-s21d, -s21f, -s21g), 2 MiB took the CPU path's
	// peak RSS from 0.80-0.97 GiB to 0.71-0.91 at the same speed and less CPU; the GPU writer's
	// from 0.79-0.81 to 0.58 on lineorder and 0.93-0.99 to 0.81-0.87 on the wide table (its
	// receive buffers and decoded columns are pinned memory), but where the source is fast it
	// also ran 2-11% slower (more decoding calls; three 2 MiB buffers per worker were in
	// between), so the GPU keeps 4 MiB.
	BufferSize int
	// Engine makes the export's decoder and receive buffers: device.Start's, which decodes on
	// the GPU once it is ready; nil: gpuparse.CPU, the Go decoder in Go memory.
	Engine gpuparse.Engine
	// Role, when set, is assumed by every worker (SET LOCAL ROLE) so the export sees exactly
	// what that role may see; privileges are checked for it.
	Role string
	// OnSnapshot, when set, is called once the snapshot is exported and before the coordinator
	// releases it, so that a caller can record it or import it into its own transaction
	// (SET TRANSACTION SNAPSHOT) to see exactly the rows this export reads. An error aborts
	// the export.
	OnSnapshot func(ctx context.Context, id, lsn string) error
	// Snapshot, when set, is a snapshot exported elsewhere that the export reads instead of
	// exporting its own (incremental's first run: the snapshot of a logical replication slot,
	// so the files hold the table exactly at the slot's consistent point); SnapshotLSN is its
	// WAL position, reported as the result's LSN. Its exporter must keep it alive until
	// OnSnapshot is called (or, without OnSnapshot, until the export returns).
	Snapshot    string
	SnapshotLSN string
	// Incremental, when set, is recorded in the manifest (the snapshot run of an incremental
	// chain).
	Incremental *outcome.Incremental
	// Numeric is how numeric columns without a usable typmod (no typmod, precision above 76,
	// negative scale) are exported: "string" (default, exactly as PostgreSQL prints them),
	// "decimal:P,S" (decimal128/decimal256 with precision P <= 76 and scale S; a value that does
	// not fit, NaN or ±Infinity fails the export naming column and row) or "float64" (the
	// nearest double; a value beyond its range fails).
	Numeric string
	// WideNumeric is how numeric(p,s) with 38 < p <= 76 is exported: "string" (default,
	// exactly as PostgreSQL prints it, which every reader takes) or "decimal256"
	// (decimal256(p,s): pyarrow reads it, DuckDB reads it as a DOUBLE and loses digits, Spark
	// refuses the file). numeric(p,s) with p <= 38 is always decimal128(p,s).
	WideNumeric string
	// Compat is the reader profile (pgarrow.Profile): "default" (the mapping of
	// docs/types.md, for pyarrow, DuckDB and the other Arrow readers) or "spark" (types Spark
	// 4 reads exactly: uuid as its text, time as int64 microseconds since midnight, timetz's
	// time likewise, no decimal256). It is recorded in the manifest and in every file's
	// metadata (pgparquet.compat). With "spark", WideNumeric decimal256 and Numeric
	// decimal:P,S with P > 38 are refused.
	Compat string
	// Timestamp is how timestamp and timestamptz are exported: "micros" (default, Arrow
	// timestamp[us], where a value past 294246 AD fails the export) or "text" (PostgreSQL's
	// ISO text in UTC, exact for every value).
	Timestamp string
	// AsText lists columns to export as their text form (the COPY query casts them ::text),
	// whatever their type: the way to export exactly a column whose values the default
	// mapping cannot hold (arrays with lower bounds other than 1 or more dimensions than
	// declared, NaN in a numeric(p,s), ...).
	AsText []string
	// Progress, when set, is called about twice a second from one goroutine while data flows.
	Progress func(outcome.Progress)
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
}

// gpuDecoding is an Engine that may decode on the GPU (device.Device): MayDecode says, without
// waiting for the GPU's start, whether its exports are expected to.
type gpuDecoding interface {
	MayDecode() bool
}

func (o Options) withDefaults() Options {
	if o.Parallel == 0 {
		o.Parallel = DefaultParallel
	}
	if o.Chunks == 0 {
		o.Chunks = o.Parallel * DefaultChunksPerWorker
	}
	if o.Compression == "" {
		o.Compression = DefaultCompression
	}
	if o.RowGroupSize == 0 {
		o.RowGroupSize = DefaultRowGroupSize
	}
	if o.MaxFileSize == 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.BufferSize == 0 {
		o.BufferSize = DefaultBufferSize
		if g, ok := o.Engine.(gpuDecoding); ok && g.MayDecode() {
			o.BufferSize = DefaultGPUBufferSize
		}
	}
	if o.Engine == nil {
		o.Engine = gpuparse.CPU
	}
	if o.Numeric == "" {
		o.Numeric = DefaultNumeric
	}
	if o.WideNumeric == "" {
		o.WideNumeric = DefaultWideNumeric
	}
	if o.Compat == "" {
		o.Compat = DefaultCompat
	}
	if o.Timestamp == "" {
		o.Timestamp = DefaultTimestamp
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// settings are one export's Options with the defaults applied, checked and parsed: each
// option is read once, here, and the export runs on the result.
type settings struct {
	Options
	codec    compress.Compression
	level    int
	planOpts pgarrow.PlanOptions
	asText   map[string]bool
	huge     *snapshot.HugeRows
}

// compile applies the defaults to o, checks every option and parses the codec and the type
// planning options; its error names each option that is wrong and what would work.
func (o Options) compile() (*settings, error) {
	s := &settings{Options: o.withDefaults()}
	var err error
	s.codec, s.level, s.planOpts, err = s.validate()
	if err != nil {
		return nil, fmt.Errorf("invalid options: %w", err)
	}
	s.asText = make(map[string]bool, len(o.AsText))
	for _, name := range o.AsText {
		s.asText[name] = true
	}
	s.huge = o.HugeRows
	if s.huge == nil {
		s.huge = snapshot.NewHugeRows(DefaultHugeRowBytes)
	}
	return s, nil
}

// validate checks o (defaults applied) and returns its parsed codec, level and planning
// options.
func (o Options) validate() (compress.Compression, int, pgarrow.PlanOptions, error) {
	var errs []error
	if o.ConnConfig == nil {
		errs = append(errs, errors.New("ConnConfig: required"))
	}
	if strings.TrimSpace(o.Table) == "" {
		errs = append(errs, errors.New("table: required"))
	}
	if o.OutputDir == "" {
		errs = append(errs, errors.New("output dir: required"))
	}
	if o.Store != nil && o.Root != nil {
		errs = append(errs, errors.New("output: a Root and a Store both given; give one"))
	}
	if o.Parallel < 1 || o.Parallel > MaxParallel {
		errs = append(errs, fmt.Errorf("parallel: %d is not between 1 and %d", o.Parallel, MaxParallel))
	}
	if o.Chunks < 1 {
		errs = append(errs, fmt.Errorf("chunks: %d is not positive", o.Chunks))
	}
	c, level, err := codec(o.Compression)
	if err != nil {
		errs = append(errs, err)
	}
	if o.RowGroupSize < 1 {
		errs = append(errs, fmt.Errorf("row group size: %d is not positive", o.RowGroupSize))
	}
	if o.MaxFileSize < MinMaxFileSize {
		errs = append(errs, fmt.Errorf("max file size: %d is below 1 MiB", o.MaxFileSize))
	}
	if o.BufferSize < MinBufferSize || o.BufferSize > MaxBufferSize {
		errs = append(errs, fmt.Errorf("buffer size: %d is not between 64 KiB and 256 MiB", o.BufferSize))
	}
	if o.MaxOutputBytes < 0 || o.MinFreeBytes < 0 {
		errs = append(errs, fmt.Errorf("max output bytes %d, min free bytes %d: must not be negative", o.MaxOutputBytes, o.MinFreeBytes))
	}
	planOpts, err := o.planOptions()
	if err != nil {
		errs = append(errs, err)
	}
	seen := map[string]bool{}
	for _, c := range o.AsText {
		if seen[c] {
			errs = append(errs, fmt.Errorf("as text: column %q named twice", c))
		}
		seen[c] = true
	}
	return c, level, planOpts, errors.Join(errs...)
}

// planOptions turns Compat, Numeric, WideNumeric and Timestamp into the decoder's planning
// options.
func (o Options) planOptions() (pgarrow.PlanOptions, error) {
	var p pgarrow.PlanOptions
	var errs []error
	profile, err := pgarrow.ParseProfile(o.Compat)
	if err != nil {
		errs = append(errs, fmt.Errorf("compat: %w", err))
	}
	p.Profile = profile
	switch n := strings.ToLower(o.Numeric); {
	case n == "string" || n == "":
	case n == "float64":
		p.Numeric = pgarrow.NumericFloat64
	case strings.HasPrefix(n, "decimal:"):
		ps, ss, ok := strings.Cut(strings.TrimPrefix(n, "decimal:"), ",")
		prec, err1 := strconv.Atoi(strings.TrimSpace(ps))
		scale, err2 := strconv.Atoi(strings.TrimSpace(ss))
		if !ok || err1 != nil || err2 != nil || prec < 1 || prec > 76 || scale < 0 || scale > prec {
			errs = append(errs, fmt.Errorf("numeric: %q is not decimal:P,S with 1 <= P <= 76 and 0 <= S <= P", o.Numeric))
			break
		}
		p.Numeric, p.NumericPrecision, p.NumericScale = pgarrow.NumericDecimal, int32(prec), int32(scale)
	default:
		errs = append(errs, fmt.Errorf("numeric: %q is not string, decimal:P,S or float64", o.Numeric))
	}
	switch strings.ToLower(o.WideNumeric) {
	case "string", "":
	case "decimal256":
		p.WideDecimal = true
	default:
		errs = append(errs, fmt.Errorf("wide numeric: %q is not string or decimal256", o.WideNumeric))
	}
	if profile == pgarrow.ProfileSpark {
		if p.WideDecimal {
			errs = append(errs, errors.New("wide numeric: decimal256 is not read by Spark (compat spark): leave it at string"))
		}
		if p.Numeric == pgarrow.NumericDecimal && p.NumericPrecision > 38 {
			errs = append(errs, fmt.Errorf("numeric: %q is decimal256, which Spark does not read (compat spark): use a precision of at most 38, or string", o.Numeric))
		}
	}
	switch strings.ToLower(o.Timestamp) {
	case "micros", "":
	case "text":
		p.TimestampText = true
	default:
		errs = append(errs, fmt.Errorf("timestamp: %q is not micros or text", o.Timestamp))
	}
	return p, errors.Join(errs...)
}

// codec maps a --compression value, a codec name with an optional level ("zstd", "zstd:1",
// "gzip:9"), to arrow-go's codec and level (compress.DefaultCompressionLevel when none is given).
func codec(value string) (compress.Compression, int, error) {
	name, levelText, hasLevel := strings.Cut(strings.ToLower(value), ":")
	level := compress.DefaultCompressionLevel
	var c compress.Compression
	switch name {
	case "zstd":
		c = compress.Codecs.Zstd
	case "snappy":
		c = compress.Codecs.Snappy
	case "gzip":
		c = compress.Codecs.Gzip
	case "brotli":
		c = compress.Codecs.Brotli
	case "lz4", "lz4_raw":
		c = compress.Codecs.Lz4Raw
	case "none", "uncompressed":
		c = compress.Codecs.Uncompressed
	default:
		return compress.Codecs.Uncompressed, 0, fmt.Errorf("compression: %q is not one of zstd, snappy, gzip, brotli, lz4, none (with an optional :level for zstd, gzip and brotli)", value)
	}
	if !hasLevel {
		return c, level, nil
	}
	n, err := strconv.Atoi(levelText)
	limits := map[compress.Compression][2]int{compress.Codecs.Zstd: {1, 22}, compress.Codecs.Gzip: {1, 9}, compress.Codecs.Brotli: {0, 11}}
	lim, ok := limits[c]
	if err != nil || !ok || n < lim[0] || n > lim[1] {
		return c, 0, fmt.Errorf("compression: %q: levels are zstd:1..22, gzip:1..9, brotli:0..11", value)
	}
	return c, n, nil
}
