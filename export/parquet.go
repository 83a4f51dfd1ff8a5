package export

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"runtime/trace"
	"slices"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/pgparquet/pgparquet/objstore"
	"github.com/pgparquet/pgparquet/outcome"
	"github.com/pgparquet/pgparquet/pqfile"
)

// fileFormat is what every file of one export shares.
type fileFormat struct {
	out         objstore.Sink
	dictionary  []bool        // per column: worth dictionary encoding (dictionaryWorthIt)
	schema      *arrow.Schema // of the decoded batches
	mem         memory.Allocator
	props       *parquet.WriterProperties
	propOpts    []parquet.WriterProperty // props' options, for files that turn dictionaries or statistics off
	leaves      [][]parquetLeaf          // per top-level column: its Parquet leaf columns
	arrowProps  pqarrow.ArrowWriterProperties
	metadata    [][2]string   // key-value metadata, in order
	decoder     func() string // the decoder's Path when a file is finished (pgparquet.decoder)
	maxFileSize int64
	seq         *atomic.Int64 // numbers files across all series
	limits      *outputLimits
	pages       *pageEncoding // who encodes fixed-width columns' pages (pagewriter.go)
}

// fileSeries writes the record batches of one lane into a sequence of Parquet files, starting
// a new file when one reaches maxFileSize. Files stay staged in the sink until the whole export
// succeeds. A fileSeries is used by one goroutine.
type fileSeries struct {
	format *fileFormat
	cur    *parquetFile
	done   []*parquetFile
	dicts  []*stringDict // per column: the lane's dictionary (dictionary.go), nil if not eligible
	// noStats[i]: column i held a huge value in this lane and is written without statistics
	// (hugevalues.go); nil until the first batch.
	noStats []bool
	// diverseExt[i]: column i, an extension type stored as strings (JSON), whose values in the
	// lane's first batch barely repeat: the writer does not dictionary-encode it
	// (judgeExtensions); nil until the first batch.
	diverseExt []bool
}

// parquetFile is one file being written.
type parquetFile struct {
	outcome.File
	f    objstore.File
	sink *hashingWriter
	fw   batchWriter
	// dictTypes[i] is column i's type in this file when it is dictionary-encoded here (a
	// dictionary, or a list of one), else nil.
	dictTypes []arrow.DataType
	schema    *arrow.Schema // the writer's: the decoded schema with dictTypes
}

func (s *fileSeries) write(ctx context.Context, rec arrow.RecordBatch) error {
	cols := make([]arrow.Array, rec.NumCols())
	release := func() {
		for i, c := range cols {
			if c != nil {
				c.Release()
				cols[i] = nil
			}
		}
	}
	defer release()
	huge := hugeValues(rec)
	trace.WithRegion(ctx, "group strings", func() { s.groupDicts(rec, huge) })
	defer s.forgetGroups()
	if s.markHugeColumns(huge) && s.cur != nil {
		// The current file keeps statistics for a column that now holds a huge value.
		if err := s.closeFile(); err != nil {
			return err
		}
	}
	for s.cur != nil {
		var rollOver bool
		var err error
		trace.WithRegion(ctx, "lane dictionaries", func() { rollOver, err = s.encodeDicts(rec, cols, huge) })
		if err != nil {
			return err
		}
		if !rollOver {
			break
		}
		// A column stopped being dictionary-encoded: its type changes, so a new file starts.
		release()
		if err := s.closeFile(); err != nil {
			return err
		}
	}
	if s.cur == nil {
		if err := s.open(ctx, s.firstBatchTypes(rec, cols, huge)); err != nil {
			return err
		}
	}
	p := s.cur
	for i := range cols {
		if cols[i] == nil {
			cols[i] = rec.Column(i)
			cols[i].Retain()
		}
		// An empty value in a batch without value bytes would be left out of arrow-go's min.
		if a, ok := pqfile.WithValueBytes(cols[i]); ok {
			cols[i].Release()
			cols[i] = a
		}
	}
	out := array.NewRecordBatch(p.schema, cols, rec.NumRows())
	defer out.Release()
	if err := p.fw.WriteBuffered(out); err != nil {
		return fmt.Errorf("write %s: %w", p.Name, err)
	}
	p.Rows += rec.NumRows()
	if p.fw.RowGroupTotalCompressedBytes() >= rowGroupMaxBytes || (len(huge) > 0 && slices.Max(huge) > rowGroupCutValueBytes) {
		if err := p.fw.NewBufferedRowGroupChecked(); err != nil {
			return fmt.Errorf("write %s: %w", p.Name, err)
		}
	}
	pending := p.fw.RowGroupTotalCompressedBytes()
	if u, ok := p.fw.(interface{ UnwrittenBytes() int64 }); ok {
		pending = u.UnwrittenBytes() // with the row groups sealed and not yet written
	}
	if err := s.format.limits.check(s.format.out, pending); err != nil {
		return err
	}
	if p.sink.n+pending >= s.format.maxFileSize {
		return s.closeFile()
	}
	return nil
}

// firstBatchTypes decides which columns the next file dictionary-encodes, from the lane's
// history and rec, the file's first batch, whose dictionary arrays it puts in cols.
func (s *fileSeries) firstBatchTypes(rec arrow.RecordBatch, cols []arrow.Array, huge []int) []arrow.DataType {
	s.initDicts()
	s.judgeExtensions(rec)
	types := make([]arrow.DataType, len(s.dicts))
	for i, d := range s.dicts {
		if d == nil || d.off {
			continue
		}
		arr := rec.Column(i)
		// A huge value would be copied twice (map key, dictionary array) only for the column
		// to be written plain.
		if huge[i] > 0 {
			d.diverse = true
			d.settle()
			continue
		}
		a, added, values := d.encode(s.format.mem, arr)
		// Values that barely repeat make dictionary encoding a loss: the lane writes this
		// column plain from now on.
		if barelyRepeat(added, values) {
			d.diverse = true
		}
		if d.settle() {
			a.Release()
			continue
		}
		types[i], cols[i] = d.fileType(), a
	}
	return types
}

// initDicts makes the lane's dictionaries, once.
func (s *fileSeries) initDicts() {
	if s.dicts != nil {
		return
	}
	s.dicts = make([]*stringDict, len(s.format.schema.Fields()))
	// Dictionary arrays only where pqfile writes the files (the GPU writer and its CPU twin):
	// arrow-go's FileWriter ($PGPARQUET_PAGE_WRITER=off) finds the
	// dictionary entries a batch uses, for the statistics, by hashing its indices, counting NULL
	// as one of them, so a batch with NULLs that uses all but one entry gets every entry's min
	// and max (arrow-go v18.8; pqfile.writeDictLeaf marks them instead), and a batch over the
	// very dictionary array of the chunk's first gets them all. On a list leaf that happens
	// whenever a row group stops using a value (NULL elements are common); on flat columns
	// rarely, but readback.CheckStatistics found it. There the lane judges flat columns by
	// their first batch (too diverse: written plain) and hands the writer their values.
	lists := s.format.pages.encoder() != nil
	for i, f := range s.format.schema.Fields() {
		if s.format.dictionary[i] && dictEligible(f.Type) && (lists || f.Type.ID() != arrow.LIST) {
			s.dicts[i] = newStringDict(f.Type)
			s.dicts[i].judgeOnly = !lists
		}
	}
}

// groupDicts has the engine group rec's rows by value in every column the lane still
// dictionary-encodes (one call for them all: one run on the GPU), for their dictionaries'
// indices of this batch.
func (s *fileSeries) groupDicts(rec arrow.RecordBatch, huge []int) {
	u := s.format.pages.uniquer()
	if u == nil {
		return
	}
	s.initDicts()
	var cols []arrow.Array
	var dicts []*stringDict
	for i, d := range s.dicts {
		if d != nil && !d.off && huge[i] == 0 {
			cols, dicts = append(cols, d.values(rec.Column(i))), append(dicts, d)
		}
	}
	if len(cols) == 0 {
		return
	}
	ids, firsts := u.Uniques(cols)
	for k, d := range dicts {
		if ids[k] != nil {
			d.next = &batchGroups{arr: cols[k], ids: ids[k], firsts: firsts[k]}
		}
	}
}

// forgetGroups drops what groupDicts found and the batch did not use.
func (s *fileSeries) forgetGroups() {
	for _, d := range s.dicts {
		if d != nil {
			d.next = nil
		}
	}
}

// encodeDicts puts the dictionary arrays of rec's dictionary-encoded columns in cols. Row
// groups end between batches, so a batch never spans two dictionaries, and a batch that brings
// new values into a row group that has rows starts a new one (the writer would otherwise store
// the rest of the chunk plain). rollOver says a column must stop being dictionary-encoded: the
// caller starts a new file for rec.
func (s *fileSeries) encodeDicts(rec arrow.RecordBatch, cols []arrow.Array, huge []int) (rollOver bool, err error) {
	p := s.cur
	maxRows := s.format.props.MaxRowGroupLength()
	rgRows, err := p.fw.RowGroupNumRows()
	if err != nil {
		return false, fmt.Errorf("write %s: %w", p.Name, err)
	}
	cut := rgRows > 0 && int64(rgRows)+rec.NumRows() > maxRows
	for i, dt := range p.dictTypes {
		if dt == nil {
			continue
		}
		d := s.dicts[i]
		if huge[i] > 0 { // copied twice (map key, dictionary array) only to be written plain
			d.diverse = true
			rollOver = d.settle() || rollOver
			continue
		}
		a, added, _ := d.encode(s.format.mem, rec.Column(i))
		cols[i] = a
		if added > 0 && rgRows > 0 && !cut {
			cut = true
			// Row groups cut short by new values, again and again: the values keep coming.
			if int64(rgRows) < maxRows/4 {
				if d.shortCuts++; d.shortCuts > dictMaxShortCuts {
					d.diverse = true
				}
			}
		}
		rollOver = d.settle() || rollOver
	}
	if rollOver || !cut {
		return rollOver, nil
	}
	if err := p.fw.NewBufferedRowGroupChecked(); err != nil {
		return false, fmt.Errorf("write %s: %w", p.Name, err)
	}
	return false, nil
}

// plainColumns turns the writer's own dictionary encoding off for the columns whose values
// this lane found too diverse for it.
func (s *fileSeries) plainColumns() []parquet.WriterProperty {
	var out []parquet.WriterProperty
	for i, d := range s.dicts {
		if d != nil && d.diverse || i < len(s.diverseExt) && s.diverseExt[i] {
			out = append(out, parquet.WithDictionaryFor(s.format.schema.Field(i).Name, false))
			if d != nil && d.list != nil { // its elements' leaf column
				for _, leaf := range s.format.leaves[i] {
					out = append(out, parquet.WithDictionaryPath(leaf.path, false))
				}
			}
		}
	}
	return out
}

// judgeSample is how many rows of the lane's first batch judgeExtensions looks at.
const judgeSample = 4096

// judgeExtensions decides, once per lane from rec (its first batch), which extension columns
// stored as strings (JSON, which the lane does not dictionary-encode itself) are too diverse
// for the writer's dictionary, as firstBatchTypes decides for strings: half the values of the
// sample new. The writer would otherwise hash each row group's values until its dictionary
// page overflows, then write them plain all the same; written plain from the start, the GPU
// writer gathers them into pages itself (pqfile.ByteColumn).
func (s *fileSeries) judgeExtensions(rec arrow.RecordBatch) {
	if s.diverseExt != nil {
		return
	}
	s.diverseExt = make([]bool, len(s.format.schema.Fields()))
	for i, f := range s.format.schema.Fields() {
		if _, ok := f.Type.(arrow.ExtensionType); !ok || !s.format.dictionary[i] || !pqfile.EncodesBytes(f.Type) {
			continue
		}
		ext, ok := rec.Column(i).(array.ExtensionArray)
		if !ok {
			continue
		}
		value := stringValues(ext.Storage())
		if value == nil {
			continue
		}
		seen := map[string]struct{}{}
		nonNull := 0
		for row := range min(ext.Len(), judgeSample) {
			if ext.IsNull(row) {
				continue
			}
			nonNull++
			seen[value(row)] = struct{}{}
		}
		s.diverseExt[i] = barelyRepeat(len(seen), nonNull)
	}
}

// barelyRepeat says whether a first batch's values (nonNull of them, distinct of those new to
// the column) are too diverse for dictionary encoding: at least 64, more than half of them new.
func barelyRepeat(distinct, nonNull int) bool {
	return nonNull >= 64 && 2*distinct > nonNull
}

// open starts the next file of the series; dictTypes[i] non-nil makes column i of that type
// (a dictionary, or a list of one) in the file (nil dictTypes: none).
func (s *fileSeries) open(ctx context.Context, dictTypes []arrow.DataType) error {
	n := s.format.seq.Add(1) - 1
	p := &parquetFile{}
	p.Name = fmt.Sprintf("part-%05d.parquet", n)
	f, err := s.format.out.Create(ctx, p.Name)
	if err != nil {
		return err
	}
	p.f = f
	p.dictTypes = dictTypes
	p.schema = s.format.schema
	if slices.ContainsFunc(dictTypes, func(t arrow.DataType) bool { return t != nil }) {
		fields := slices.Clone(p.schema.Fields())
		for i, t := range dictTypes {
			if t != nil {
				fields[i].Type = t
			}
		}
		md := p.schema.Metadata()
		p.schema = arrow.NewSchema(fields, &md)
	}
	props := s.format.props
	// The writer would hash plain columns' values until its dictionary page overflows, and
	// copy huge values for statistics.
	extra := append(s.plainColumns(), s.noStatsColumns()...)
	enc := s.format.pages.encoder()
	if enc != nil {
		// pqfile computes the statistics of the lanes' dictionary columns itself, exactly
		// (DictColumn's pages; RowGroup.AppendDictionary's chunks): arrow-go's, which are not,
		// are turned off. Lists of dictionaries keep them: pqfile.ListColumn computes them from
		// the entries its pages use, and where arrow-go writes the list, pqfile.writeDictLeaf
		// feeds its column writer those entries (exact: a dictionary holding an empty string,
		// which arrow-go's statistics would leave out, is never kept: stringDict.settle).
		for i, t := range dictTypes {
			if t != nil && t.ID() == arrow.DICTIONARY {
				extra = append(extra, parquet.WithStatsFor(s.format.schema.Field(i).Name, false))
			}
		}
	}
	if enc == nil {
		// arrow-go's FileWriter (v18.8.0) counts a batch's values below a list as its slots
		// less its levels without a value (NULL and empty lists), so a batch holding as many
		// values as such lists is left out of min and max (a chunk's range can miss values),
		// and one of none gets min and max reversed: those leaves are written without
		// statistics. pqfile writes them in runs its statistics count right (writeLeaf).
		for _, leaves := range s.format.leaves {
			for _, leaf := range leaves {
				if leaf.repeated {
					extra = append(extra, parquet.WithStatsPath(leaf.path, false))
				}
			}
		}
	}
	if len(extra) > 0 {
		props = parquet.NewWriterProperties(append(slices.Clone(s.format.propOpts), extra...)...)
	}
	p.sink = &hashingWriter{w: bufio.NewWriterSize(f, fileBuffer), h: sha256.New(), total: s.format.limits.written()}
	if enc != nil {
		var pw *pageFileWriter
		if pw, err = newPageFileWriter(ctx, p.sink, p.schema, props, s.format.arrowProps, enc, dictTypes); err == nil {
			p.fw = pw
			if pw.gpuStrings() {
				s.format.pages.gathersStrings()
			}
		}
	} else {
		p.fw, err = pqarrow.NewFileWriter(p.schema, p.sink, props, s.format.arrowProps)
	}
	if err != nil {
		f.Abort()
		return fmt.Errorf("start Parquet file %s: %w", p.Name, err)
	}
	s.cur = p
	return nil
}

// closeFile writes the current file's footer, flushes it and closes it (durable once closed).
func (s *fileSeries) closeFile() error {
	p := s.cur
	s.cur = nil
	var errs []error
	for _, kv := range append(s.format.metadata, [2]string{"pgparquet.decoder", s.format.decoder()}) {
		if err := p.fw.AppendKeyValueMetadata(kv[0], kv[1]); err != nil {
			errs = append(errs, err)
		}
	}
	// The footer's write error, if any, is also the flush's (bufio keeps it): told once.
	err := p.fw.Close()
	if err == nil {
		err = p.sink.w.Flush()
	}
	if err := errors.Join(append(errs, err)...); err != nil {
		p.f.Abort()
		return fmt.Errorf("finish %s: %w", p.Name, err)
	}
	if err := p.f.Close(); err != nil {
		return fmt.Errorf("finish %s: %w", p.Name, err)
	}
	p.Bytes = p.sink.n
	p.SHA256 = hex.EncodeToString(p.sink.h.Sum(nil))
	s.done = append(s.done, p)
	return nil
}

// finish closes the current file, if any.
func (s *fileSeries) finish() error {
	if s.cur == nil {
		return nil
	}
	return s.closeFile()
}

// abort drops the current file; the sink's Discard removes it.
func (s *fileSeries) abort() {
	if s.cur != nil {
		if a, ok := s.cur.fw.(interface{ Abort() }); ok {
			a.Abort() // waits for its pages under way in compression
		}
		s.cur.f.Abort()
		s.cur = nil
	}
}

// fileBuffer is the write buffer of each file being written: a row group goes to the file at
// once, page by page, each page's header and bytes (pages larger than the buffer go straight
// through). 1 MiB until session 15: 16 MiB of live heap at 16 lanes for fewer, larger writes.
const fileBuffer = 256 << 10

// hashingWriter counts and hashes everything written to the file, so the manifest's sha256
// costs no second read.
type hashingWriter struct {
	w     *bufio.Writer
	h     hash.Hash
	n     int64
	total *atomic.Int64 // bytes written by the whole export, nil: not counted
}

func (h *hashingWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	if h.total != nil {
		h.total.Add(int64(n))
	}
	return n, err
}
