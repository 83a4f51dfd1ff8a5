package pqfile

import (
	"fmt"

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
// t: the fixed-width types whose PLAIN form is their Arrow bytes (int16 widened to INT32).
func EncodesPlain(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT16, arrow.INT32, arrow.INT64, arrow.FLOAT32, arrow.FLOAT64, arrow.DATE32, arrow.TIME64, arrow.TIMESTAMP:
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
	out := make([]Encoded, len(cols))
	for i, a := range cols {
		raw, stats, err := PlainPages(a, nullable[i], pageRows)
		if err != nil {
			return nil, err
		}
		out[i] = Encoded{Stats: stats, Pages: c.Compress(raw)}
	}
	return out, nil
}

// Compress compresses raw pages (PLAIN encoded) into Pages; raw's bytes may be reused after it.
func (c *CPUPlain) Compress(raw []RawPage) []Page {
	pages := make([]Page, len(raw))
	for i, r := range raw {
		pages[i] = Page{Data: c.codec.Encode(nil, r.Data), UncompressedSize: int32(len(r.Data)), NumValues: r.NumValues,
			Encoding: parquet.Encodings.Plain, Stats: r.Stats}
	}
	return pages
}
