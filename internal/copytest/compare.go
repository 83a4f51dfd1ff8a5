package copytest

import (
	"bytes"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// SameArrays compares two arrays bit for bit: type, length, null count, and every buffer's
// bytes over the length the array uses.
func SameArrays(a, b arrow.Array) error {
	if !arrow.TypeEqual(a.DataType(), b.DataType()) || a.Len() != b.Len() || a.NullN() != b.NullN() {
		return fmt.Errorf("type/len/nulls: %s %d %d vs %s %d %d", a.DataType(), a.Len(), a.NullN(), b.DataType(), b.Len(), b.NullN())
	}
	// array.Equal says NaN != NaN: floats are compared by their bits below.
	if a.DataType().ID() != arrow.FLOAT32 && a.DataType().ID() != arrow.FLOAT64 && !array.Equal(a, b) {
		return fmt.Errorf("values differ")
	}
	ab, bb := a.Data().Buffers(), b.Data().Buffers()
	if len(ab) != len(bb) {
		return fmt.Errorf("%d buffers vs %d", len(ab), len(bb))
	}
	for i := range ab {
		x, y := bufBytes(ab[i]), bufBytes(bb[i])
		if i == 0 { // validity: only the bits of rows count
			n := (a.Len() + 7) / 8
			x, y = x[:min(n, len(x))], y[:min(n, len(y))]
		}
		if !bytes.Equal(x, y) {
			return fmt.Errorf("buffer %d differs (%d vs %d bytes)", i, len(x), len(y))
		}
	}
	return nil
}

func bufBytes(b *memory.Buffer) []byte {
	if b == nil {
		return nil
	}
	return b.Bytes()
}
