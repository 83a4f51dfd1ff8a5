package gpuparse

import (
	"encoding/binary"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// This file is a small test-only COPY BINARY encoder: it writes tuples from
// Go values the way PostgreSQL's typsend functions do, and reads Arrow values
// back as plain Go values for comparison.

// tuple encodes one tuple; a nil field is NULL.
func tuple(fields ...[]byte) []byte {
	return appendFields(binary.BigEndian.AppendUint16(nil, uint16(len(fields))), fields...)
}

// rowStarts returns the tuple start offsets of concatenated tuples.
func rowStarts(tuples ...[]byte) (data []byte, starts []uint32) {
	for _, t := range tuples {
		starts = append(starts, uint32(len(data)))
		data = append(data, t...)
	}
	return data, starts
}

func wBool(v bool) []byte {
	if v {
		return []byte{1}
	}
	return []byte{0}
}
func wI16(v int16) []byte      { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
func wI32(v int32) []byte      { return binary.BigEndian.AppendUint32(nil, uint32(v)) }
func wI64(v int64) []byte      { return binary.BigEndian.AppendUint64(nil, uint64(v)) }
func wF32bits(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func wF64bits(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
func wText(s string) []byte    { return append([]byte{}, s...) }
func wJSONB(s string) []byte   { return append([]byte{1}, s...) }

// wNumericRaw encodes a numeric from its wire parts.
func wNumericRaw(ndigits, weight int16, sign uint16, dscale int16, digits ...uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(ndigits))
	b = binary.BigEndian.AppendUint16(b, uint16(weight))
	b = binary.BigEndian.AppendUint16(b, sign)
	b = binary.BigEndian.AppendUint16(b, uint16(dscale))
	for _, d := range digits {
		b = binary.BigEndian.AppendUint16(b, d)
	}
	return b
}

// wNumeric encodes a decimal literal ("-12.50", "NaN", "Infinity",
// "-Infinity") as numeric_send would: dscale is the number of fraction digits
// written, leading and trailing zero base-10000 digits are stripped, and zero
// has weight 0 and no digits.
func wNumeric(s string) []byte {
	switch s {
	case "NaN":
		return wNumericRaw(0, 0, numericNaN, 0)
	case "Infinity":
		return wNumericRaw(0, 0, numericPInf, 0)
	case "-Infinity":
		return wNumericRaw(0, 0, numericNInf, 0)
	}
	sign := uint16(numericPos)
	if strings.HasPrefix(s, "-") {
		sign, s = numericNeg, s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	dscale := len(frac)
	// Pad the integer part on the left and the fraction on the right to
	// whole base-10000 digits.
	for len(intPart)%4 != 0 {
		intPart = "0" + intPart
	}
	for len(frac)%4 != 0 {
		frac += "0"
	}
	all := intPart + frac
	weight := len(intPart)/4 - 1
	var digits []uint16
	for i := 0; i < len(all); i += 4 {
		var d uint16
		for _, ch := range all[i : i+4] {
			d = d*10 + uint16(ch-'0')
		}
		digits = append(digits, d)
	}
	for len(digits) > 0 && digits[0] == 0 {
		digits = digits[1:]
		weight--
	}
	for len(digits) > 0 && digits[len(digits)-1] == 0 {
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 {
		weight, sign = 0, numericPos
	}
	return wNumericRaw(int16(len(digits)), int16(weight), sign, int16(dscale), digits...)
}

// newAlloc returns a checked allocator that fails the test if anything
// allocated from it is still held when the test ends.
func newAlloc(t testing.TB) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// valueAt reads row i of arr as a plain Go value (nil for NULL): floats as
// their bits, decimals as the unscaled integer in decimal, uuids as [16]byte,
// strings and JSON as string, binary as []byte.
func valueAt(arr arrow.Array, i int) any {
	if arr.IsNull(i) {
		return nil
	}
	switch a := arr.(type) {
	case *array.Boolean:
		return a.Value(i)
	case *array.Int16:
		return a.Value(i)
	case *array.Int32:
		return a.Value(i)
	case *array.Int64:
		return a.Value(i)
	case *array.Float32:
		return float32bits(a.Value(i))
	case *array.Float64:
		return float64bits(a.Value(i))
	case *array.String:
		return a.Value(i)
	case *array.Binary:
		return append([]byte{}, a.Value(i)...)
	case *array.Date32:
		return int32(a.Value(i))
	case *array.Timestamp:
		return int64(a.Value(i))
	case *array.Decimal128:
		return a.Value(i).BigInt().String()
	case *array.Decimal256:
		return a.Value(i).BigInt().String()
	case *extensions.UUIDArray:
		return [16]byte(a.Value(i))
	case *extensions.JSONArray:
		return a.Storage().(*array.String).Value(i)
	}
	return "unsupported " + arr.DataType().String()
}

// bigString is the decimal text of a big integer given as a string, for
// readable expectations.
func bigString(s string) string {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic("bad big " + s)
	}
	return v.String()
}

func float32bits(f float32) uint32 { return math.Float32bits(f) }
func float64bits(f float64) uint64 { return math.Float64bits(f) }
