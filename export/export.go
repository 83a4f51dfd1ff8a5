// Package export runs one export end to end: it takes a snapshot, reads the table in parallel
// ctid ranges, decodes the COPY BINARY streams into Arrow record batches and writes Parquet
// files plus a manifest. A failed or cancelled export removes every file it wrote.
package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/pgparquet/pgparquet/device"
	"github.com/pgparquet/pgparquet/internal/arrowmem"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/snapshot"
)

// Version is the tool version written into every file and manifest.
const Version = "0.1.0"

// tidRangeScanVersion is the first server_version_num whose planner reads a ctid range
// without scanning the whole table (PostgreSQL 14).
const tidRangeScanVersion = 140000

// buffersPerWorker bounds the receive buffers: one filling, one queued, one decoding.
const buffersPerWorker = 3

// Timings splits an export's time by stage. Decode and Encode are summed over workers (time
// spent, not wall time), the others are wall time.
type Timings struct {
	// Setup covers connecting, exporting the snapshot, resolving the table, planning and
	// opening the workers.
	Setup float64 `json:"setup_s"`
	// Copy is the wall time from the first COPY to the last file closed.
	Copy     float64 `json:"copy_s"`
	Decode   float64 `json:"decode_s"`
	Encode   float64 `json:"encode_s"`
	Finalize float64 `json:"finalize_s"`
	Total    float64 `json:"total_s"`
}

// Result is what a finished export reports.
type Result struct {
	Table     string `json:"table"`
	OutputDir string `json:"output_dir"`
	Snapshot  string `json:"snapshot"`
	LSN       string `json:"lsn"`
	// Decoder is "gpu" when the GPU decoded the export (the first chunks may have been decoded
	// on the CPU while it started: same bytes either way), else "cpu".
	Decoder     string       `json:"decoder"`
	Workers     int          `json:"workers"`
	Tasks       int          `json:"tasks"`
	Rows        int64        `json:"rows"`
	CopyBytes   int64        `json:"copy_bytes"`
	OutputBytes int64        `json:"output_bytes"`
	Files       []FileResult `json:"files"`
	Seconds     float64      `json:"seconds"`
	// GBPerSecond is COPY bytes per second over the whole export, in 1e9 bytes.
	GBPerSecond float64 `json:"gb_per_s"`
	Timings     Timings `json:"timings"`
}

// Run performs one export and publishes it: Stage, then Publish. On error (including ctx's
// cancellation) nothing of the export is left in the output directory, and the error says
// what failed.
func Run(ctx context.Context, opts Options) (*Result, error) {
	st, err := Stage(ctx, opts)
	if err != nil {
		return nil, err
	}
	if err := st.Publish(); err != nil {
		return nil, errors.Join(err, st.Discard())
	}
	return st.Result, nil
}

// Staged is an export whose files and manifest are complete and durable in its attempt's
// staging directory (StagingPrefix+Options.Tag inside the output directory), not yet visible
// to readers. Exactly one of Publish and Discard must be called.
type Staged struct {
	Result *Result
	dir    *outputDir
	tag    string
}

// Publish moves the staged files, then the manifest, into the output directory, never
// replacing a file (see the package function Publish).
func (s *Staged) Publish() error {
	defer s.dir.close()
	return Publish(s.dir.root, s.dir.dir, s.tag)
}

// Discard removes the staged files, and the output directory when the export created it and
// nothing else is in it.
func (s *Staged) Discard() error {
	defer s.dir.close()
	return s.dir.discard()
}

// Stage performs one export into a staging directory of its own inside the output directory
// and returns it unpublished. On error (including ctx's cancellation) every file it wrote is
// removed, and the error says what failed.
func Stage(ctx context.Context, opts Options) (*Staged, error) {
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("invalid options: %w", err)
	}
	tag := opts.Tag
	if tag == "" {
		tag = newTag()
	}
	dir, err := prepareOutputDir(opts.Root, opts.OutputDir, tag, opts.Overwrite)
	if err != nil {
		return nil, err
	}
	var res *Result
	err = dir.checkFree(opts.MinFreeBytes)
	if err == nil {
		res, err = run(ctx, opts, dir)
	}
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			err = &stoppedError{cause: cause, detail: err}
		}
		if rmErr := dir.discard(); rmErr != nil {
			err = fmt.Errorf("%w; and cleaning up failed: %w", err, rmErr)
		}
		dir.close()
		return nil, err
	}
	return &Staged{Result: res, dir: dir, tag: tag}, nil
}

func run(ctx context.Context, opts Options, dir *outputDir) (*Result, error) {
	start := time.Now()
	log := opts.Logger
	gpu := device.Start(opts.GPU, opts.GPULibrary, log)
	snap, err := snapshot.Export(ctx, opts.ConnConfig, snapshot.ExportOptions{Table: opts.Table, Role: opts.Role})
	if err != nil {
		return nil, err
	}
	defer snap.Abort() // released explicitly once every COPY is done; this covers early returns
	if opts.OnSnapshot != nil {
		if err := opts.OnSnapshot(ctx, snap.ID, snap.LSN); err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", snap.ID, err)
		}
	}
	rel, err := snapshot.Resolve(ctx, snap.Conn(), snap.Relation, opts.Columns, opts.Role)
	if err != nil {
		return nil, err
	}
	if rel.ColumnPrivilegesOnly {
		log.Warn("the role may SELECT the exported columns but not the table: reading each source with one COPY (no parallel ctid ranges)", "table", rel.Name)
	}
	planOpts, err := opts.planOptions()
	if err != nil {
		return nil, err
	}
	asText := make(map[string]bool, len(opts.AsText))
	for _, name := range opts.AsText {
		asText[name] = true
	}
	cols := make([]pgarrow.Column, len(rel.Columns))
	selects := make([]string, len(rel.Columns))
	for i, c := range rel.Columns {
		typ := c.Type
		if asText[c.Name] {
			typ = nil // planned as its text form
			delete(asText, c.Name)
		}
		cols[i] = pgarrow.PlanType(c.Name, typ, c.PGType, planOpts)
		selects[i] = cols[i].SelectExpr(c.Ident())
	}
	for name := range asText {
		return nil, fmt.Errorf("--as-text: table %s has no column %q among those exported", rel.Name, name)
	}
	selectList := strings.Join(selects, ", ")
	chunks := opts.Chunks
	if snap.ServerVersion < tidRangeScanVersion {
		// Before TID range scans, each ctid range would scan the whole table.
		log.Warn("server has no TID range scans: reading each relation with one connection", "server_version_num", snap.ServerVersion)
		chunks = 1
	}
	tasks := snapshot.Plan(rel.Sources, chunks)
	nWorkers := min(opts.Parallel, len(tasks))
	workers, err := snapshot.OpenWorkers(ctx, opts.ConnConfig, snap.ID, nWorkers, snapshot.WorkerOptions{Role: opts.Role, Lock: lockName(snap)})
	if err != nil {
		return nil, err
	}
	defer snapshot.CloseAll(workers) //nolint:errcheck // read-only transactions: nothing to lose on close

	// Decoded batches are released as soon as they are encoded: recycling their buffers keeps
	// the export's memory flat. The Parquet writer keeps Go's allocator.
	poolBytes := int64(nWorkers*buffersPerWorker) * int64(opts.BufferSize)
	dec := gpu.Decoder(cols, arrowmem.NewRecycler(2*poolBytes))
	defer dec.Close()
	format, err := newFileFormat(opts, dir, rel, snap, cols, dec.Path, memory.DefaultAllocator)
	if err != nil {
		return nil, err
	}
	log.Info("export started", "table", rel.Name, "snapshot", snap.ID, "lsn", snap.LSN,
		"workers", nWorkers, "tasks", len(tasks), "gpu", string(opts.GPU), "columns", len(cols))
	setup := time.Since(start)

	copyStart := time.Now()
	// The decoder hands out the receive buffers: memory the GPU reads at full speed once it
	// decodes.
	pool := snapshot.NewPool(nWorkers*buffersPerWorker, opts.BufferSize, dec.Alloc)
	huge := opts.HugeRows
	if huge == nil {
		huge = snapshot.NewHugeRows(DefaultHugeRowBytes)
	}
	pool.SetHugeRows(huge)
	pool.SetRecycle(dec.Keep)
	l := &lanes{dec: dec, pool: pool, selectList: selectList}
	stopProgress := l.reportProgress(opts.Progress, rel.EstimatedRows, len(tasks), start)
	series, err := l.run(ctx, workers, tasks, format)
	stopProgress()
	if err == nil {
		err = dec.Wait() // --gpu on without a usable GPU fails even an export with no rows
	}
	if err != nil {
		return nil, err
	}
	// Only now, with every COPY done, may the snapshot's transaction end; if it was aborted
	// meanwhile (a conflict with recovery on a standby), what the workers read is not trusted.
	if err := snap.Release(ctx); err != nil {
		return nil, err
	}
	copyTime := time.Since(copyStart)

	finStart := time.Now()
	files, err := finalize(dir, series, format)
	if err != nil {
		return nil, err
	}
	res := &Result{
		Table: rel.Name, OutputDir: opts.OutputDir, Snapshot: snap.ID, LSN: snap.LSN, Decoder: dec.Path(),
		Workers: nWorkers, Tasks: len(tasks), CopyBytes: l.progress.Bytes.Load(),
	}
	for _, f := range files {
		res.Rows += f.Rows
		res.OutputBytes += f.Bytes
		res.Files = append(res.Files, f.FileResult)
	}
	if received := l.progress.Rows.Load(); received != res.Rows {
		return nil, fmt.Errorf("internal error: received %d rows but wrote %d", received, res.Rows)
	}
	res.Timings = Timings{Setup: setup.Seconds(), Copy: copyTime.Seconds(),
		Decode: time.Duration(l.decode.Load()).Seconds(), Encode: time.Duration(l.encode.Load()).Seconds()}
	m := &Manifest{
		Version: Version, Table: rel.Name, Snapshot: snap.ID, LSN: snap.LSN, Decoder: dec.Path(),
		Compression: strings.ToLower(opts.Compression), Rows: res.Rows, CopyBytes: res.CopyBytes,
		OutputBytes: res.OutputBytes, Columns: manifestColumns(format, cols), Files: res.Files,
		StartedAt: start.UTC().Format(time.RFC3339Nano),
	}
	res.Timings.Finalize = time.Since(finStart).Seconds()
	res.Timings.Total = time.Since(start).Seconds()
	m.Timings = res.Timings
	if err := dir.writeManifest(m); err != nil {
		return nil, err
	}
	res.Seconds = time.Since(start).Seconds()
	res.GBPerSecond = float64(res.CopyBytes) / res.Seconds / 1e9
	log.Info("export finished", "table", rel.Name, "rows", res.Rows, "files", len(res.Files),
		"copy_bytes", res.CopyBytes, "output_bytes", res.OutputBytes, "seconds", res.Seconds)
	return res, nil
}

func newFileFormat(opts Options, dir *outputDir, rel *snapshot.Relation, snap *snapshot.Snapshot, cols []pgarrow.Column, decoder func() string, mem memory.Allocator) (*fileFormat, error) {
	c, level, err := codec(opts.Compression)
	if err != nil {
		return nil, err
	}
	propOpts := []parquet.WriterProperty{
		parquet.WithCompression(c),
		parquet.WithCompressionLevel(level),
		parquet.WithStats(true),
		parquet.WithMaxRowGroupLength(opts.RowGroupSize),
		parquet.WithCreatedBy("pgparquet " + Version),
		parquet.WithAllocator(mem),
	}
	// Dictionary encoding pays for strings (few distinct values compress to small indices) but
	// costs fixed-width columns a hash lookup per value, most of the encoder's CPU time, for
	// little gain over zstd/snappy on the plain values: use it for string-like columns only.
	dictionary := make([]bool, len(cols))
	for i, col := range cols {
		dictionary[i] = dictionaryWorthIt(col)
		if !dictionary[i] {
			propOpts = append(propOpts, parquet.WithDictionaryFor(col.Name, false))
		}
	}
	type colMeta struct {
		Name   string `json:"name"`
		PGType string `json:"pg_type"`
	}
	meta := make([]colMeta, len(cols))
	for i, c := range cols {
		meta[i] = colMeta{c.Name, c.PGType}
	}
	colJSON, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("encode column metadata: %w", err)
	}
	schema := pgarrow.ArrowSchema(cols)
	props := parquet.NewWriterProperties(propOpts...)
	arrowProps := pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem))
	leafPaths, err := leafColumnPaths(schema, props, arrowProps)
	if err != nil {
		return nil, err
	}
	return &fileFormat{
		dir:        dir,
		schema:     schema,
		leafPaths:  leafPaths,
		dictionary: dictionary,
		mem:        mem,
		propOpts:   propOpts,
		props:      props,
		arrowProps: arrowProps,
		metadata: [][2]string{
			{"pgparquet.version", Version},
			{"pgparquet.source_table", rel.Name},
			{"pgparquet.snapshot", snap.ID},
			{"pgparquet.lsn", snap.LSN},
			{"pgparquet.columns", string(colJSON)},
		},
		decoder:     decoder,
		maxFileSize: opts.MaxFileSize,
		seq:         new(atomic.Int64),
		limits:      &outputLimits{maxBytes: opts.MaxOutputBytes, minFree: opts.MinFreeBytes},
	}, nil
}

func manifestColumns(f *fileFormat, cols []pgarrow.Column) []ManifestColumn {
	out := make([]ManifestColumn, len(cols))
	for i, c := range cols {
		out[i] = ManifestColumn{Name: c.Name, PGType: c.PGType, ArrowType: f.schema.Field(i).Type.String(), AsText: c.CastText}
	}
	return out
}

// finalize lists every file, complete and durable, in name order, and makes their directory
// entries durable; an export with no rows still gets one file, so readers find the schema.
func finalize(dir *outputDir, series []*fileSeries, format *fileFormat) ([]*parquetFile, error) {
	var files []*parquetFile
	for _, s := range series {
		files = append(files, s.done...)
	}
	if len(files) == 0 {
		s := &fileSeries{format: format}
		if err := s.open(nil); err != nil {
			return nil, err
		}
		if err := s.finish(); err != nil {
			return nil, err
		}
		files = s.done
	}
	slices.SortFunc(files, func(a, b *parquetFile) int { return strings.Compare(a.Name, b.Name) })
	return files, syncDir(dir.root, dir.staging)
}

// lockName is the relation workers lock at once, when the coordinator locked it.
func lockName(snap *snapshot.Snapshot) string {
	if snap.Locked {
		return snap.Relation
	}
	return ""
}

// dictionaryWorthIt says whether a column's Parquet chunks should be dictionary-encoded.
func dictionaryWorthIt(c pgarrow.Column) bool {
	return c.Kind.Info().Dictionary
}

// stoppedError is an export stopped from outside (ctx cancelled): its message is the reason it
// was stopped, not the worker error that the stop caused, and it wraps both.
type stoppedError struct {
	cause, detail error
}

func (e *stoppedError) Error() string   { return "export stopped: " + e.cause.Error() }
func (e *stoppedError) Unwrap() []error { return []error{e.cause, e.detail} }
