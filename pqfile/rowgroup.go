package pqfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// RowGroup is a row group being built batch by batch: each call appends a column's next rows,
// and the row group holds, until Close, only what will go to the file (the compressed pages
// appended, and their dictionary; for the columns arrow-go encodes, what its column writers
// buffer: compressed pages with their headers, the dictionary, the page being filled). Nothing
// reaches the file until Close, which writes every column's chunk in schema order (the pages
// appended each go once to the file, header then data); Abort drops it all.
//
// Each column is fed either encoded pages (AppendPages, or AppendDictPages for a chunk of
// dictionary-encoded pages) or Arrow arrays (AppendArrow, AppendDictionary, or AppendField for
// every column of a nested field) within one row group, never both; a column fed nothing holds
// no rows. Every column must hold the same number of rows (records, for the columns of a nested
// field) at Close. A RowGroup is used by one goroutine, the Writer's; the Writer takes no other
// row group and cannot be closed while it is open. After an append fails, the row group
// refuses everything but Abort.
type RowGroup struct {
	w       *Writer
	props   *parquet.WriterProperties
	ordinal int16
	sink    *groupSink
	cols    []*rgColumn
	err     error // why the row group takes nothing more but Abort
	done    bool  // closed or aborted
	sealed  bool  // Seal was called: no more Arrow arrays
}

// feed is how a column of a row group is fed.
type feed int

const (
	fedNothing feed = iota
	fedPages
	fedArrow
)

// rgColumn is one column chunk being built. Its metadata builder stands alone until Close,
// which copies it into the file's row group: an aborted row group leaves no trace in the file's
// metadata.
type rgColumn struct {
	desc *schema.Column
	meta *metadata.ColumnChunkMetaDataBuilder
	// fedArrow: a buffered page writer (pages held in memory until Close) and arrow-go's
	// column writer over it, open across calls; both made by the first call.
	pager file.PageWriter
	cw    file.ColumnChunkWriter
	// held: the pager when the column holds its pages (held.go); cwClosed: cw was closed.
	held     *heldPager
	cwClosed bool
	feed     feed
	rows     int64

	// fedPages: the pages held (owned by the row group: written at Close, the page writer then
	// made over the file), an estimate of their bytes with their headers, and the chunk's
	// statistics, merged from each call's.
	pages        []Page
	bytes        int64
	stats        metadata.TypedStatistics
	noStats      bool // a call came without statistics: the chunk has none
	noMinMax     bool // a call of FIXED_LEN_BYTE_ARRAY values came without min and max: the chunk has none
	nullsUnknown bool // a call came without a NULL count: the chunk has none
	calls        int
	distinct     metadata.EncodedStatistics // the first call's, kept for a single call

	// AppendDictPages: the chunk's dictionary (retained, to check each call brings the same),
	// its dictionary page (PLAIN, uncompressed: the page writer compresses it at Close) and
	// statistics merged byte-wise.
	dictArr  arrow.Array
	dictPage []byte
	bstats   byteStats

	// AppendDictionary: the chunk's statistics kept here, exactly, from the dictionary entries
	// the indices use (arrow-go's own are off for the column).
	dict *dictStats
}

// dictStats accumulates the exact statistics of a string or binary column fed as dictionary
// arrays: which entries of the current dictionary the indices use (a bitmap: no value is
// compared per row), folded into min and max, compared byte-wise as Parquet orders BYTE_ARRAY,
// when the dictionary changes and at Close.
type dictStats struct {
	dict       arrow.Array // the current dictionary (retained), nil before the first call
	used       []bool
	nulls      int64
	has        bool
	minV, maxV []byte // copies
	// maxStats: a min or max longer than this is left out, as arrow-go leaves it out of the
	// chunks it writes (the props' MaxStatsSizeFor; 0: no bound).
	maxStats int
}

// add records d's indices.
func (s *dictStats) add(d *array.Dictionary) {
	if s.dict != d.Dictionary() {
		s.fold()
		s.dict = d.Dictionary()
		s.dict.Retain()
		s.used = make([]bool, s.dict.Len())
	}
	s.nulls += int64(d.NullN())
	switch idx := d.Indices().(type) {
	case *array.Int32: // the export's lanes' dictionaries
		values := idx.Int32Values()
		if idx.NullN() == 0 {
			for _, k := range values {
				s.used[k] = true
			}
			return
		}
		for i, k := range values {
			if idx.IsValid(i) {
				s.used[k] = true
			}
		}
	default:
		for i := 0; i < d.Len(); i++ {
			if d.IsValid(i) {
				s.used[d.GetValueIndex(i)] = true
			}
		}
	}
}

// fold folds the used entries of the current dictionary into min and max and drops it.
func (s *dictStats) fold() {
	if s.dict == nil {
		return
	}
	val, err := dictEntries(s.dict)
	if err != nil { // AppendDictionary takes string and binary dictionaries only
		panic(err)
	}
	for i, u := range s.used {
		if !u {
			continue
		}
		v := val(i)
		// Never nil: an empty value is a minimum too (a nil one would not be written).
		if !s.has || bytes.Compare(v, s.minV) < 0 {
			s.minV = append([]byte{}, v...)
		}
		if !s.has || bytes.Compare(v, s.maxV) > 0 {
			s.maxV = append([]byte{}, v...)
		}
		s.has = true
	}
	s.dict.Release()
	s.dict, s.used = nil, nil
}

// encoded folds and returns the statistics.
func (s *dictStats) encoded() metadata.EncodedStatistics {
	s.fold()
	st := metadata.EncodedStatistics{HasNullCount: true, NullCount: s.nulls}
	if s.has && statsFit(s.maxStats, s.minV, s.maxV) {
		st.HasMin, st.HasMax = true, true
		st.Min, st.Max = s.minV, s.maxV
	}
	return st
}

// NewRowGroup starts the file's next row group. props decides, for the columns fed with
// AppendArrow, dictionary encoding, statistics, page size and data page version per column (it
// may differ from the file's props given to NewWriter, e.g. parquet.WithDictionaryFor(col,
// false) or parquet.WithStatsFor(col, false) for one row group), and its allocator holds their
// buffers; codec and compression level always come from the Writer's props, and the format
// version and each column's fallback encoding must be the file's (the column chunks' metadata
// states them from the file's props). Only one row group may take appends at a time: the one
// before must be closed, aborted or sealed (RowGroup.Seal).
func (w *Writer) NewRowGroup(props *parquet.WriterProperties) (*RowGroup, error) {
	ordinal := int(w.groups) + len(w.sealed)
	switch {
	case w.closed:
		return nil, errors.New("pqfile: start a row group in a closed file")
	case w.err != nil:
		return nil, fmt.Errorf("pqfile: start a row group in an incomplete file: %w", w.err)
	case w.open != nil:
		return nil, fmt.Errorf("pqfile: start a row group while row group %d is open", w.open.ordinal)
	case ordinal >= math.MaxInt16:
		return nil, fmt.Errorf("pqfile: a file holds at most %d row groups", math.MaxInt16)
	case props.Version() != w.props.Version():
		return nil, fmt.Errorf("pqfile: row group props of format version %s in a file of version %s", props.Version(), w.props.Version())
	}
	g := &RowGroup{w: w, props: props, ordinal: int16(ordinal), sink: &groupSink{t: w.sink}, cols: make([]*rgColumn, w.schema.NumColumns())}
	for i := range g.cols {
		desc := w.schema.Column(i)
		if e, fe := props.EncodingFor(desc.Path()), w.props.EncodingFor(desc.Path()); e != fe {
			return nil, fmt.Errorf("pqfile: column %s: row group props with encoding %s in a file whose props say %s", desc.Path(), e, fe)
		}
		if codec := w.props.CompressionFor(desc.Path()); codec != compress.Codecs.Uncompressed {
			// The page writers, made when needed, compress with it.
			if _, err := compress.GetCodec(codec); err != nil {
				return nil, fmt.Errorf("pqfile: column %s: page writer: %w", desc.Path(), err)
			}
		}
		g.cols[i] = &rgColumn{desc: desc, meta: metadata.NewColumnChunkMetaDataBuilder(w.props, desc)}
	}
	w.open = g
	return g, nil
}

// pageWriter makes a page writer of column i over the row group's sink (the file, at Close):
// buffered, the pages held in memory until its Close, or not, each page written at once.
func (g *RowGroup) pageWriter(i int, buffered bool) (file.PageWriter, error) {
	path := g.cols[i].desc.Path()
	pager, err := file.NewPageWriter(g.sink, g.w.props.CompressionFor(path), g.w.props.CompressionLevelFor(path),
		g.cols[i].meta, g.ordinal, int16(i), g.props.Allocator(), buffered, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("page writer: %w", err)
	}
	return pager, nil
}

// column returns column col for an append of the given feed, or why it takes none.
func (g *RowGroup) column(col int, f feed) (*rgColumn, error) {
	switch {
	case g.done:
		return nil, fmt.Errorf("pqfile: append to row group %d, closed or aborted", g.ordinal)
	case g.err != nil:
		return nil, fmt.Errorf("pqfile: append to row group %d, which failed: %w", g.ordinal, g.err)
	case g.sealed && f == fedArrow:
		return nil, fmt.Errorf("pqfile: append Arrow arrays to row group %d, sealed", g.ordinal)
	case col < 0 || col >= len(g.cols):
		return nil, fmt.Errorf("pqfile: append to column %d of %d", col, len(g.cols))
	}
	c := g.cols[col]
	if c.feed != fedNothing && c.feed != f {
		verb := map[feed]string{fedPages: "AppendPages", fedArrow: "AppendArrow"}
		return nil, fmt.Errorf("pqfile: column %s: %s in a row group where it was fed with %s", c.desc.Path(), verb[f], verb[c.feed])
	}
	if f == fedArrow && c.cw == nil {
		// Even for a call then refused: a column fed with Arrow has its writer (Close and
		// Abort close it), over a page writer holding its pages until Close: compressed as
		// they fill (a buffered page writer), or uncompressed (held.go).
		var pager file.PageWriter
		if g.holds(col) {
			c.held = &heldPager{}
			pager = c.held
		} else {
			var err error
			if pager, err = g.pageWriter(col, true); err != nil {
				return nil, fmt.Errorf("pqfile: column %s: %w", c.desc.Path(), err)
			}
		}
		c.pager, c.cw = pager, file.NewColumnChunkWriter(c.meta, pager, g.props)
	}
	c.feed = f
	return c, nil
}

// fail records err as the reason the row group takes nothing more but Abort, and returns it.
func (g *RowGroup) fail(err error) error {
	g.err = err
	return err
}

// AppendPages adds encoded pages for col's next rows: the same meaning as Encoded's
// (compressed DataPageV1 pages, definition levels then values, each with its statistics; flat
// columns, or the leaf of a one-dimensional list, whose pages start with their repetition
// levels, begin at a record and say how many they hold: Page.Rows) and the statistics of those
// rows, which are merged with the previous calls' with the
// column's physical type and sort order (min of the minimums, max of the maximums, NULL counts
// summed; a call without statistics leaves the chunk without any, one without a NULL count
// leaves it without a NULL count, distinct counts are kept for a single call only). The row
// group keeps the Pages themselves, written to the file at Close: their Data is the row
// group's until Close or Abort, and the caller must neither modify nor reuse it (e.Pages, the
// slice, may be reused). Pages of no rows are left out (a chunk of no rows has no page).
func (g *RowGroup) AppendPages(col int, e Encoded) error {
	c, err := g.column(col, fedPages)
	if err != nil {
		return err
	}
	if c.dictArr != nil {
		return fmt.Errorf("pqfile: column %s: AppendPages to a chunk fed with AppendDictPages", c.desc.Path())
	}
	levels, rows, err := pagesRows(e.Pages, c.desc.MaxRepetitionLevel() > 0)
	if err != nil {
		return fmt.Errorf("pqfile: column %s: %w", c.desc.Path(), err)
	}
	if c.desc.PhysicalType() == parquet.Types.ByteArray {
		// Byte-wise, an empty value included (arrow-go's typed statistics drop it).
		err = c.bstats.merge(e.Stats, levels)
	} else {
		err = c.mergeStats(e.Stats, levels, g.props.Allocator())
	}
	if err != nil {
		return fmt.Errorf("pqfile: column %s: chunk statistics: %w", c.desc.Path(), err)
	}
	c.keep(e.Pages, rows)
	return nil
}

// pagesRows is the levels of pages and the rows (records) they hold: a flat column's page
// holds a row per level (its Rows 0 or its NumValues), a repeated column's page (repeated)
// states its rows, at least one when it has levels and at most its levels.
func pagesRows(pages []Page, repeated bool) (levels, rows int64, err error) {
	for i, p := range pages {
		switch {
		case p.NumValues < 0:
			return 0, 0, fmt.Errorf("page %d of %d values", i, p.NumValues)
		case !repeated && p.Rows != 0 && p.Rows != p.NumValues:
			return 0, 0, fmt.Errorf("page %d of a flat column: %d rows in %d values", i, p.Rows, p.NumValues)
		case repeated && (p.Rows > p.NumValues || p.Rows < min(p.NumValues, 1)):
			return 0, 0, fmt.Errorf("page %d of a repeated column: %d rows in %d levels", i, p.Rows, p.NumValues)
		}
		levels += int64(p.NumValues)
		if repeated {
			rows += int64(p.Rows)
		} else {
			rows += int64(p.NumValues)
		}
	}
	return levels, rows, nil
}

// keep holds pages (of rows rows), those of no rows left out.
func (c *rgColumn) keep(pages []Page, rows int64) {
	for _, p := range pages {
		if p.NumValues == 0 {
			continue
		}
		c.pages = append(c.pages, p)
		c.bytes += int64(len(p.Data)) + pageHeaderBytes(p)
	}
	c.rows += rows
}

// pageHeaderBytes estimates the size of a data page's header (thrift compact: sizes, value
// count, encodings, statistics), a little over it.
func pageHeaderBytes(p Page) int64 {
	return int64(48 + len(p.Stats.Min) + len(p.Stats.Max))
}

// AppendDictPages adds dictionary-encoded pages for col's next rows, a flat BYTE_ARRAY column
// (strings or binaries), or the leaf of a one-dimensional list of them (pages as ListColumn
// makes them): dict (a string or binary array, without NULLs: its entries in order) is
// the chunk's dictionary, the same array (or one sharing its data) in every call of the row
// group; e is as AppendPages takes it (the same ownership: its Pages' Data is the row group's
// until Close or Abort), its pages DataPageV1 pages of RLE_DICTIONARY (or PLAIN_DICTIONARY,
// the same bytes) data indexing dict, as DictColumn makes them, compressed with the file's
// codec for the column. At Close the chunk gets a dictionary page before its data pages: dict's
// entries PLAIN (each a 4-byte little-endian length then its bytes) compressed with that codec;
// the page headers and the chunk's metadata state the encodings of the file's format version,
// as arrow-go writes them (RLE_DICTIONARY data pages and a PLAIN dictionary page, but
// PLAIN_DICTIONARY both in a 1.0 file). The chunk's statistics merge the calls' byte-wise
// (min of the minimums, max of the maximums, an empty value included; NULL counts summed; as
// AppendPages for calls without statistics or NULL count): with DictColumn's pages, exactly
// the dictionary entries the indices use, whatever else dict holds. dict is retained until
// Close or Abort. A chunk of no rows has no page, not even a dictionary page.
func (g *RowGroup) AppendDictPages(col int, dict arrow.Array, e Encoded) error {
	c, err := g.column(col, fedPages)
	if err != nil {
		return err
	}
	switch {
	case c.desc.PhysicalType() != parquet.Types.ByteArray:
		return fmt.Errorf("pqfile: column %s: AppendDictPages to a column of %s, not BYTE_ARRAY", c.desc.Path(), c.desc.PhysicalType())
	case c.desc.MaxRepetitionLevel() > 1 || c.desc.MaxRepetitionLevel() == 0 && c.desc.MaxDefinitionLevel() > 1:
		return fmt.Errorf("pqfile: column %s: AppendDictPages to a nested column", c.desc.Path())
	case c.dictArr == nil && len(c.pages) > 0:
		return fmt.Errorf("pqfile: column %s: AppendDictPages to a chunk fed with AppendPages", c.desc.Path())
	case c.dictArr != nil && !sameArray(c.dictArr, dict):
		return fmt.Errorf("pqfile: column %s: AppendDictPages with another dictionary (%d entries) than the chunk's (%d): a chunk has one",
			c.desc.Path(), dict.Len(), c.dictArr.Len())
	}
	for i, p := range e.Pages {
		if p.Encoding != parquet.Encodings.RLEDict && p.Encoding != parquet.Encodings.PlainDict {
			return fmt.Errorf("pqfile: column %s: page %d of encoding %s in AppendDictPages (RLE_DICTIONARY: CPUPlain.Compress labels pages PLAIN)",
				c.desc.Path(), i, p.Encoding)
		}
	}
	levels, rows, err := pagesRows(e.Pages, c.desc.MaxRepetitionLevel() > 0)
	if err != nil {
		return fmt.Errorf("pqfile: column %s: %w", c.desc.Path(), err)
	}
	if c.dictArr == nil {
		page, err := plainDictionary(dict)
		if err != nil {
			return fmt.Errorf("pqfile: column %s: dictionary page: %w", c.desc.Path(), err)
		}
		dict.Retain()
		c.dictArr, c.dictPage = dict, page
		c.bytes += int64(len(page)) + 16
	}
	if err := c.bstats.merge(e.Stats, levels); err != nil {
		return fmt.Errorf("pqfile: column %s: chunk statistics: %w", c.desc.Path(), err)
	}
	c.keep(e.Pages, rows)
	return nil
}

// mergeStats merges the statistics of a call's rows into the chunk's (rows: the call's
// levels, values and NULLs).
func (c *rgColumn) mergeStats(e metadata.EncodedStatistics, rows int64, mem memory.Allocator) error {
	c.calls++
	if c.calls == 1 {
		c.distinct = e
	}
	if !e.IsSet() {
		c.noStats = true
		return nil
	}
	if e.HasMin != e.HasMax {
		return fmt.Errorf("a minimum without a maximum or the reverse (min %t, max %t)", e.HasMin, e.HasMax)
	}
	values := rows
	if e.HasNullCount {
		if e.NullCount < 0 || e.NullCount > rows {
			return fmt.Errorf("%d NULLs in %d rows", e.NullCount, rows)
		}
		values -= e.NullCount
	} else {
		c.nullsUnknown = true
	}
	if !e.HasMin && values > 0 && c.desc.PhysicalType() == parquet.Types.FixedLenByteArray {
		// Values whose extremes were too long to keep (MaxStatsSizeFor): the chunk has no min
		// and max, as for BYTE_ARRAY (byteStats). Floats keep arrow-go's rule: a call of NaNs
		// alone has no min and max and the others' stand.
		c.noMinMax = true
	}
	s := metadata.NewStatisticsFromEncoded(c.desc, mem, values, encodedStats{e})
	if e.HasMin && !s.HasMinMax() {
		return fmt.Errorf("min %x and max %x are not %s values", e.Min, e.Max, c.desc.PhysicalType())
	}
	if c.stats == nil {
		c.stats = s
	} else {
		c.stats.Merge(s)
	}
	return nil
}

// chunkStats is the chunk's statistics as merged, for its metadata.
func (c *rgColumn) chunkStats() (metadata.EncodedStatistics, error) {
	if c.noStats || c.stats == nil {
		return metadata.EncodedStatistics{}, nil
	}
	enc, err := c.stats.Encode()
	if err != nil {
		return metadata.EncodedStatistics{}, err
	}
	if c.nullsUnknown {
		enc.HasNullCount, enc.NullCount = false, 0
	}
	if c.noMinMax {
		enc.HasMin, enc.HasMax, enc.Min, enc.Max = false, false, nil, nil
	}
	// Distinct counts do not add up: a chunk has one only from a single call.
	enc.HasDistinctCount, enc.DistinctCount = false, 0
	if c.calls == 1 && c.distinct.HasDistinctCount {
		enc.SetDistinctCount(c.distinct.DistinctCount)
	}
	enc.Signed = c.desc.SortOrder() == schema.SortSIGNED
	return enc, nil
}

// encodedStats is EncodedStatistics as arrow-go's StatProvider.
type encodedStats struct{ e metadata.EncodedStatistics }

func (s encodedStats) GetMin() []byte           { return s.e.Min }
func (s encodedStats) GetMax() []byte           { return s.e.Max }
func (s encodedStats) GetNullCount() int64      { return s.e.NullCount }
func (s encodedStats) GetDistinctCount() int64  { return s.e.DistinctCount }
func (s encodedStats) IsSetMax() bool           { return s.e.HasMax }
func (s encodedStats) IsSetMin() bool           { return s.e.HasMin }
func (s encodedStats) IsSetNullCount() bool     { return s.e.HasNullCount }
func (s encodedStats) IsSetDistinctCount() bool { return s.e.HasDistinctCount }

// AppendArrow has arrow-go encode a's values, and definition levels, as col's next rows (flat
// columns only: no lists or structs), through a column writer that stays open across the row
// group's calls: its pages are compressed as they fill and held in memory until Close, page
// and chunk statistics are computed over the rows. a may be a *array.Dictionary of the column's
// type: with dictionary encoding on for the column, its dictionary (the same array, or an equal
// one, in every call of the row group) becomes the chunk's dictionary page and its indices the
// data pages; a dictionary that differs from the first call's makes arrow-go fall back to plain
// encoding for the rest of the chunk. a is not retained: the caller may release it when
// AppendArrow returns. The columns of nested fields are fed with AppendField.
func (g *RowGroup) AppendArrow(ctx context.Context, col int, a arrow.Array) error {
	c, err := g.column(col, fedArrow)
	if err != nil {
		return err
	}
	if c.desc.MaxRepetitionLevel() > 0 || c.desc.MaxDefinitionLevel() > 1 {
		return fmt.Errorf("pqfile: column %s: only flat columns are written from Arrow arrays", c.desc.Path())
	}
	if d, ok := a.(*array.Dictionary); ok && g.props.StatisticsEnabledFor(c.desc.Path()) {
		// arrow-go's statistics of dictionary arrays are not exact (v18.8.0: they leave out
		// empty strings, and cover the whole dictionary when the indices reference all its
		// entries but one and hold a NULL, or when the dictionary is the very array of the
		// first call): the values go to arrow-go dense, which it dictionary-encodes again
		// (one dictionary page of the values met, in their order) with exact statistics.
		dense, err := compute.TakeArray(compute.WithAllocator(ctx, g.props.Allocator()), d.Dictionary(), d.Indices())
		if err != nil {
			return fmt.Errorf("pqfile: column %s: decode %d rows of %s: %w", c.desc.Path(), a.Len(), a.DataType(), err)
		}
		dense = withValueBuffer(dense)
		defer dense.Release()
		a = dense
	}
	var def []int16
	nullable := c.desc.MaxDefinitionLevel() > 0
	if nullable {
		def = make([]int16, a.Len())
		for i := range def {
			if a.IsValid(i) {
				def[i] = 1
			}
		}
	} else if a.NullN() > 0 {
		return fmt.Errorf("pqfile: column %s: %d NULLs in a required column", c.desc.Path(), a.NullN())
	}
	if err := pqarrow.WriteArrowToColumn(pqarrow.NewArrowWriteContext(ctx, nil), c.cw, a, def, nil, nullable); err != nil {
		return g.fail(fmt.Errorf("pqfile: column %s: encode %d rows of %s: %w", c.desc.Path(), a.Len(), a.DataType(), err))
	}
	c.rows += int64(a.Len())
	return nil
}

// AppendDictionary is AppendArrow for a string or binary column fed as dictionary arrays
// (dictionary encoding on for the column): arrow-go writes the dictionary page and the indices
// as they are, hashing no value, and the chunk's statistics are computed here, exactly, from
// the dictionary entries the indices use (arrow-go's own, which are not exact for dictionary
// arrays, must be off for the column in the row group's props; its data pages then carry no
// statistics). With arrow-go's statistics on for the column, it is AppendArrow.
func (g *RowGroup) AppendDictionary(ctx context.Context, col int, d *array.Dictionary) error {
	c, err := g.column(col, fedArrow)
	if err != nil {
		return err
	}
	if g.props.StatisticsEnabledFor(c.desc.Path()) {
		return g.AppendArrow(ctx, col, d)
	}
	switch d.Dictionary().DataType().ID() {
	case arrow.STRING, arrow.BINARY, arrow.EXTENSION:
	default:
		return fmt.Errorf("pqfile: column %s: AppendDictionary of %s", c.desc.Path(), d.DataType())
	}
	if c.dict == nil {
		if c.rows > 0 {
			return fmt.Errorf("pqfile: column %s: AppendDictionary after AppendArrow in one row group", c.desc.Path())
		}
		c.dict = &dictStats{maxStats: int(g.props.MaxStatsSizeFor(c.desc.Path()))}
	}
	if err := g.AppendArrow(ctx, col, d); err != nil {
		return err
	}
	c.dict.add(d)
	return nil
}

// Rows is the number of rows appended so far: the most any column holds (every column holds
// as many once each was fed the same batches).
func (g *RowGroup) Rows() int64 {
	rows := int64(0)
	for _, c := range g.cols {
		rows = max(rows, c.rows)
	}
	return rows
}

// Bytes is an estimate of the bytes this row group will add to the file, for the caller's
// row group and file size limits: the compressed pages held, with their headers (estimated for
// the pages appended), the dictionaries of AppendDictPages (uncompressed), and for each column
// fed with AppendArrow the page being filled and the dictionary not yet written (their encoded
// sizes, before compression, without the headers they will have), and the pages it holds
// uncompressed (held.go) at that size.
func (g *RowGroup) Bytes() int64 {
	total := int64(0)
	for _, c := range g.cols {
		total += c.bytes
		if c.cw == nil {
			continue
		}
		if c.held != nil {
			total += c.held.bytes()
		}
		if c.cwClosed { // sealed: what it held is all in its page writer
			continue
		}
		total += c.cw.TotalBytesWritten()
		if e, ok := c.cw.(interface{ EstimatedBufferedValueBytes() int64 }); ok {
			total += e.EstimatedBufferedValueBytes()
		}
		if d, ok := c.cw.CurrentEncoder().(interface{ DictEncodedSize() int }); ok {
			total += int64(d.DictEncodedSize())
		}
	}
	return total
}

// Close writes every column's chunk, in schema order, to the file, and the row group's metadata
// (row count, sizes, each chunk's offsets, encodings, statistics); the Writer may then start
// another row group. Row groups close in order: a sealed one after those sealed before it, the
// one taking appends after every sealed one. When the columns hold different row counts it
// fails, naming a column, writes nothing and leaves the row group open (Abort it). A failure
// while writing leaves the file incomplete: the row group is released and the Writer refuses
// everything after.
func (g *RowGroup) Close() error {
	if g.done {
		return fmt.Errorf("pqfile: close row group %d, already closed or aborted", g.ordinal)
	}
	if g.err != nil {
		return fmt.Errorf("pqfile: close row group %d, which failed: %w", g.ordinal, g.err)
	}
	if first := g.w.firstOpen(); first != g {
		return fmt.Errorf("pqfile: close row group %d before row group %d", g.ordinal, first.ordinal)
	}
	rows := int64(0)
	if len(g.cols) > 0 {
		rows = g.cols[0].rows
	}
	for _, c := range g.cols {
		if c.rows != rows {
			return fmt.Errorf("pqfile: close row group %d: column %s holds %d rows, column %s %d",
				g.ordinal, c.desc.Path(), c.rows, g.cols[0].desc.Path(), rows)
		}
	}
	g.done = true
	g.w.forget(g)
	if err := g.write(rows); err != nil {
		g.w.err = err
		return err
	}
	g.w.groups++
	return nil
}

// write writes the row group's column chunks to the file and its metadata to the file's. The
// columns that hold their pages (held.go) first finish them, and what they hold uncompressed
// is compressed in one call.
func (g *RowGroup) write(rows int64) error {
	start := g.w.sink.n
	if err := g.closeHeldWriters(); err != nil {
		g.sink.discard = true
		for k := range g.cols {
			err = errors.Join(err, g.closeColumn(k))
		}
		return fmt.Errorf("pqfile: write row group %d: %w", g.ordinal, err)
	}
	g.compress(nil)
	for i, c := range g.cols {
		if err := g.closeColumn(i); err != nil {
			// Release the columns not written.
			g.sink.discard = true
			for k := range g.cols[i+1:] {
				err = errors.Join(err, g.closeColumn(i+1+k))
			}
			return fmt.Errorf("pqfile: write row group %d: column %s: %w", g.ordinal, c.desc.Path(), err)
		}
	}
	rg := g.w.meta.AppendRowGroup()
	for _, c := range g.cols {
		src := c.meta.Contents()
		dst := rg.NextColumnChunk()
		// Finish records the chunk's offset in the builder, for the row group's own offset;
		// the contents are then the chunk's as its page writer finished them.
		info := metadata.ChunkMetaInfo{DictPageOffset: src.MetaData.GetDictionaryPageOffset(), IndexPageOffset: -1,
			DataPageOffset: src.MetaData.GetDataPageOffset()}
		if err := dst.Finish(info, false, false, metadata.EncodingStats{}); err != nil {
			return fmt.Errorf("pqfile: row group %d: column %s metadata: %w", g.ordinal, c.desc.Path(), err)
		}
		*dst.Contents() = *src
	}
	rg.SetNumRows(int(rows))
	if err := rg.Finish(g.w.sink.n-start, g.ordinal); err != nil {
		return fmt.Errorf("pqfile: finish row group %d: %w", g.ordinal, err)
	}
	return nil
}

// closeColumn ends column i's chunk: its pages, with the dictionary page first, and its
// metadata go to the row group's sink (the file; nowhere once discarding, and the pages
// appended are then dropped unwritten), and its buffers are released.
func (g *RowGroup) closeColumn(i int) error {
	c := g.cols[i]
	if c.feed == fedPages {
		return g.closePages(i)
	}
	if c.pager == nil { // fed nothing: a chunk of no page
		pager, err := g.pageWriter(i, true)
		if err != nil {
			return err
		}
		c.pager = pager
	}
	switch c.feed {
	case fedArrow:
		if c.dict != nil {
			defer c.dict.fold() // releases the dictionary on every path
		}
		if err := c.closeWriter(); err != nil {
			return err
		}
		if c.held != nil {
			if err := g.writeHeld(i); err != nil {
				return err
			}
		}
		if c.dict != nil {
			// The chunk's metadata is complete once its writer closed; its statistics are
			// those of the dictionary entries used.
			stats := c.dict.encoded()
			stats.Signed = false
			if md := c.meta.Contents().MetaData; md != nil {
				md.Statistics = stats.ToThrift()
			}
		}
		return nil
	}
	return c.pager.Close(false, false)
}

// closeWriter closes the column's arrow-go writer, once: its last pages go to its page
// writer, which then closes (a held column's records only what the chunk's metadata will say).
func (c *rgColumn) closeWriter() error {
	if c.cwClosed {
		return nil
	}
	c.cwClosed = true
	if c.rows == 0 {
		// arrow-go would write an empty dictionary page; fallen back to plain before a
		// page, it drops the dictionary, and the chunk has no page, as one fed nothing.
		if err := fallBackToPlain(c.cw); err != nil {
			return errors.Join(err, c.cw.Close())
		}
	}
	return c.cw.Close()
}

// closePages ends column i's chunk fed with pages: its dictionary page (AppendDictPages) and
// its pages are written at once through an unbuffered page writer, each page's header then its
// bytes (the chunk of no page has a buffered one, which holds nothing but sets the chunk's
// offsets as for a column fed nothing). Discarding, nothing is written. The pages and the
// dictionary are released in every case.
func (g *RowGroup) closePages(i int) error {
	c := g.cols[i]
	pages, dictArr, dictPage := c.pages, c.dictArr, c.dictPage
	c.pages, c.dictArr, c.dictPage = nil, nil, nil
	if dictArr != nil {
		defer dictArr.Release()
	}
	if g.sink.discard {
		return nil
	}
	var stats metadata.EncodedStatistics
	if dictArr != nil || c.desc.PhysicalType() == parquet.Types.ByteArray {
		stats = c.bstats.encoded()
	} else {
		var err error
		if stats, err = c.chunkStats(); err != nil {
			return fmt.Errorf("chunk statistics: %w", err)
		}
	}
	signed := c.desc.SortOrder() == schema.SortSIGNED
	if stats.IsSet() {
		stats.Signed = signed
		c.meta.SetStats(stats)
	}
	for k := range pages {
		pages[k].Stats.Signed = signed
		if dictArr != nil {
			pages[k].Encoding = g.w.props.DictionaryIndexEncoding()
		}
	}
	var dp *file.DictionaryPage
	hasDict := dictArr != nil && len(pages) > 0
	if hasDict {
		dp = file.NewDictionaryPage(memory.NewBufferBytes(dictPage), int32(dictArr.Len()), g.w.props.DictionaryPageEncoding())
	}
	return g.writeChunk(i, dp, pages, hasDict, false)
}

// writeChunk writes column i's chunk through a page writer over the row group's sink: dict, if
// not nil, first (compressed by that writer; released, written or not), then pages as they are (compressed), each after
// its header, then the chunk's metadata, stating a dictionary (hasDict) and a fallback from it
// as arrow-go's column writer states them. A chunk of no page gets a buffered page writer,
// which writes nothing but sets the chunk's offsets as for a column fed nothing.
func (g *RowGroup) writeChunk(i int, dict *file.DictionaryPage, pages []Page, hasDict, fallback bool) error {
	if dict != nil {
		defer dict.Release() // written or not
	}
	pager, err := g.pageWriter(i, len(pages) == 0)
	if err != nil {
		return err
	}
	if dict != nil {
		if _, err := pager.WriteDictionaryPage(dict); err != nil {
			return fmt.Errorf("dictionary page: %w", err)
		}
	}
	for k, p := range pages {
		page := file.NewDataPageV1WithStats(memory.NewBufferBytes(p.Data), p.NumValues, p.Encoding,
			parquet.Encodings.RLE, parquet.Encodings.RLE, p.UncompressedSize, p.Stats)
		_, err := pager.WriteDataPage(page)
		page.Release()
		if err != nil {
			return fmt.Errorf("page %d: %w", k, err)
		}
	}
	return pager.Close(hasDict, fallback)
}

// fallBackToPlain has cw fall back to plain encoding: arrow-go reports its failures by panics.
func fallBackToPlain(cw file.ColumnChunkWriter) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("fall back to plain encoding: %v", r)
		}
	}()
	cw.FallbackToPlain()
	return nil
}

// Abort releases the row group without writing anything of it: the Writer may then start
// another row group, or be closed. Abort after Close, or a second Abort, does nothing. Aborting
// a sealed row group while a later one is open or sealed leaves the file incomplete (the later
// ones were numbered after it).
func (g *RowGroup) Abort() error {
	if g.done {
		return nil
	}
	g.done = true
	if g.sealed && (g.w.open != nil || g.w.sealed[len(g.w.sealed)-1] != g) {
		g.w.err = fmt.Errorf("row group %d was aborted after later ones started", g.ordinal)
	}
	g.w.forget(g)
	g.sink.discard = true
	var errs []error
	for i, c := range g.cols {
		if err := g.closeColumn(i); err != nil {
			errs = append(errs, fmt.Errorf("column %s: %w", c.desc.Path(), err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("pqfile: abort row group %d: %w", g.ordinal, err)
	}
	return nil
}

// groupSink is where a row group's page writers write their chunks at Close: the file, whose
// position they read with Tell to fix the chunks' offsets, or nowhere once discarding.
type groupSink struct {
	t       *tellWriter
	discard bool
}

func (s *groupSink) Write(p []byte) (int, error) {
	if s.discard {
		return len(p), nil
	}
	return s.t.Write(p)
}

func (s *groupSink) Tell() int64 { return s.t.n }

// withValueBuffer returns a (released) as an array whose value buffer is not nil, when a is a
// string or binary array without one (a Take of only empty values): arrow-go (v18.8) reads
// such values as nil byte slices, which its statistics skip, so a chunk's minimum would miss
// the empty string. Other arrays are returned as they are.
func withValueBuffer(a arrow.Array) arrow.Array {
	switch a.DataType().ID() {
	case arrow.STRING, arrow.BINARY:
	default:
		return a
	}
	bufs := a.Data().Buffers()
	if len(bufs) < 3 || (bufs[2] != nil && bufs[2].Bytes() != nil) {
		return a
	}
	nb := []*memory.Buffer{bufs[0], bufs[1], memory.NewBufferBytes(make([]byte, 0, 1))}
	data := array.NewData(a.DataType(), a.Len(), nb, nil, a.NullN(), a.Data().Offset())
	defer data.Release()
	a.Release()
	return array.MakeFromData(data)
}

// firstOpen is the row group that closes next: the oldest sealed one, else the one taking
// appends (nil: none).
func (w *Writer) firstOpen() *RowGroup {
	if len(w.sealed) > 0 {
		return w.sealed[0]
	}
	return w.open
}

// forget drops g, closed or aborted, from the row groups open.
func (w *Writer) forget(g *RowGroup) {
	if w.open == g {
		w.open = nil
	}
	if i := slices.Index(w.sealed, g); i >= 0 {
		w.sealed = slices.Delete(w.sealed, i, i+1)
	}
}
