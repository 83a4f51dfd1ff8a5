package copytest

import (
	"bytes"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
)

// SameArrays compares two arrays bit for bit, children and dictionaries included (SameData).
func SameArrays(a, b arrow.Array) error { return SameData(a.Data(), b.Data()) }

// SameData compares two arrays' data bit for bit: type, length, NULL count, offset, every
// buffer (nil or not; its bytes, a validity bitmap's over the bytes that hold the array's
// bits), every child and the dictionary. Equal buffers mean equal values, NaN payloads
// included, so values are not compared otherwise.
func SameData(a, b arrow.ArrayData) error {
	if !arrow.TypeEqual(a.DataType(), b.DataType()) || a.Len() != b.Len() || a.NullN() != b.NullN() || a.Offset() != b.Offset() {
		return fmt.Errorf("type/len/nulls/offset: %s %d %d %d vs %s %d %d %d", a.DataType(), a.Len(), a.NullN(), a.Offset(), b.DataType(), b.Len(), b.NullN(), b.Offset())
	}
	ab, bb := a.Buffers(), b.Buffers()
	if len(ab) != len(bb) {
		return fmt.Errorf("%s: %d buffers vs %d", a.DataType(), len(ab), len(bb))
	}
	for i := range ab {
		if (ab[i] == nil) != (bb[i] == nil) {
			return fmt.Errorf("%s: buffer %d: nil %v vs %v", a.DataType(), i, ab[i] == nil, bb[i] == nil)
		}
		if ab[i] == nil {
			continue
		}
		x, y := ab[i].Bytes(), bb[i].Bytes()
		if i == 0 { // validity: only the bits of the array's values count
			n := int(bitutil.BytesForBits(int64(a.Offset() + a.Len())))
			if len(x) < n || len(y) < n {
				return fmt.Errorf("%s: validity of %d and %d bytes for %d values", a.DataType(), len(x), len(y), a.Len())
			}
			x, y = x[:n], y[:n]
		}
		if !bytes.Equal(x, y) {
			return fmt.Errorf("%s: buffer %d differs (%d vs %d bytes)", a.DataType(), i, len(x), len(y))
		}
	}
	ac, bc := a.Children(), b.Children()
	if len(ac) != len(bc) {
		return fmt.Errorf("%s: %d children vs %d", a.DataType(), len(ac), len(bc))
	}
	for i := range ac {
		if err := SameData(ac[i], bc[i]); err != nil {
			return fmt.Errorf("child %d: %w", i, err)
		}
	}
	ad, bd := a.Dictionary(), b.Dictionary()
	if noData(ad) != noData(bd) {
		return fmt.Errorf("%s: dictionary nil %v vs %v", a.DataType(), noData(ad), noData(bd))
	}
	if !noData(ad) {
		if err := SameData(ad, bd); err != nil {
			return fmt.Errorf("dictionary: %w", err)
		}
	}
	return nil
}

// noData says whether d is nil, or a nil *array.Data (what Dictionary returns for arrays
// without one).
func noData(d arrow.ArrayData) bool {
	p, ok := d.(*array.Data)
	return d == nil || ok && p == nil
}
