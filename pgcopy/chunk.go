package pgcopy

import (
	"fmt"
	"strconv"
	"strings"
)

// Chunk is a run of whole COPY BINARY tuples (no file header, no trailer) from
// one COPY stream. The receiver cuts chunks only at CopyData message
// boundaries, which PostgreSQL places only between tuples, so every chunk
// starts at a tuple start. A Decoder only reads a Chunk; the caller owns Data
// and may reuse it once Decode has returned (the batch holds copies).
type Chunk struct {
	// Data holds whole tuples back to back.
	Data []byte
	// RowStarts optionally holds the offset in Data of each tuple start, as
	// recorded by the receiver (one CopyData message per row). The CPU decoder
	// does not rely on it (it walks the bytes) but, if it is non-nil, checks
	// that it matches the walk exactly and returns a *DecodeError if not.
	RowStarts []uint32
	// Framed says that Data holds the CopyData messages as they came, each
	// payload at its RowStarts entry behind its message's 5-byte header
	// (FrameHeader bytes): payload i ends at RowStarts[i+1]-FrameHeader, the
	// last at len(Data), and Data[:RowStarts[0]] is the first one's header.
	// The receiver then leaves each payload where the socket put it instead
	// of moving it over the header before it. RowStarts is required; the GPU
	// decoder reads such chunks as they are, and Compact gives the CPU
	// decoder the tuples back to back.
	Framed bool
	// StreamOffset is the byte offset of Data[0] within its COPY stream
	// (header included), for error messages.
	StreamOffset int64
	// FirstRow is the number of rows of the same stream before this chunk,
	// for error messages.
	FirstRow int64
	// Source says what the stream was, e.g. `range 3 (pages 100-200) of
	// public.t`, for error messages.
	Source string
}

// FrameHeader is the length of a CopyData message's header (type byte and
// int32 length) before each payload of a Framed chunk.
const FrameHeader = 5

// Compact returns c with its tuples back to back, as a chunk that is not
// Framed is: a new Data and RowStarts, c's other fields. A chunk that is not
// Framed is returned as it is. A framing that does not hold (a start out of
// order or out of Data) gives a *DecodeError at the first wrong start.
func (c *Chunk) Compact() (*Chunk, error) {
	if !c.Framed {
		return c, nil
	}
	rs := c.RowStarts
	if len(rs) == 0 {
		if len(c.Data) > 0 {
			return nil, &DecodeError{Source: c.Source, Offset: c.StreamOffset, Row: -1, Msg: fmt.Sprintf("framed chunk of %d bytes without row starts", len(c.Data))}
		}
		out := *c
		out.Data, out.Framed = nil, false
		return &out, nil
	}
	size := len(c.Data) - FrameHeader*len(rs)
	if size < 0 {
		size = 0
	}
	data := make([]byte, 0, size)
	starts := make([]uint32, len(rs))
	for i, s := range rs {
		end := len(c.Data)
		if i+1 < len(rs) {
			end = int(rs[i+1]) - FrameHeader
		}
		if int(s) < FrameHeader || int(s) > end || end > len(c.Data) || (i > 0 && int(s) < int(rs[i-1])+FrameHeader) {
			return nil, &DecodeError{Source: c.Source, Offset: c.StreamOffset + int64(len(data)), Row: c.FirstRow + int64(i), Msg: fmt.Sprintf("framed chunk: row start %d does not follow a message header (previous start %d, next end %d, %d bytes)", s, prev(rs, i), end, len(c.Data))}
		}
		starts[i] = uint32(len(data))
		data = append(data, c.Data[s:end]...)
	}
	out := *c
	out.Data, out.RowStarts, out.Framed = data, starts, false
	return &out, nil
}

// prev is rs[i-1], or -1 for the first.
func prev(rs []uint32, i int) int64 {
	if i == 0 {
		return -1
	}
	return int64(rs[i-1])
}

// DecodeError says where in which stream the input was wrong and what was
// expected. Decoders return it unwrapped, so callers can use errors.As.
//
// Offset points at the first byte of what was wrong: the tuple's field count
// for a wrong count or a row-start mismatch, a field's int32 length word for
// a bad, truncated or overlong length, and the value bytes (or the offending
// numeric sign, dscale or digit) for a value that does not decode. When the
// chunk ends inside a tuple it points at the incomplete field count or length
// word (or at the length word of a value that runs past the end); when more
// row starts were recorded than the chunk holds tuples, at the chunk's end.
type DecodeError struct {
	Source string // Chunk.Source
	Offset int64  // absolute byte offset in the stream (StreamOffset + offset in chunk)
	Row    int64  // 0-based row number in the stream (FirstRow + row in chunk), -1 if not applicable
	Column string // column name, "" if not applicable
	PGType string // the column's PostgreSQL type (Column.PGType), "" if no column is involved
	Msg    string // what was expected / found, e.g. "field length 3 for int4, expected 4"
}

// Error formats the error on one line, e.g.
// `range 3 (pages 100-200) of public.t: byte 12345, row 17, column "price" (numeric(12,2)): field length 3, expected 4`.
func (e *DecodeError) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		b.WriteString(": ")
	}
	b.WriteString("byte ")
	b.WriteString(strconv.FormatInt(e.Offset, 10))
	if e.Row >= 0 {
		b.WriteString(", row ")
		b.WriteString(strconv.FormatInt(e.Row, 10))
	}
	if e.Column != "" {
		b.WriteString(", column ")
		b.WriteString(strconv.Quote(e.Column))
		if e.PGType != "" {
			b.WriteString(" (")
			b.WriteString(e.PGType)
			b.WriteString(")")
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}
