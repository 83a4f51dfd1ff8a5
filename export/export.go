// Package export runs one export end to end: it takes a snapshot, reads the table in parallel
// ctid ranges, decodes the COPY BINARY streams into Arrow record batches and writes Parquet
// files plus a manifest. A failed or cancelled export removes every file it wrote.
package export

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/pgparquet/pgparquet/gpuparse"
	"github.com/pgparquet/pgparquet/internal/arrowmem"
	"github.com/pgparquet/pgparquet/objstore"
	"github.com/pgparquet/pgparquet/outcome"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/snapshot"
)

// Version is the tool version written into every file and manifest.
const Version = "0.1.0"

// tidRangeScanVersion is the first server_version_num whose planner reads a ctid range
// without scanning the whole table (PostgreSQL 14).
const tidRangeScanVersion = 140000

// buffersPerWorker bounds the receive buffers: one filling, one queued or decoding. A buffer
// goes back as soon as its batch is decoded, before the batch is encoded, so a third (one
// queued behind one decoding) let the receiver run further ahead of encoding, which is not
// the slower stage on the GPU path, for 64 MiB more pinned memory at 16 lanes.
const buffersPerWorker = 2

// Run performs one export and publishes it: Stage, then Publish. On error (including ctx's
// cancellation) nothing of the export is left in the output directory, and the error says
// what failed.
func Run(ctx context.Context, opts Options) (*outcome.Result, error) {
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
	Result *outcome.Result
	out    objstore.Sink
}

// Publish makes the staged files, then the manifest, visible: on the local file system it
// moves them into the output directory, never replacing a file (see the package function
// Publish); on object storage it puts the manifest, the files being in place already.
func (s *Staged) Publish() error {
	return s.out.Publish(context.Background())
}

// Discard removes the staged files, and the output directory when the export created it and
// nothing else is in it.
func (s *Staged) Discard() error {
	return s.out.Discard(context.Background())
}

// Stage performs one export into a staging directory of its own inside the output directory
// and returns it unpublished. On error (including ctx's cancellation) every file it wrote is
// removed, and the error says what failed.
func Stage(ctx context.Context, opts Options) (*Staged, error) {
	cfg, err := opts.compile()
	if err != nil {
		return nil, err
	}
	tag := cfg.Tag
	if tag == "" {
		tag = newTag()
	}
	var out objstore.Sink
	if cfg.Store != nil {
		out, err = cfg.Store.Open(ctx, cfg.OutputDir, tag, cfg.Overwrite)
	} else {
		out, err = prepareOutputDir(cfg.Root, cfg.OutputDir, tag, cfg.Overwrite)
	}
	if err != nil {
		return nil, err
	}
	var res *outcome.Result
	if fc, ok := out.(objstore.FreeChecker); ok && cfg.MinFreeBytes > 0 {
		err = fc.CheckFree(cfg.MinFreeBytes)
	}
	if err == nil {
		res, err = run(ctx, cfg, out)
	}
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			err = &stoppedError{cause: cause, detail: err}
		}
		if rmErr := out.Discard(ctx); rmErr != nil {
			err = fmt.Errorf("%w; and cleaning up failed: %w", err, rmErr)
		}
		return nil, err
	}
	return &Staged{Result: res, out: out}, nil
}

// run is one export in three steps: prepare (snapshot, plan, workers, decoder, file format),
// copy (every task through the lanes into staged files) and finish (release the snapshot,
// finalize the files, write the manifest).
func run(ctx context.Context, cfg *settings, dir objstore.Sink) (*outcome.Result, error) {
	e, err := prepare(ctx, cfg, dir)
	if err != nil {
		return nil, err
	}
	defer e.close()
	series, err := e.copy(ctx)
	if err != nil {
		return nil, err
	}
	return e.finish(ctx, series)
}

// exportRun is one export between prepare and finish. Its resources (the snapshot's
// coordinator, the workers, the decoder) are released by close.
type exportRun struct {
	cfg     *settings
	dir     objstore.Sink
	log     *slog.Logger
	start   time.Time
	setup   time.Duration
	snap    *snapshot.Snapshot
	rel     *snapshot.Relation
	cols    []pgarrow.Column
	tasks   []snapshot.Task
	workers []*snapshot.Worker
	dec     gpuparse.StreamDecoder
	format  *fileFormat
	lanes   *lanes
	pool    *snapshot.Pool // the receive buffers, handed out by dec
	// unlimit gives back the export's share of the soft memory limit (memlimit.go).
	unlimit func()
	// procs is the export's part in GOMAXPROCS while it runs (procs.go).
	procs *procsHold
}

// prepare takes the snapshot, resolves and plans the table, opens the workers and the decoder
// and sets up the file format. On error it has released what it took.
func prepare(ctx context.Context, cfg *settings, dir objstore.Sink) (_ *exportRun, err error) {
	e := &exportRun{cfg: cfg, dir: dir, log: cfg.Logger, start: time.Now()}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if e.snap, err = snapshot.Export(ctx, cfg.ConnConfig, snapshot.ExportOptions{
		Table: cfg.Table, Role: cfg.Role, Import: cfg.Snapshot, ImportLSN: cfg.SnapshotLSN}); err != nil {
		return nil, err
	}
	if cfg.OnSnapshot != nil {
		if err := cfg.OnSnapshot(ctx, e.snap.ID, e.snap.LSN); err != nil {
			return nil, fmt.Errorf("snapshot %s: %w", e.snap.ID, err)
		}
	}
	if e.rel, err = snapshot.Resolve(ctx, e.snap.Conn(), e.snap.Relation, cfg.Columns, cfg.Role); err != nil {
		return nil, err
	}
	if e.rel.ColumnPrivilegesOnly {
		e.log.Warn("the role may SELECT the exported columns but not the table: reading each source with one COPY (no parallel ctid ranges)", "table", e.rel.Name)
	}
	selectList, err := e.planColumns()
	if err != nil {
		return nil, err
	}
	chunks := cfg.Chunks
	if e.snap.ServerVersion < tidRangeScanVersion {
		// Before TID range scans, each ctid range would scan the whole table.
		e.log.Warn("server has no TID range scans: reading each relation with one connection", "server_version_num", e.snap.ServerVersion)
		chunks = 1
	}
	e.tasks = snapshot.Plan(e.rel.Sources, chunks, planWorkers(cfg.Parallel))
	nWorkers := min(cfg.Parallel, len(e.tasks))
	e.pool = e.openDecoder(nWorkers)
	e.lanes = &lanes{dec: e.dec}
	e.workers, err = snapshot.OpenWorkers(ctx, cfg.ConnConfig, e.snap.ID, nWorkers, snapshot.WorkerOptions{
		Role: cfg.Role, Lock: lockName(e.snap), SelectList: selectList, Pool: e.pool, Progress: &e.lanes.progress})
	if err != nil {
		return nil, err
	}
	if e.format, err = newFileFormat(cfg, dir, e.rel, e.snap, e.cols, e.dec.Path, memory.DefaultAllocator); err != nil {
		return nil, err
	}
	e.format.pages.procs = e.procs
	e.log.Info("export started", "table", e.rel.Name, "snapshot", e.snap.ID, "lsn", e.snap.LSN,
		"workers", nWorkers, "tasks", len(e.tasks), "decoder", e.dec.Path(), "columns", len(e.cols))
	e.setup = time.Since(e.start)
	return e, nil
}

// planColumns plans each column's decoding (its text form when --as-text names it) and
// returns the COPY select list.
func (e *exportRun) planColumns() (string, error) {
	asText := maps.Clone(e.cfg.asText)
	e.cols = make([]pgarrow.Column, len(e.rel.Columns))
	selects := make([]string, len(e.rel.Columns))
	for i, c := range e.rel.Columns {
		if asText[c.Name] {
			e.cols[i] = pgarrow.PlanText(c.Name, c.Type, c.PGType)
			delete(asText, c.Name)
		} else {
			e.cols[i] = pgarrow.PlanType(c.Name, c.Type, c.PGType, e.cfg.planOpts)
		}
		selects[i] = e.cols[i].SelectExpr(c.Ident())
	}
	for name := range asText {
		return "", fmt.Errorf("--as-text: table %s has no column %q among those exported", e.rel.Name, name)
	}
	return strings.Join(selects, ", "), nil
}

// pageCompressor is an engine that may compress pages on the GPU (device.Device): it says
// whether the export's codec and level go there, and if not why.
type pageCompressor interface {
	Compression(c compress.Compression, level int) (gpu bool, why string)
}

// openDecoder opens the decoder and returns the receive buffer pool of nWorkers lanes, whose
// buffers the decoder hands out (memory the GPU reads at full speed once it decodes). Decoded
// batches are released as soon as they are encoded: recycling their buffers keeps the
// export's memory flat.
func (e *exportRun) openDecoder(nWorkers int) *snapshot.Pool {
	poolBytes := int64(nWorkers*buffersPerWorker) * int64(e.cfg.BufferSize)
	e.unlimit = limitMemory(memoryBudget(nWorkers, e.cfg.BufferSize, rowGroupBytes(e.rel, nWorkers, e.cfg.RowGroupSize), leafColumns(e.cols)))
	e.procs = holdProcs()
	e.dec = e.cfg.Engine.NewDecoder(e.cols, arrowmem.NewRecycler(2*poolBytes))
	if c, ok := e.cfg.Engine.(pageCompressor); ok {
		// Said once per export, without holding it up: the answer waits for the GPU's start.
		go func() {
			if gpu, why := c.Compression(e.cfg.codec, e.cfg.level); gpu {
				e.log.Info("page compression on the GPU", "codec", e.cfg.codec.String())
			} else {
				e.log.Info("page compression on the CPU", "codec", e.cfg.codec.String(), "reason", why)
			}
		}()
	}
	pool := snapshot.NewPool(nWorkers*buffersPerWorker, e.cfg.BufferSize, e.dec.Alloc)
	pool.SetHugeRows(e.cfg.huge)
	pool.SetRecycle(e.dec.Keep)
	return pool
}

// copy streams every task through the lanes into staged files, reporting progress meanwhile.
func (e *exportRun) copy(ctx context.Context) ([]*fileSeries, error) {
	stopProgress := e.lanes.reportProgress(e.cfg.Progress, e.rel.EstimatedRows, len(e.tasks), e.start)
	series, err := e.lanes.run(ctx, e.workers, e.tasks, e.format)
	stopProgress()
	if err == nil {
		err = e.dec.Wait() // --gpu on without a usable GPU fails even an export with no rows
	}
	var re *rowError
	var ee *snapshot.EncodingError
	switch {
	case ctx.Err() != nil:
	case errors.As(err, &re):
		e.locate(ctx, "the row that failed to decode", func(ctx context.Context) (err error) {
			re.where, err = e.snap.Locate(ctx, re.task, re.row)
			return err
		})
	case errors.As(err, &ee):
		e.locate(ctx, "the value that is not UTF-8", func(ctx context.Context) error {
			where, err := e.snap.Locate(ctx, ee.Task, ee.Row)
			if err != nil {
				return err
			}
			names := make([]string, len(e.cols))
			for i, c := range e.cols {
				names[i] = c.Name
			}
			col, err := e.snap.InvalidUTF8Column(ctx, ee.Task, ee.Row, names)
			if err != nil {
				return err
			}
			ee.Where, ee.Column = where, col
			return nil
		})
		if ee.Where != "" || ee.Column != "" {
			// The error's own message, which names the task: the wrapping messages were
			// formatted before the value was located.
			err = ee
		}
	}
	return series, err
}

// locateTimeout bounds the queries that find where a value that failed lies: the error is
// worth more than the location.
const locateTimeout = 10 * time.Second

// locate runs find, which fills in where a failed value lies, within locateTimeout; a failure
// to locate (what) is logged, and the export's error stays as it was.
func (e *exportRun) locate(ctx context.Context, what string, find func(context.Context) error) {
	ctx, cancel := context.WithTimeout(ctx, locateTimeout)
	defer cancel()
	if err := find(ctx); err != nil {
		e.log.Warn("could not locate "+what, "err", err)
	}
}

// finish releases the snapshot (only now, with every COPY done, may its transaction end; if
// it was aborted meanwhile, as a conflict with recovery on a standby does, what the workers
// read is not trusted), finalizes the files and writes the manifest.
func (e *exportRun) finish(ctx context.Context, series []*fileSeries) (*outcome.Result, error) {
	if err := e.snap.Release(ctx); err != nil {
		return nil, err
	}
	copyTime := time.Since(e.start) - e.setup
	finStart := time.Now()
	files, err := finalize(ctx, series, e.format)
	if err != nil {
		return nil, err
	}
	l := e.lanes
	res := &outcome.Result{
		Version: Version, Table: e.rel.Name, Snapshot: e.snap.ID, LSN: e.snap.LSN, Decoder: e.dec.Path(),
		Compression: strings.ToLower(e.cfg.Compression), Compat: e.cfg.planOpts.Profile.String(), Workers: len(e.workers), Tasks: len(e.tasks),
		CopyBytes: l.progress.Bytes.Load(), Columns: manifestColumns(e.format, e.cols),
		StartedAt: e.start.UTC().Format(time.RFC3339Nano), Incremental: e.cfg.Incremental,
	}
	for _, f := range files {
		res.Rows += f.Rows
		res.OutputBytes += f.Bytes
		res.Files = append(res.Files, f.File)
	}
	if received := l.progress.Rows.Load(); received != res.Rows {
		return nil, fmt.Errorf("internal error: received %d rows but wrote %d", received, res.Rows)
	}
	received, idle := l.receiveEnd()
	// Read once: the log line's split must add up to the manifest's receive_wait_s.
	waitedBuffers, waitedWriters := e.pool.Waited(), time.Duration(l.queued.Load())
	res.Timings = outcome.Timings{Setup: e.setup.Seconds(), Copy: copyTime.Seconds(),
		Receive: received.Sub(e.start.Add(e.setup)).Seconds(), ReceiveIdle: idle.Seconds(),
		ReceiveWait: (waitedBuffers + waitedWriters).Seconds(),
		Decode:      time.Duration(l.decode.Load()).Seconds(), Encode: time.Duration(l.encode.Load()).Seconds(),
		Finalize: time.Since(finStart).Seconds(), Total: time.Since(e.start).Seconds()}
	res.Seconds = res.Timings.Total
	res.GBPerSecond = float64(res.CopyBytes) / res.Seconds / 1e9
	data, err := encodeManifest(res)
	if err != nil {
		return nil, err
	}
	if err := e.dir.WriteManifest(ctx, data); err != nil {
		return nil, err
	}
	res.OutputDir = e.cfg.OutputDir
	if e.cfg.Store != nil {
		res.OutputDir = e.cfg.Store.URI(e.cfg.OutputDir)
	}
	e.log.Info("export finished", "table", res.Table, "rows", res.Rows, "files", len(res.Files),
		"copy_bytes", res.CopyBytes, "output_bytes", res.OutputBytes, "seconds", res.Seconds,
		"waited_for_buffers_s", waitedBuffers.Seconds(), "waited_for_writers_s", waitedWriters.Seconds())
	return res, nil
}

// close releases the decoder, the workers and the snapshot's coordinator (Abort does nothing
// after Release).
func (e *exportRun) close() {
	if e.format != nil {
		e.format.pages.close()
	}
	if e.dec != nil {
		e.dec.Close()
	}
	if e.unlimit != nil {
		e.unlimit()
	}
	e.procs.release()
	snapshot.CloseAll(e.workers) //nolint:errcheck // read-only transactions: nothing to lose on close
	if e.snap != nil {
		e.snap.Abort()
	}
}

func newFileFormat(opts *settings, dir objstore.Sink, rel *snapshot.Relation, snap *snapshot.Snapshot, cols []pgarrow.Column, decoder func() string, mem memory.Allocator) (*fileFormat, error) {
	schema := pgarrow.ArrowSchema(cols)
	arrowProps := pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem))
	leaves, err := parquetLeaves(schema, arrowProps)
	if err != nil {
		return nil, err
	}
	propOpts := []parquet.WriterProperty{
		parquet.WithCompression(opts.codec),
		parquet.WithCompressionLevel(opts.level),
		parquet.WithStats(true),
		parquet.WithMaxRowGroupLength(opts.RowGroupSize),
		parquet.WithCreatedBy("pgparquet " + Version),
		parquet.WithAllocator(mem),
	}
	// Dictionary encoding pays for strings (few distinct values compress to small indices) but
	// costs fixed-width columns a hash lookup per value, most of the encoder's CPU time, for
	// little gain over zstd/snappy on the plain values: use it for string-like columns only.
	// Fixed-width leaves, nested ones too, are never dictionary-encoded (parquetLeaf.fixed;
	// float NaN payloads stay bit for bit): on bench/load's wide table (int[] of 3 values a row)
	// the writer's int32 hash lookups were 12% of the GPU writer's CPU, and the plain leaves
	// compressed smaller.
	dictionary := make([]bool, len(cols))
	for i, col := range cols {
		dictionary[i] = dictionaryWorthIt(col)
		if !dictionary[i] {
			propOpts = append(propOpts, parquet.WithDictionaryFor(col.Name, false))
		}
		for _, leaf := range leaves[i] {
			if leaf.fixed {
				propOpts = append(propOpts, parquet.WithDictionaryPath(leaf.path, false))
			}
		}
	}
	type colMeta struct {
		Name   string `json:"name"`
		PGType string `json:"pg_type"`
		Note   string `json:"note,omitempty"`
	}
	meta := make([]colMeta, len(cols))
	for i, c := range cols {
		meta[i] = colMeta{c.Name, c.PGType, c.Note()}
	}
	colJSON, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("encode column metadata: %w", err)
	}
	props := parquet.NewWriterProperties(propOpts...)
	return &fileFormat{
		pages: &pageEncoding{engine: opts.Engine, codec: opts.codec, level: opts.level,
			log: func(msg string, args ...any) { opts.Logger.Info(msg, args...) }},
		out:        dir,
		schema:     schema,
		leaves:     leaves,
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
			{"pgparquet.compat", opts.planOpts.Profile.String()},
		},
		decoder:     decoder,
		maxFileSize: opts.MaxFileSize,
		seq:         new(atomic.Int64),
		limits:      &outputLimits{maxBytes: opts.MaxOutputBytes, minFree: opts.MinFreeBytes},
	}, nil
}

func manifestColumns(f *fileFormat, cols []pgarrow.Column) []outcome.Column {
	out := make([]outcome.Column, len(cols))
	for i, c := range cols {
		out[i] = outcome.Column{Name: c.Name, PGType: c.PGType, ArrowType: f.schema.Field(i).Type.String(), AsText: c.CastText, Note: c.Note()}
	}
	return out
}

// finalize lists every file, complete and durable, in name order; an export with no rows
// still gets one file, so readers find the schema. (The manifest's WriteManifest makes the
// local directory's entries durable.)
func finalize(ctx context.Context, series []*fileSeries, format *fileFormat) ([]*parquetFile, error) {
	var files []*parquetFile
	for _, s := range series {
		files = append(files, s.done...)
	}
	if len(files) == 0 {
		s := &fileSeries{format: format}
		if err := s.open(ctx, nil); err != nil {
			return nil, err
		}
		if err := s.finish(); err != nil {
			return nil, err
		}
		files = s.done
	}
	slices.SortFunc(files, func(a, b *parquetFile) int { return strings.Compare(a.Name, b.Name) })
	return files, nil
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
	if c.Kind == pgarrow.KindList && c.Dims == 1 && len(c.Children) == 1 {
		// A one-dimensional list: its elements' (text[], bytea[]).
		return c.Children[0].Kind.Info().Dictionary
	}
	return c.Kind.Info().Dictionary
}

// stoppedError is an export stopped from outside (ctx cancelled): its message is the reason it
// was stopped, not the worker error that the stop caused, and it wraps both.
type stoppedError struct {
	cause, detail error
}

func (e *stoppedError) Error() string   { return "export stopped: " + e.cause.Error() }
func (e *stoppedError) Unwrap() []error { return []error{e.cause, e.detail} }
