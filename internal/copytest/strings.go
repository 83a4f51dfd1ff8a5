package copytest

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// RandomStrings makes n strings (binary when binary is set) of about card distinct values,
// nullRate of them NULL, some empty and some long (40 times a short one), as a slice at offset
// off of an array built from mem; the caller releases it.
func RandomStrings(rng *rand.Rand, mem memory.Allocator, n, off, card int, nullRate float64, binary bool) arrow.Array {
	var b array.Builder
	if binary {
		b = array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
	} else {
		b = array.NewStringBuilder(mem)
	}
	defer b.Release()
	for range n + off {
		if rng.Float64() < nullRate {
			b.AppendNull()
			continue
		}
		k := rng.IntN(card)
		v := fmt.Sprintf("v%d", k)
		switch k % 7 {
		case 0:
			v = ""
		case 1:
			v = strings.Repeat(v, 40)
		}
		switch b := b.(type) {
		case *array.StringBuilder:
			b.Append(v)
		case *array.BinaryBuilder:
			b.Append([]byte(v))
		}
	}
	a := b.NewArray()
	defer a.Release()
	return array.NewSlice(a, int64(off), int64(off+n))
}
