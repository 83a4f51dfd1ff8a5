package export

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/trace"
	"strconv"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/pgparquet/pgparquet/pqfile"
)

// batchWriter is what fileSeries asks of the writer of one Parquet file: pqarrow's FileWriter
// (arrow-go encodes every column) or pageFileWriter (the GPU writer's pages for fixed-width
// columns, arrow-go for the rest).
type batchWriter interface {
	WriteBuffered(rec arrow.RecordBatch) error
	NewBufferedRowGroupChecked() error
	RowGroupNumRows() (int, error)
	RowGroupTotalCompressedBytes() int64
	AppendKeyValueMetadata(key, value string) error
	Close() error
}

var _ batchWriter = (*pqarrow.FileWriter)(nil)

// plainEncoderSource is an engine that encodes fixed-width columns' Parquet pages itself
// (device.Device): it waits for the GPU's start and returns its encoder and the encoder's
// Close, or nil and why not.
type plainEncoderSource interface {
	PlainEncoder(c compress.Compression) (enc pqfile.PlainEncoder, closeFn func(), why string)
}

// pageWriterEnv overrides the choice of writer: "cpu" writes every export with the CPU twin of
// the GPU's encoder even where the GPU is in use, "off" never uses pageFileWriter (arrow-go's
// FileWriter writes every file; CI runs it).
const pageWriterEnv = "PGPARQUET_PAGE_WRITER"

// pageEncoding decides, once per export and on its first file, who encodes the fixed-width
// columns' pages: the engine's encoder (the GPU), else its CPU twin (pqfile.CPUPlain, which
// also takes exports with an explicit compression level: nvCOMP has none), or nobody
// (arrow-go encodes every column: $PGPARQUET_PAGE_WRITER=off). It is safe for concurrent use.
type pageEncoding struct {
	once    sync.Once
	engine  any
	codec   compress.Compression
	level   int
	log     func(msg string, args ...any)
	enc     pqfile.PlainEncoder
	closeFn func()
	// gpuDone ends gpuWriting's GC percent, set (gathersStrings, once) while the GPU's
	// encoder gathers string pages.
	gpuOnce sync.Once
	gpuDone func()
	// procs is the export's part in GOMAXPROCS: its GPU writer runs on fewer Ps (procs.go).
	procs *procsHold
}

// encoder returns the export's page encoder, nil when arrow-go encodes every column.
func (p *pageEncoding) encoder() pqfile.PlainEncoder {
	if p == nil {
		return nil
	}
	p.once.Do(func() {
		why := ""
		switch env := os.Getenv(pageWriterEnv); {
		case env == "off":
			why = "$" + pageWriterEnv + " is off"
		default:
			// The GPU's encoder, else the same file path on its CPU twin, whose dictionary
			// columns get exact statistics (arrow-go's FileWriter counts NULL as a used
			// dictionary entry) and which takes less CPU than arrow-go's writer. The twin also
			// takes exports with a compression level, which nvCOMP has not.
			msg := "Parquet pages of fixed-width columns are encoded by the GPU writer's CPU twin"
			why = "$" + pageWriterEnv + "=cpu"
			switch {
			case p.level != compress.DefaultCompressionLevel && p.codec != compress.Codecs.Uncompressed:
				why, msg = "nvCOMP has no compression levels", "Parquet pages of fixed-width columns are encoded on the CPU"
			case env != "cpu":
				why, msg = "the GPU is not in use", "Parquet pages of fixed-width columns are encoded on the CPU"
				if src, ok := p.engine.(plainEncoderSource); ok {
					p.enc, p.closeFn, why = src.PlainEncoder(p.codec)
					if p.enc != nil {
						p.log("Parquet pages of fixed-width columns are encoded on the GPU")
						if p.onGPU() {
							p.procs.gpuWriter()
						}
						return
					}
				}
			}
			enc, err := pqfile.NewCPUPlainLevel(p.codec, p.level)
			if err != nil {
				why += "; " + err.Error()
				break
			}
			p.enc = enc
			p.log(msg, "reason", why)
			return
		}
		p.log("arrow-go encodes every column's Parquet pages", "reason", why)
	})
	return p.enc
}

// onGPU says whether the GPU also compresses the export's pages (or none are compressed): then
// the export's CPU work is small enough for fewer Ps (procs.go); pages the CPU compresses
// (gzip, snappy, lz4 without the GPU's codec) want every core.
func (p *pageEncoding) onGPU() bool {
	if p.codec == compress.Codecs.Uncompressed {
		return true
	}
	c, ok := p.engine.(pageCompressor)
	if !ok {
		return false
	}
	gpu, _ := c.Compression(p.codec, p.level)
	return gpu
}

// gathersStrings says that a file of the export gathers the GPU writer's string pages
// (pageFileWriter.gpuStrings, true only of the GPU's encoder): while the export runs, the GC
// percent is gpuGCPercent.
// Without such pages (lineorder: its strings are dictionary indices) the GPU writer's heap is
// small (lineorder's peaks at 0.25-0.28 GB, RSS 0.75-0.80 GiB on the H200, s16c) and collecting
// more often would only cost CPU.
func (p *pageEncoding) gathersStrings() {
	if p == nil {
		return
	}
	p.gpuOnce.Do(func() { p.gpuDone = gpuWriting() })
}

// uniquer returns who groups the lanes' dictionary columns by value: the engine's encoder when
// it can (the GPU), the CPU twin when the CPU twin encodes the pages (the CPU path, or
// $PGPARQUET_PAGE_WRITER=cpu), else nil (the lanes' own lookups).
func (p *pageEncoding) uniquer() uniquer {
	enc := p.encoder()
	if enc == nil {
		return nil
	}
	if u, ok := enc.(uniquer); ok {
		return u
	}
	if _, ok := enc.(*pqfile.CPUPlain); ok {
		return cpuUniquer{}
	}
	return nil
}

// close frees the engine's encoder, if one was made.
func (p *pageEncoding) close() {
	if p == nil {
		return
	}
	p.once.Do(func() {}) // no encoder may be made after this
	if p.closeFn != nil {
		p.closeFn()
	}
	p.gpuOnce.Do(func() {}) // no GC percent may be set after this
	if p.gpuDone != nil {
		p.gpuDone()
	}
}

// pageFileWriter writes one Parquet file through pqfile: the fixed-width columns' pages are
// gathered (pqfile.PlainColumn) from the fragments enc encodes batch by batch (the GPU
// writer's encoder, or its CPU twin) and compressed as they fill; the lane dictionaries'
// indices (pqfile.DictColumn), strings written plain (pqfile.ByteColumn) and one-dimensional
// lists of fixed-width values or of a lane dictionary (pqfile.ListColumn) are paged by pqfile
// too; the other columns, nested ones (lists of lists, of structs, composites, ...) included,
// are encoded by arrow-go, in the same row groups, which it cuts as pqarrow's FileWriter does
// (at most props' MaxRowGroupLength rows, and where the caller asks). Used by one goroutine.
type pageFileWriter struct {
	w       *pqfile.Writer
	rg      *pqfile.RowGroup
	rows    int64 // rows appended to rg
	props   *parquet.WriterProperties
	enc     pqfile.PlainEncoder
	comp    *pqfile.CPUPlain
	plain   []int                 // Parquet columns enc encodes, in schema order
	fields  []int                 // per plain column: its Arrow field
	pages   []*pqfile.PlainColumn // per plain column: its page being gathered
	isPlain []bool                // per Arrow field
	leaf    []int                 // per Arrow field: its first Parquet column
	dicts   []*pqfile.DictColumn  // per Arrow field: the page of a lane dictionary's indices being gathered, or nil
	bytes   []*pqfile.ByteColumn  // per Arrow field: the PLAIN page of a string column the writer would not dictionary-encode, or nil
	lists   []*pqfile.ListColumn  // per Arrow field: the pages of a one-dimensional list (pqfile.EncodesList), or nil
	maxRows int64
	ctx     context.Context
	flights []flight // pages under way in compression, oldest first (flushPages)
	// sealed: the row groups ended and not yet closed (land), oldest first; at most maxSealed.
	sealed    []*pqfile.RowGroup
	maxSealed int
	// inFlight is the uncompressed bytes of flights.
	inFlight int64
}

// bytesAppender is an encoder (device.PageEncoder) whose decoders can write the PLAIN pages'
// bytes of string columns themselves, with their decoding (on the GPU): PlainBytes tells it
// that field i is written so (a ByteColumn), AppendBytes appends a batch's column from what
// its decoder wrote, or says it has nothing for it (the column then appends it itself).
type bytesAppender interface {
	PlainBytes(field int)
	AppendBytes(a arrow.Array, c *pqfile.ByteColumn) (bool, error)
}

// pageAllocator is an encoder (device.PageEncoder) with memory of its own for the page
// buffers of the columns it encodes (pinned memory, that the GPU copies fragments into); nil:
// Go memory.
type pageAllocator interface {
	PageAllocator() memory.Allocator
}

// chunkPooler is an encoder (device.PageEncoder) with memory of its own for the chunks the
// string columns written PLAIN gather their pages in (pinned memory, that the GPU's compression
// copies from by DMA); nil: Go memory.
type chunkPooler interface {
	ChunkPool() pqfile.ChunkPool
}

// goChunks keeps the string pages' chunks in Go memory even where the encoder has a pool of
// its own (a measurement build's PGPARQUET_CHUNKS=go: export/measure.go).
var goChunks = false

// pageBytes is the size of the values a data page holds, as arrow-go's default data page;
// $PGPARQUET_PAGE_KIB overrides it for measurements.
var pageBytes = kibEnv("PGPARQUET_PAGE_KIB", 1<<20)

// kibEnv is the page size environment variable name sets for measurements, in KiB (16 to
// 16384), else def bytes.
func kibEnv(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n >= 16 && n <= 16<<10 {
		return n << 10
	}
	return def
}

// gpuBytePageBytes is the size of the PLAIN string pages of the GPU writer (bytesAppender),
// half of pageBytes: the device compresses a page in zstd frames of 128 KiB whatever its size,
// so smaller pages cost no Parquet bytes (wide 10M: 0.670 GB either way), and each lane holds a
// page being gathered per string column and its pages under way (then in Go memory): on the H200
// (wide 10M, P=16, s16c) 512 KiB pages (all of them there) took the peak heap from 490-530 MB
// to about 400 and peak RSS from 1.02-1.04 GiB to 0.96-0.98; with gpuGCPercent too, wide
// peaked at 0.93 GiB (s16d). Fixed-width pages keep pageBytes: halved, lineorder's took more
// pinned page buffers (more pages under way) and its RSS rose from 0.75-0.80 to 0.81-0.87.
// The CPU path keeps pageBytes: its zstd compresses a page as one frame, which smaller pages
// make larger. $PGPARQUET_GPU_STRING_PAGE_KIB overrides it for measurements.
var gpuBytePageBytes = kibEnv("PGPARQUET_GPU_STRING_PAGE_KIB", pageBytes/2)

func newPageFileWriter(ctx context.Context, w io.Writer, sc *arrow.Schema, props *parquet.WriterProperties, arrowProps pqarrow.ArrowWriterProperties, enc pqfile.PlainEncoder, laneDicts []arrow.DataType) (*pageFileWriter, error) {
	comp, err := pqfile.NewCPUPlainLevel(props.Compression(), props.CompressionLevel())
	if err != nil {
		return nil, err
	}
	// The pages arrow-go encodes are compressed with the fixed-width columns' (flushPages).
	pw, err := pqfile.NewWriterWith(w, sc, props, pqfile.WriterOptions{ArrowProps: arrowProps, Compressor: comp})
	if err != nil {
		return nil, err
	}
	p := &pageFileWriter{w: pw, props: props, enc: enc, maxRows: props.MaxRowGroupLength(), ctx: ctx, comp: comp, maxSealed: maxSealed(),
		isPlain: make([]bool, sc.NumFields()), leaf: make([]int, sc.NumFields()), dicts: make([]*pqfile.DictColumn, sc.NumFields()),
		bytes: make([]*pqfile.ByteColumn, sc.NumFields()), lists: make([]*pqfile.ListColumn, sc.NumFields())}
	for i, f := range sc.Fields() {
		// A nested field (list, struct) has several Parquet columns: the fields after it do not
		// have their index's.
		if p.leaf[i], _, err = pw.FieldColumns(i); err != nil {
			return nil, err
		}
		var laneDict arrow.DataType
		if i < len(laneDicts) {
			laneDict = laneDicts[i]
		}
		if p.lists[i], err = listColumn(pw, props, p.leaf[i], f, laneDict); err != nil {
			return nil, err
		}
		if p.lists[i] != nil {
			continue
		}
		if i < len(laneDicts) && laneDicts[i] != nil && laneDicts[i].ID() == arrow.DICTIONARY {
			p.dicts[i] = pqfile.NewDictColumn(f.Nullable, pageBytes)
			continue
		}
		if path := pw.ColumnPath(p.leaf[i]); (pqfile.EncodesBytes(f.Type) || pqfile.EncodesFixedBytes(f.Type)) && !props.DictionaryEnabledFor(path) {
			// Strings the writer would write PLAIN (too diverse for a dictionary; JSON) and
			// uuids, whose pages batch with the others rather than going through arrow-go's
			// writer.
			size := pageBytes
			ba, gpu := enc.(bytesAppender)
			if gpu {
				size = gpuBytePageBytes
			}
			p.bytes[i] = pqfile.NewByteColumn(f.Nullable, size, props.StatisticsEnabledFor(path), int(props.MaxStatsSizeFor(path)))
			if cp, ok := enc.(chunkPooler); ok && !goChunks {
				if pool := cp.ChunkPool(); pool != nil {
					p.bytes[i].SetChunkPool(pool)
				}
			}
			if gpu && pqfile.EncodesBytes(f.Type) {
				ba.PlainBytes(i)
			}
			continue
		}
		if !pqfile.EncodesPlain(f.Type) { // fixed-width top-level fields only: one column each
			continue
		}
		pc, err := pqfile.NewPlainColumn(f.Type, f.Nullable, pageBytes)
		if err != nil {
			return nil, err
		}
		// A page is cut at pageBytes or at the row group's end: a row group of fewer values
		// sizes the column's buffer (each lane holds one per column).
		pc.SetMaxRows(int(p.maxRows))
		if a, ok := enc.(pageAllocator); ok {
			if alloc := a.PageAllocator(); alloc != nil {
				pc.SetAllocator(alloc)
			}
		}
		p.plain = append(p.plain, p.leaf[i])
		p.fields = append(p.fields, i)
		p.pages = append(p.pages, pc)
		p.isPlain[i] = true
	}
	return p, nil
}

// gpuStrings says whether the writer gathers PLAIN string pages that the GPU encoder
// (bytesAppender) fills.
func (p *pageFileWriter) gpuStrings() bool {
	if _, ok := p.enc.(bytesAppender); !ok {
		return false
	}
	for _, bc := range p.bytes {
		if bc != nil {
			return true
		}
	}
	return false
}

// listColumn returns the column that pages field f (its Parquet column leaf) when pqfile
// does (a one-dimensional list of fixed-width values, or of the lane's dictionary: laneDict is
// then f's type), else nil: arrow-go encodes it (AppendField), as it does when the writer
// computes no statistics for the column (ListColumn's pages always carry them).
func listColumn(pw *pqfile.Writer, props *parquet.WriterProperties, leaf int, f arrow.Field, laneDict arrow.DataType) (*pqfile.ListColumn, error) {
	l, ok := f.Type.(*arrow.ListType)
	if !ok || !pqfile.EncodesList(l) || !props.StatisticsEnabledFor(pw.ColumnPath(leaf)) {
		return nil, nil
	}
	if l.Elem().ID() == arrow.DICTIONARY && (laneDict == nil || !arrow.TypeEqual(laneDict, f.Type)) {
		return nil, nil // a dictionary of its own in each batch (an enum's), not the lane's
	}
	lc, err := pqfile.NewListColumn(f.Type, f.Nullable, pageBytes)
	if err != nil {
		return nil, fmt.Errorf("column %s: %w", f.Name, err)
	}
	d, r := lc.Levels()
	if wd, wr := pw.ColumnLevels(leaf); d != wd || r != wr {
		lc.Release()
		return nil, nil // not the 3-level list ListColumn pages
	}
	return lc, nil
}

// WriteBuffered appends rec to the current row group, starting new ones where it would pass
// the row group length.
func (p *pageFileWriter) WriteBuffered(rec arrow.RecordBatch) error {
	for off := int64(0); off < rec.NumRows() || (off == 0 && rec.NumRows() == 0); {
		if p.rg == nil {
			rg, err := p.w.NewRowGroup(p.props)
			if err != nil {
				return err
			}
			p.rg, p.rows = rg, 0
		}
		n := min(rec.NumRows()-off, p.maxRows-p.rows)
		if n <= 0 && rec.NumRows() > 0 {
			if err := p.NewBufferedRowGroupChecked(); err != nil {
				return err
			}
			continue
		}
		part := rec
		if off > 0 || n < rec.NumRows() {
			part = rec.NewSlice(off, off+n)
		}
		err := p.append(part)
		if part != rec {
			part.Release()
		}
		if err != nil {
			return err
		}
		off += n
		if rec.NumRows() == 0 {
			break
		}
	}
	return nil
}

// append writes every column of rec into the current row group: the fixed-width columns'
// fragments in one call of enc (one run on the GPU per batch), their full pages compressed.
func (p *pageFileWriter) append(rec arrow.RecordBatch) error {
	if len(p.plain) > 0 {
		cols := make([]arrow.Array, len(p.plain))
		for k, i := range p.fields {
			cols[k] = rec.Column(i)
		}
		var err error
		trace.WithRegion(p.ctx, "fixed-width pages", func() { err = p.enc.Append(cols, p.pages) })
		if err != nil {
			return fmt.Errorf("encode the pages of %d fixed-width columns: %w", len(cols), err)
		}
	}
	full := false
	for _, pc := range p.pages {
		full = full || pc.Full()
	}
	for i := 0; i < int(rec.NumCols()); i++ {
		if p.isPlain[i] {
			continue
		}
		var err error
		if lc := p.lists[i]; lc != nil {
			// A one-dimensional list: its levels, and its values or the lane dictionary's
			// indices, paged here and compressed with the fixed-width columns' pages.
			trace.WithRegion(p.ctx, "list pages", func() { err = lc.Append(rec.Column(i)) })
			if err != nil {
				return fmt.Errorf("column %s: %w", rec.Schema().Field(i).Name, err)
			}
			full = full || lc.Full()
		} else if bc := p.bytes[i]; bc != nil {
			trace.WithRegion(p.ctx, "byte-array pages", func() {
				done := false
				if ba, ok := p.enc.(bytesAppender); ok {
					done, err = ba.AppendBytes(rec.Column(i), bc)
				}
				if !done {
					err = bc.Append(rec.Column(i))
				}
			})
			if err != nil {
				return fmt.Errorf("column %s: %w", rec.Schema().Field(i).Name, err)
			}
			full = full || bc.Full()
		} else if dc := p.dicts[i]; dc != nil {
			// The lane's own dictionary (dictionary.go), the same in the whole row group: its
			// indices gathered into RLE_DICTIONARY pages, compressed with the fixed-width
			// columns' pages.
			d, ok := rec.Column(i).(*array.Dictionary)
			if !ok {
				return fmt.Errorf("column %s: a %s array where the lane's dictionary was expected", rec.Schema().Field(i).Name, rec.Column(i).DataType())
			}
			trace.WithRegion(p.ctx, "dictionary indices", func() { err = dc.Append(d) })
			if err != nil {
				return fmt.Errorf("column %s: %w", rec.Schema().Field(i).Name, err)
			}
			full = full || dc.Full()
		} else if d, ok := rec.Column(i).(*array.Dictionary); ok {
			// A dictionary of its own (an enum): written as it is, with exact statistics from
			// the entries used.
			trace.WithRegion(p.ctx, "arrow-go", func() { err = p.rg.AppendDictionary(p.ctx, p.leaf[i], d) })
		} else {
			// A flat field goes to its column, a nested one to its columns, levels computed.
			trace.WithRegion(p.ctx, "arrow-go", func() { err = p.rg.AppendField(p.ctx, i, rec.Column(i)) })
		}
		if err != nil {
			return err
		}
	}
	p.rows += rec.NumRows()
	if full || p.rg.HeldBytes() >= heldBytes {
		return p.flushPages(false)
	}
	return nil
}

// heldBytes is how many bytes of uncompressed pages arrow-go's columns may hold (pqfile's
// held pages) before the lane hands them to compression (flushPages): what it holds in memory
// against how many compressions it starts.
const heldBytes = 4 << 20

// flushPages hands the pages that are full (all: every page holding rows), of the
// fixed-width columns and of the lane dictionaries' indices, to compression, with those the
// row group holds from arrow-go's columns (pqfile's held pages), in one call
// (RowGroup.CompressAsync), and goes on without waiting: the pages compressed land in the row
// group (land), in the order they were taken, when the lane next finds them done, or waits for
// them: at the row group's end, or when more than maxInFlight bytes are under way. Waiting
// for each flush (as until session 11) left the lanes waiting for compression most of their
// time, and too few pages on the device at once to keep nvCOMP busy.
func (p *pageFileWriter) flushPages(all bool) error {
	var f flight
	due := func(c interface {
		Full() bool
		Rows() int
	}) bool {
		return c.Full() || all && c.Rows() > 0
	}
	add := func(t taken, page pqfile.RawPage) {
		f.which = append(f.which, t)
		f.raw = append(f.raw, []pqfile.RawPage{page})
		f.rawBytes += int64(page.Len())
	}
	for k, pc := range p.pages {
		if due(pc) {
			page, _ := pc.Take()
			add(taken{plain: k, field: p.fields[k]}, page)
		}
	}
	for i, dc := range p.dicts {
		if dc != nil && due(dc) {
			dict := dc.Dictionary()
			dict.Retain() // the lane's next row group may change the column's dictionary before it lands
			page, _ := dc.Take()
			add(taken{plain: -1, field: i, dict: dict}, page)
		}
	}
	for i, bc := range p.bytes {
		// A string column may hold several pages cut while a batch was appended.
		for bc != nil && due(bc) {
			page, _ := bc.Take()
			add(taken{plain: -1, field: i}, page)
		}
	}
	for i, lc := range p.lists {
		// A list column may hold several pages cut while a batch was appended.
		for lc != nil && due(lc) {
			dict := lc.Dictionary()
			if dict != nil {
				dict.Retain() // as a lane dictionary's indices: until the page lands
			}
			page, _ := lc.Take()
			add(taken{plain: -1, field: i, dict: dict, list: true}, page)
		}
	}
	held := p.rg.HeldBytes()
	if len(f.which) == 0 && held == 0 {
		return p.land(false)
	}
	f.bytes = f.rawBytes + held
	f.rg = p.rg
	var err error
	if f.c, err = p.rg.CompressAsync(f.raw); err != nil {
		return err
	}
	p.flights = append(p.flights, f)
	p.inFlight += f.bytes
	return p.land(false)
}

// flight is one flushPages' pages under way: which column each group of raw is, and the
// compression.
type flight struct {
	rg    *pqfile.RowGroup // the row group its pages land in
	which []taken
	raw   [][]pqfile.RawPage
	c     *pqfile.Compression
	bytes int64 // raw's and the row group's held pages', uncompressed
	// rawBytes is raw's alone.
	rawBytes int64
}

// taken is a page flushPages took from the column of field: a fixed-width column's (plain,
// its index in p.pages), a lane dictionary's indices (plain -1; dict, the dictionary they
// index, retained until the page lands), a PLAIN string column's (plain -1, dict nil), or a
// list column's (plain -1, list; dict as for the indices of a list of the lane dictionary).
type taken struct {
	plain int
	field int
	dict  arrow.Array
	list  bool
}

// maxInFlight bounds the bytes of pages a lane has under way in compression before it waits
// for the oldest. Each page under way holds its buffer (pinned memory, for the fixed-width
// columns), so it is peak RSS too: the pipeline alone on lineorder (H200, P=16) ran at
// 3.6-4.05 GB/s whether 32, 64 or 128 MiB were allowed (bench/results/
// gpuhost-h200-2026-11-30-s11f.log), and real exports, held to the source's 1.3-1.6 GB/s, have
// far less under way. $PGPARQUET_PAGES_IN_FLIGHT_MIB overrides it for measurements.
var maxInFlight = func() int64 {
	if n, err := strconv.Atoi(os.Getenv("PGPARQUET_PAGES_IN_FLIGHT_MIB")); err == nil && n > 0 {
		return int64(n) << 20
	}
	return 16 << 20
}()

// maxSealed bounds the row groups a lane has sealed and not yet written (their pages under way
// in compression) while it fills the next: beyond, it waits for the oldest. 0 (the default):
// the lane waits for a row group's pages at its end, as a sealed row group's pages keep their
// buffers (a second page buffer per fixed-width column: pinned memory) while the next fills:
// on the H200 (lineorder 40M, P=16) one sealed row group per lane took peak RSS from 1.02-1.04
// to 1.23-1.25 GB, and neither the export nor the pipeline alone got faster, the device being
// busy (bench/results/gpuhost-h200-2026-11-30-s11*.log). $PGPARQUET_SEALED_ROW_GROUPS
// overrides it for measurements (read per file).
func maxSealed() int {
	if n, err := strconv.Atoi(os.Getenv("PGPARQUET_SEALED_ROW_GROUPS")); err == nil && n >= 0 {
		return n
	}
	return 0
}

// land adds the compressed pages of the flights that are done to their row groups, oldest
// first (a column's pages in the order they were taken), up to the first still under way, and
// closes the sealed row groups whose pages all landed (writing them to the file, in order);
// all: it waits for every flight and closes every sealed row group, otherwise it waits only
// while more than maxInFlight bytes are under way or more than maxSealed row groups are
// sealed. Compression copied the pages' bytes, so the fixed-width columns' go back to their
// columns (Recycle) as they land: their next pages reuse the buffers.
func (p *pageFileWriter) land(all bool) error {
	for {
		for len(p.sealed) > 0 && (len(p.flights) == 0 || p.flights[0].rg != p.sealed[0]) {
			rg := p.sealed[0]
			p.sealed = p.sealed[1:]
			var err error
			trace.WithRegion(p.ctx, "close row group", func() { err = rg.Close() })
			if err != nil {
				return err
			}
		}
		if len(p.flights) == 0 {
			return nil
		}
		f := p.flights[0]
		if !f.c.Done() {
			if !all && p.inFlight <= maxInFlight && len(p.sealed) <= p.maxSealed {
				return nil
			}
			trace.WithRegion(p.ctx, "compress", func() { f.c.Wait() })
		}
		p.flights = p.flights[1:]
		p.inFlight -= f.bytes
		if err := p.landFlight(f); err != nil {
			return err
		}
	}
}

// landFlight adds f's compressed pages to its row group, and gives the fixed-width columns'
// buffers back.
func (p *pageFileWriter) landFlight(f flight) error {
	compressed := f.c.Wait()
	for n, t := range f.which {
		switch {
		case t.plain >= 0:
			p.pages[t.plain].Recycle(f.raw[n][0])
		case t.list:
			p.lists[t.field].Recycle(f.raw[n][0])
		case t.dict == nil:
			p.bytes[t.field].Recycle(f.raw[n][0])
		}
	}
	defer f.release()
	for n, pages := range compressed {
		t, col := f.which[n], p.leaf[f.which[n].field]
		e := pqfile.Encoded{Pages: pages, Stats: pages[0].Stats}
		if t.dict != nil {
			if err := f.rg.AppendDictPages(col, t.dict, e); err != nil {
				return fmt.Errorf("add the dictionary pages of column %d: %w", col, err)
			}
			continue
		}
		if err := f.rg.AppendPages(col, e); err != nil {
			return fmt.Errorf("add the pages of column %d: %w", col, err)
		}
	}
	return nil
}

// release drops the dictionaries f retained.
func (f flight) release() {
	for _, t := range f.which {
		if t.dict != nil {
			t.dict.Release()
		}
	}
}

// wait waits for every flight, landing none: their pages are dropped with the row group (an
// export that failed). The columns' buffers are then no longer read.
func (p *pageFileWriter) wait() {
	for _, f := range p.flights {
		f.c.Wait()
		f.release()
	}
	p.flights, p.inFlight = nil, 0
}

// NewBufferedRowGroupChecked ends the current row group (if it has rows); the next batch
// starts another. The row group is sealed and its last pages handed to compression with those
// arrow-go's columns held: it is closed (written to the file) once they all landed, while the
// lane fills the next (land).
func (p *pageFileWriter) NewBufferedRowGroupChecked() error {
	if p.rg == nil {
		return nil
	}
	rg := p.rg
	if p.rows == 0 {
		p.rg = nil
		return rg.Abort()
	}
	// Sealed, the row group's arrow-go columns hand over their last pages, compressed with the
	// others in one call.
	if err := rg.Seal(); err != nil {
		return err
	}
	if err := p.flushPages(true); err != nil {
		return err
	}
	p.rg = nil
	p.sealed = append(p.sealed, rg)
	return p.land(false)
}

// RowGroupNumRows is the current row group's rows so far.
func (p *pageFileWriter) RowGroupNumRows() (int, error) {
	if p.rg == nil {
		return 0, nil
	}
	return int(p.rows), nil
}

// RowGroupTotalCompressedBytes is the current row group's bytes so far: its compressed pages,
// and the values of the pages being gathered (not yet compressed, as arrow-go counts its own).
func (p *pageFileWriter) RowGroupTotalCompressedBytes() int64 {
	if p.rg == nil {
		return 0
	}
	n := p.rg.Bytes()
	for _, f := range p.flights { // their held pages are in the row group's Bytes
		if f.rg == p.rg {
			n += f.rawBytes
		}
	}
	for _, pc := range p.pages {
		n += int64(pc.Bytes())
	}
	for _, dc := range p.dicts {
		if dc != nil {
			n += int64(dc.Bytes())
		}
	}
	for _, bc := range p.bytes {
		if bc != nil {
			n += int64(bc.Bytes())
		}
	}
	for _, lc := range p.lists {
		if lc != nil {
			n += int64(lc.Bytes())
		}
	}
	return n
}

// UnwrittenBytes is the bytes the file will get beyond those written: the current row group's
// (RowGroupTotalCompressedBytes) and the sealed ones', their pages under way counted
// uncompressed.
func (p *pageFileWriter) UnwrittenBytes() int64 {
	n := p.RowGroupTotalCompressedBytes()
	for _, rg := range p.sealed {
		n += rg.Bytes()
	}
	for _, f := range p.flights {
		if f.rg != p.rg {
			n += f.rawBytes
		}
	}
	return n
}

// AppendKeyValueMetadata adds a key-value pair to the file's footer.
func (p *pageFileWriter) AppendKeyValueMetadata(key, value string) error {
	return p.w.AppendKeyValueMetadata(key, value)
}

// Close ends the last row group and writes the footer.
func (p *pageFileWriter) Close() error {
	defer p.release()
	if err := p.NewBufferedRowGroupChecked(); err != nil {
		return err
	}
	if err := p.land(true); err != nil {
		return err
	}
	return p.w.Close()
}

// Abort drops the file being written (the export failed): it waits for the pages under way in
// compression, which read the columns' buffers, and releases the columns.
func (p *pageFileWriter) Abort() {
	p.release()
}

// release waits for the pages under way in compression and releases the columns' buffers.
func (p *pageFileWriter) release() {
	p.wait()
	// The file is dropped, or its Close already failed with the error that matters: the row
	// groups not written are aborted, newest first.
	if p.rg != nil {
		_ = p.rg.Abort()
		p.rg = nil
	}
	for i := len(p.sealed) - 1; i >= 0; i-- {
		_ = p.sealed[i].Abort()
	}
	p.sealed = nil
	for _, dc := range p.dicts {
		if dc != nil {
			dc.Release()
		}
	}
	for _, pc := range p.pages {
		pc.Release()
	}
	for _, lc := range p.lists {
		if lc != nil {
			lc.Release()
		}
	}
}
