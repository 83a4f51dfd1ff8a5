package gpuparse

import (
	"math"
	"math/big"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/extensions"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// This file reads Arrow values back as plain Go values for comparison; the
// COPY BINARY encoder is internal/copytest.

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
