package pgcopy

import (
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
