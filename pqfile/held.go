package pqfile

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// PageCompressor compresses pages several at a time: CPUPlain, whose codec (the device's GPU
// zstd) may compress the pages of one call in one batch. Compress has CPUPlain.Compress's
// contract.
type PageCompressor interface {
	Compress(raw [][]RawPage) [][]Page
}

// Columns fed with Arrow through a Writer that has a PageCompressor (WriterOptions.Compressor)
// hold their pages: arrow-go's column writer encodes each page and hands it, uncompressed, to
// a heldPager rather than compressing it itself, one page at a time, as it fills. The pages
// held are compressed together, with the caller's own pages, by RowGroup.CompressAsync (or
// Compress), and what is left at Close in one more call: a codec that sends pages to the GPU
// in batches then sees a row group's pages in a few calls rather than one call, and one wait,
// per page, and the caller need not wait for them before it goes on.

// Compression is a compression under way (RowGroup.CompressAsync): a goroutine runs the
// Writer's compressor over the caller's pages and the row group's. Wait and Done may be called
// from any goroutine.
type Compression struct {
	done chan struct{}
	out  [][]Page // set before done is closed
	n    int      // the caller's groups, first in out
}

// Done says whether the compression ended (Wait then returns at once).
func (c *Compression) Done() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// Wait waits for the compression and returns the caller's pages compressed, grouped as it gave
// them (PageCompressor's contract).
func (c *Compression) Wait() [][]Page {
	<-c.done
	return c.out[:c.n]
}

// heldPager is the file.PageWriter of a column whose pages are held: it keeps arrow-go's data
// pages (uncompressed, copied: arrow-go reuses its buffers) and dictionary page until the row
// group compresses and writes them (RowGroup.writeHeld). Used by the row group's goroutine.
type heldPager struct {
	// PageWriter is nil: it only lends heldPager Reset, whose signature names a type internal
	// to arrow-go, and which arrow-go's column writer never calls.
	file.PageWriter

	pending      []RawPage // uncompressed, in arrow-go's order; Data holds levels and values
	pendingBytes int64
	segs         []heldSeg // the pages given to compression, in order, before pending
	doneBytes    int64     // of the segments compressed, with their headers' estimate
	flightBytes  int64     // of the segments under way, uncompressed
	dict         []byte    // the dictionary page's PLAIN entries (uncompressed), if written
	dictValues   int32
	dictEncoding parquet.Encoding
	hasDict      bool // Close's arguments, for the chunk's metadata
	fallback     bool
	closed       bool
}

// heldSeg is pages of a held column given to one compression: its group k of c's output, or
// once known (c nil) the pages themselves.
type heldSeg struct {
	c     *Compression
	k     int
	raw   int64 // uncompressed bytes, while under way
	pages []Page
}

// resolve takes the pages of the compressions that ended (all: waits for them).
func (h *heldPager) resolve(all bool) {
	for i := range h.segs {
		s := &h.segs[i]
		if s.c == nil || (!all && !s.c.Done()) {
			continue
		}
		<-s.c.done
		s.pages = s.c.out[s.k]
		for _, p := range s.pages {
			h.doneBytes += int64(len(p.Data)) + pageHeaderBytes(p)
		}
		h.flightBytes -= s.raw
		s.c = nil
	}
}

var _ file.PageWriter = (*heldPager)(nil)

// holds says whether a column of path, in a row group of props, holds its pages: the Writer
// has a compressor, the column a codec, and arrow-go's pages are DataPageV1 without page
// indexes (whose offsets the page writer records as it writes).
func (g *RowGroup) holds(col int) bool {
	path := g.cols[col].desc.Path()
	return g.w.compressor != nil && g.w.props.CompressionFor(path) != compress.Codecs.Uncompressed &&
		g.props.DataPageVersion() == parquet.DataPageV1 && !g.props.PageIndexEnabledFor(path)
}

// WriteDataPage keeps a copy of page, a DataPageV1, uncompressed. It reports no bytes written:
// the row group counts the held pages itself (RowGroup.Bytes).
func (h *heldPager) WriteDataPage(page file.DataPage) (int64, error) {
	if h.closed {
		return 0, errors.New("pqfile: a data page after its column's page writer closed")
	}
	if _, ok := page.(*file.DataPageV1); !ok {
		return 0, fmt.Errorf("pqfile: a held column takes DataPageV1 pages, not %T", page)
	}
	data := bytes.Clone(page.Data())
	if data == nil {
		data = []byte{}
	}
	h.pending = append(h.pending, RawPage{Data: data, NumValues: page.NumValues(), Stats: page.Statistics(),
		Encoding: parquet.Encoding(page.Encoding())})
	h.pendingBytes += int64(len(data))
	return 0, nil
}

// WriteDictionaryPage keeps a copy of the dictionary page: it is compressed when written, by
// the page writer over the file (one per chunk).
func (h *heldPager) WriteDictionaryPage(page *file.DictionaryPage) (int64, error) {
	if h.closed {
		return 0, errors.New("pqfile: a dictionary page after its column's page writer closed")
	}
	if h.dict != nil {
		return 0, errors.New("pqfile: a second dictionary page in a column chunk")
	}
	h.dict = bytes.Clone(page.Data())
	if h.dict == nil {
		h.dict = []byte{}
	}
	h.dictValues, h.dictEncoding = page.NumValues(), parquet.Encoding(page.Encoding())
	return 0, nil
}

// Close records what the column writer says of the chunk's encodings.
func (h *heldPager) Close(hasDict, fallback bool) error {
	if !h.closed {
		h.closed, h.hasDict, h.fallback = true, hasDict, fallback
	}
	return nil
}

// HasCompressor is false: arrow-go then hands pages over uncompressed.
func (h *heldPager) HasCompressor() bool { return false }

// Compress is not called (HasCompressor is false); it returns src.
func (h *heldPager) Compress(_ *bytes.Buffer, src []byte) []byte { return src }

// SetIndexBuilders is not used: held columns have no page index (RowGroup.holds).
func (h *heldPager) SetIndexBuilders(metadata.ColumnIndexBuilder, *metadata.OffsetIndexBuilder) {}

// bytes is what the held pages will add to the file: the compressed ones with their headers'
// estimate, the others uncompressed (those under way too), and the dictionary page
// uncompressed.
func (h *heldPager) bytes() int64 {
	h.resolve(false)
	return h.doneBytes + h.flightBytes + h.pendingBytes + int64(len(h.dict))
}

// HeldBytes is the size of the pages the row group holds uncompressed (the columns fed with
// Arrow, with a Writer that has a compressor): the caller compresses them with its own
// (Compress) when it would rather not hold more.
func (g *RowGroup) HeldBytes() int64 {
	n := int64(0)
	for _, c := range g.cols {
		if c.held != nil {
			n += c.held.pendingBytes
		}
	}
	return n
}

// Compress compresses raw, pages of the caller grouped as it likes, together with the pages
// the row group holds uncompressed, in one call of the Writer's compressor, and returns raw's
// compressed, grouped alike (PageCompressor's contract: raw's bytes are not retained). The row
// group keeps its own, compressed, until Close. It fails when the Writer has no compressor.
func (g *RowGroup) Compress(raw [][]RawPage) ([][]Page, error) {
	c, err := g.CompressAsync(raw)
	if err != nil {
		return nil, err
	}
	return c.Wait(), nil
}

// CompressAsync is Compress without waiting: the compression runs on a goroutine of its own,
// and the caller gets raw's pages compressed from the Compression it returns. raw's bytes are
// the compression's until it is done: the caller must not modify nor reuse them before. The
// row group's own pages are its: Close waits for them (Abort does not).
func (g *RowGroup) CompressAsync(raw [][]RawPage) (*Compression, error) {
	if g.w.compressor == nil {
		return nil, errors.New("pqfile: Compress on a row group whose Writer has no compressor")
	}
	if g.done {
		return nil, fmt.Errorf("pqfile: compress pages in row group %d, closed or aborted", g.ordinal)
	}
	return g.compress(raw), nil
}

// compress is CompressAsync, the row group open.
func (g *RowGroup) compress(raw [][]RawPage) *Compression {
	c := &Compression{done: make(chan struct{}), n: len(raw)}
	groups := raw
	for _, col := range g.cols {
		h := col.held
		if h == nil || len(h.pending) == 0 {
			continue
		}
		if len(groups) == len(raw) {
			groups = append(make([][]RawPage, 0, len(raw)+len(g.cols)), raw...)
		}
		h.segs = append(h.segs, heldSeg{c: c, k: len(groups), raw: h.pendingBytes})
		h.flightBytes += h.pendingBytes
		groups = append(groups, h.pending)
		h.pending, h.pendingBytes = nil, 0
	}
	if len(groups) == 0 {
		close(c.done)
		return c
	}
	go func(comp PageCompressor) {
		c.out = comp.Compress(groups)
		close(c.done)
	}(g.w.compressor)
	return c
}

// writeHeld writes the chunk of column i, a held column whose writer closed and whose pages
// were all compressed, through a page writer over the row group's sink: the dictionary page
// (compressed by that writer), then the data pages as compressed, then the chunk's metadata.
// Discarding, it drops them.
func (g *RowGroup) writeHeld(i int) error {
	c := g.cols[i]
	h := c.held
	if g.sink.discard {
		h.segs, h.dict, h.pending = nil, nil, nil
		return nil
	}
	h.resolve(true)
	var done []Page
	for _, s := range h.segs {
		done = append(done, s.pages...)
	}
	dict, left := h.dict, len(h.pending)
	h.segs, h.dict, h.pending = nil, nil, nil
	if left > 0 {
		return fmt.Errorf("pqfile: %d pages of the chunk were not compressed", left)
	}
	var dp *file.DictionaryPage
	if dict != nil {
		dp = file.NewDictionaryPage(memory.NewBufferBytes(dict), h.dictValues, h.dictEncoding)
	}
	return g.writeChunk(i, dp, done, h.hasDict, h.fallback)
}

// Seal ends the appends of Arrow arrays to the row group: the columns fed with Arrow finish
// their chunks, so that the pages they hold (their last ones, and those of dictionary-encoded
// chunks, which arrow-go keeps until then) are compressed by the next Compress rather than by
// Close, in a call of its own. The row group still takes encoded pages (AppendPages,
// AppendDictPages), Compress, Close and Abort, and the Writer the next row group
// (NewRowGroup) before this one closes: the caller may land its pages while it fills the next.
// A failure leaves the row group taking only Abort. Sealing twice does nothing.
func (g *RowGroup) Seal() error {
	switch {
	case g.done:
		return fmt.Errorf("pqfile: seal row group %d, closed or aborted", g.ordinal)
	case g.err != nil:
		return fmt.Errorf("pqfile: seal row group %d, which failed: %w", g.ordinal, g.err)
	case g.sealed:
		return nil
	}
	g.sealed = true
	if g.w.open == g {
		g.w.open = nil
		g.w.sealed = append(g.w.sealed, g)
	}
	if err := g.closeHeldWriters(); err != nil {
		return g.fail(fmt.Errorf("pqfile: %w", err))
	}
	return nil
}

// closeHeldWriters closes the arrow-go writers of the columns that hold their pages (each
// once: closeWriter), which hand over their last pages; it stops at the first that fails.
func (g *RowGroup) closeHeldWriters() error {
	for _, c := range g.cols {
		if c.held == nil {
			continue
		}
		if err := c.closeWriter(); err != nil {
			return fmt.Errorf("column %s: %w", c.desc.Path(), err)
		}
	}
	return nil
}
