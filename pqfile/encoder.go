package pqfile

import (
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
)

// PlainEncoder encodes batches of fixed-width columns (EncodesPlain) into column chunk parts
// for RowGroup.AppendPages: the GPU writer's device.PageEncoder, or CPUPlain. Implementations
// are safe for concurrent use.
type PlainEncoder interface {
	// Encode encodes cols (nullable[i]: the Parquet column is optional) into one part per
	// column, in pages of at most pageRows rows.
	Encode(cols []arrow.Array, nullable []bool, pageRows int) ([]Encoded, error)
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

// CPUPlain is the CPU twin of the GPU writer's encoder: PlainPages, each page compressed with
// the codec registered for the file's compression (which may itself send it to the GPU).
type CPUPlain struct{ codec compress.Codec }

// NewCPUPlain returns the CPU twin for compression c.
func NewCPUPlain(c compress.Compression) (*CPUPlain, error) {
	codec, err := compress.GetCodec(c)
	if err != nil {
		return nil, fmt.Errorf("pqfile: codec %s: %w", c, err)
	}
	return &CPUPlain{codec: codec}, nil
}

// Encode implements PlainEncoder.
func (c *CPUPlain) Encode(cols []arrow.Array, nullable []bool, pageRows int) ([]Encoded, error) {
	raw := make([][]RawPage, len(cols))
	out := make([]Encoded, len(cols))
	for i, a := range cols {
		pages, stats, err := PlainPages(a, nullable[i], pageRows)
		if err != nil {
			return nil, err
		}
		raw[i], out[i].Stats = pages, stats
	}
	for i, pages := range c.Compress(raw) {
		out[i].Pages = pages
	}
	return out, nil
}

// Compress compresses raw pages (PLAIN encoded), grouped as the caller likes (by column), into
// Pages grouped alike; raw's bytes may be reused after it. The pages are compressed at once,
// each on a goroutine of its own: a codec that batches pages on the GPU sees them together
// rather than one after the other.
func (c *CPUPlain) Compress(raw [][]RawPage) [][]Page {
	out := make([][]Page, len(raw))
	var wg sync.WaitGroup
	for i, group := range raw {
		out[i] = make([]Page, len(group))
		for j, r := range group {
			out[i][j] = Page{UncompressedSize: int32(len(r.Data)), NumValues: r.NumValues, Encoding: parquet.Encodings.Plain, Stats: r.Stats}
			wg.Add(1)
			go func(p *Page, data []byte) {
				defer wg.Done()
				p.Data = c.codec.Encode(nil, data)
			}(&out[i][j], r.Data)
		}
	}
	wg.Wait()
	return out
}
