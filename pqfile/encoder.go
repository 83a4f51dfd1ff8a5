package pqfile

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// PlainEncoder encodes batches of fixed-width columns (EncodesPlain) into fragments of data
// pages: the GPU writer's device.PageEncoder, or CPUPlain. Implementations are safe for
// concurrent use.
type PlainEncoder interface {
	// Append appends the fragment of each of cols (a batch's columns, of equal length) to
	// dst[i]; on error nothing was appended.
	Append(cols []arrow.Array, dst []*PlainColumn) error
}

// EncodesPlain says whether PlainPages (and so a PlainEncoder) encodes a column of Arrow type
// t: the fixed-width types whose PLAIN form is their Arrow bytes (int16 widened to INT32), and
// decimal128 (big-endian, in its precision's FIXED_LEN_BYTE_ARRAY size).
func EncodesPlain(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT16, arrow.INT32, arrow.INT64, arrow.FLOAT32, arrow.FLOAT64, arrow.DATE32, arrow.TIME64, arrow.TIMESTAMP,
		arrow.DECIMAL128:
		return true
	}
	return false
}

// CPUPlain is the CPU twin of the GPU writer's encoder (PlainFragment), and the compressor of
// the pages PlainColumn makes, with the codec registered for the file's compression (which
// may itself send them to the GPU) at the file's compression level.
type CPUPlain struct {
	codec compress.Codec
	level int  // compress.DefaultCompressionLevel: the codec's default
	plain bool // no compression: a page is its bytes, copied
}

// NewCPUPlain returns the CPU twin for compression c at its default level.
func NewCPUPlain(c compress.Compression) (*CPUPlain, error) {
	return NewCPUPlainLevel(c, compress.DefaultCompressionLevel)
}

// NewCPUPlainLevel returns the CPU twin for compression c at level (as the codec takes it:
// 1 to 22 for zstd, 1 to 9 for gzip, 0 to 11 for brotli; ignored by the codecs without levels;
// compress.DefaultCompressionLevel for the codec's default).
func NewCPUPlainLevel(c compress.Compression, level int) (*CPUPlain, error) {
	codec, err := compress.GetCodec(c)
	if err != nil {
		return nil, fmt.Errorf("pqfile: codec %s: %w", c, err)
	}
	return &CPUPlain{codec: codec, level: level, plain: c == compress.Codecs.Uncompressed}, nil
}

// Append implements PlainEncoder with PlainFragment.
func (c *CPUPlain) Append(cols []arrow.Array, dst []*PlainColumn) error {
	type frag struct {
		values []byte
		stats  metadata.EncodedStatistics
	}
	frags := make([]frag, len(cols))
	for i, a := range cols {
		values, stats, err := PlainFragment(a)
		if err != nil {
			return err
		}
		frags[i] = frag{values, stats}
	}
	for i, a := range cols {
		var valid []byte
		if a.NullN() > 0 {
			valid = a.NullBitmapBytes()
		}
		if err := dst[i].Append(frags[i].values, valid, a.Data().Offset(), a.Len(), frags[i].stats); err != nil {
			return err
		}
	}
	return nil
}

// Compress compresses raw pages (each page's bytes its Levels then its Data, of its Encoding),
// grouped as the caller likes (by column), into Pages grouped alike. The Pages' Data are
// buffers of their own: raw's bytes are not retained, and the caller may reuse them once
// Compress returns (PlainColumn.Recycle). The pages are compressed at once, each on a goroutine
// of its own: a codec that batches pages on the GPU sees them together rather than one after
// the other.
func (c *CPUPlain) Compress(raw [][]RawPage) [][]Page {
	out := make([][]Page, len(raw))
	var wg sync.WaitGroup
	for i, group := range raw {
		out[i] = make([]Page, len(group))
		for j, r := range group {
			out[i][j] = Page{UncompressedSize: int32(r.Len()), NumValues: r.NumValues, Rows: r.Rows, Encoding: r.Encoding, Stats: r.Stats}
			wg.Add(1)
			go func(p *Page) {
				defer wg.Done()
				p.Data = c.encode(r)
			}(&out[i][j])
		}
	}
	wg.Wait()
	return out
}

// encode compresses r's bytes (Levels, Data, then Parts) into a new buffer of their compressed
// size. The device's codec (largeFrames) gathers the parts itself and sizes its output;
// arrow-go's codecs take one slice, so a page in several buffers is first joined in a scratch
// buffer (measured cheaper than the codecs' streaming writers, which make an encoder per page),
// and compressed into another of the codec's bound, then copied out at its size (rather than
// grown as the codec appends, and kept at that capacity by the row group). Without compression
// the page is its bytes, joined in a buffer of their own.
func (c *CPUPlain) encode(r RawPage) []byte {
	if c.plain {
		return r.AppendTo(make([]byte, 0, r.Len()))
	}
	if lf, ok := c.codec.(largeFrames); ok && c.level == compress.DefaultCompressionLevel {
		encode := lf.EncodeLargeFrames
		if r.FixedWidth {
			encode = lf.EncodeFixedWidthFrames
		}
		if len(r.Parts) == 0 {
			return encode(nil, r.Levels, r.Data)
		}
		return encode(nil, append([][]byte{r.Levels, r.Data}, r.Parts...)...)
	}
	src := r.Data
	var join *[]byte
	if len(r.Levels) > 0 || len(r.Parts) > 0 {
		join = scratchPool.Get().(*[]byte)
		*join = r.AppendTo((*join)[:0])
		src = *join
	}
	out := scratchPool.Get().(*[]byte)
	if bound := int(c.codec.CompressBound(int64(max(len(src), 1)))); cap(*out) < bound {
		*out = make([]byte, bound)
	}
	// The full length: some codecs (snappy) write into dst only when its length holds the bound.
	// At compress.DefaultCompressionLevel, EncodeLevel is each codec's Encode.
	z := c.codec.EncodeLevel((*out)[:cap(*out)], src, c.level)
	if cap(z) > 0 && &z[:1][0] == &(*out)[:1][0] {
		z = bytes.Clone(z) // in the scratch buffer: copied out
	}
	scratchPool.Put(out)
	if join != nil {
		scratchPool.Put(join)
	}
	return z
}

// scratchPool holds the scratch buffers of encode (joined pages, compressed pages), each used
// by one goroutine at a time.
var scratchPool = sync.Pool{New: func() any { return new([]byte) }}

// largeFrames is a codec that compresses a page better when told that several pages are
// compressed at once (the device's GPU zstd: larger frames). EncodeLargeFrames compresses the
// concatenation of parts (a page's levels and values, not joined first) into dst's storage (a
// new buffer when dst is too small), in the codec's format; it retains no part.
type largeFrames interface {
	EncodeLargeFrames(dst []byte, parts ...[]byte) []byte
	// EncodeFixedWidthFrames is EncodeLargeFrames for a page of fixed-width PLAIN values
	// (RawPage.FixedWidth), whose repeats reach further apart than other pages': larger
	// frames still.
	EncodeFixedWidthFrames(dst []byte, parts ...[]byte) []byte
}
