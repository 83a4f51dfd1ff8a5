package export

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestIndicesFromGroups: a lane's dictionary fed batches grouped by value (cpuUniquer, the CPU
// twin of the GPU's grouping, with its groups numbered in a shuffled order as the GPU's are)
// gives the same indices and the same dictionary, value for value and in the same order, as
// one fed the same batches row by row: NULLs, empty values, slices at any offset.
func TestIndicesFromGroups(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	rows, grouped := newStringDict(arrow.BinaryTypes.String), newStringDict(arrow.BinaryTypes.String)
	for batch := range 40 {
		b := array.NewStringBuilder(mem)
		n := []int{0, 1, 17, 1000}[batch%4]
		off := rng.IntN(9)
		for range n + off {
			if rng.IntN(10) == 0 {
				b.AppendNull()
				continue
			}
			v := fmt.Sprintf("v%d", rng.IntN(5+batch*3))
			b.Append(v[:rng.IntN(len(v)+1)]) // empty values too
		}
		whole := b.NewArray()
		b.Release()
		arr := array.NewSlice(whole, int64(off), int64(off+n))
		whole.Release()

		want, addedWant := rows.indices(mem, arr)
		ids, firsts := cpuUniquer{}.Uniques([]arrow.Array{arr})
		shuffled := shuffleGroups(rng, ids[0], firsts[0])
		grouped.next = &batchGroups{arr: arr, ids: shuffled.ids, firsts: shuffled.firsts}
		got, addedGot := grouped.indices(mem, arr)
		if grouped.next != nil {
			t.Fatal("the groups were not used")
		}
		if addedGot != addedWant || !slices.Equal(arrow.GetData[int32](got.Bytes())[:n], arrow.GetData[int32](want.Bytes())[:n]) {
			t.Fatalf("batch %d: indices %v (%d new), want %v (%d new)", batch, arrow.GetData[int32](got.Bytes())[:n], addedGot,
				arrow.GetData[int32](want.Bytes())[:n], addedWant)
		}
		if !slices.Equal(grouped.order, rows.order) {
			t.Fatalf("batch %d: dictionary %q, want %q", batch, grouped.order, rows.order)
		}
		got.Release()
		want.Release()
		arr.Release()
	}
	rows.release()
	grouped.release()
	mem.AssertSize(t, 0)
}

// shuffleGroups renumbers groups in a random order, as the GPU numbers them by hash.
func shuffleGroups(rng *rand.Rand, ids, firsts []int32) batchGroups {
	perm := rng.Perm(len(firsts))
	out := batchGroups{ids: make([]int32, len(ids)), firsts: make([]int32, len(firsts))}
	for g, f := range firsts {
		out.firsts[perm[g]] = f
	}
	for row, g := range ids {
		out.ids[row] = -1
		if g >= 0 {
			out.ids[row] = int32(perm[g])
		}
	}
	return out
}
