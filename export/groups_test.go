package export

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pgparquet/pgparquet/internal/copytest"
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

// mapGroups is the reference grouping: a Go map from value to group, groups numbered by first
// occurrence, NULL -1.
func mapGroups(a arrow.Array) (ids, firsts []int32) {
	value := stringValues(a)
	seen := map[string]int32{}
	ids = make([]int32, a.Len())
	for row := range a.Len() {
		if a.IsNull(row) {
			ids[row] = -1
			continue
		}
		g, ok := seen[value(row)]
		if !ok {
			g = int32(len(firsts))
			seen[value(row)] = g
			firsts = append(firsts, int32(row))
		}
		ids[row] = g
	}
	return ids, firsts
}

// TestCPUUniquerGroups: cpuUniquer's table gives the map's groups, numbered alike, for string
// and binary columns of 0 to 5000 rows, a few values to all distinct, empty and long values,
// NULLs, and slices at any offset.
func TestCPUUniquerGroups(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 11))
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	for c := range 300 {
		n := []int{0, 1, 2, 15, 16, 17, 1000, 5000}[c%8]
		distinct := 1 + rng.IntN([]int{1, 3, 50, 100000}[c%4])
		nullRate := []float64{0, 0.1, 1}[c%3]
		off := rng.IntN(9)
		binary := c%2 == 1
		arr := copytest.RandomStrings(rng, mem, n, off, distinct, nullRate, binary)
		ids, firsts := cpuUniquer{}.Uniques([]arrow.Array{arr})
		wantIDs, wantFirsts := mapGroups(arr)
		if !slices.Equal(ids[0], wantIDs) || !slices.Equal(firsts[0], wantFirsts) {
			t.Fatalf("case %d (%d rows at offset %d, %d values, NULL rate %v, binary %v): groups %v firsts %v, want %v %v",
				c, n, off, distinct, nullRate, binary, ids[0], firsts[0], wantIDs, wantFirsts)
		}
		arr.Release()
	}
	mem.AssertSize(t, 0)
}

// BenchmarkCPUUniquer: a batch of 25,000 rows of a low-cardinality (7 values) and a
// high-cardinality (20,000) string column grouped by cpuUniquer's table and by a Go map.
func BenchmarkCPUUniquer(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, distinct := range []int{7, 20000} {
		bld := array.NewStringBuilder(memory.DefaultAllocator)
		for range 25000 {
			bld.Append(fmt.Sprintf("value-%d", rng.IntN(distinct)))
		}
		arr := bld.NewArray()
		bld.Release()
		b.Run(fmt.Sprintf("table-%d", distinct), func(b *testing.B) {
			for b.Loop() {
				cpuUniquer{}.Uniques([]arrow.Array{arr})
			}
		})
		b.Run(fmt.Sprintf("map-%d", distinct), func(b *testing.B) {
			for b.Loop() {
				mapGroups(arr)
			}
		})
		arr.Release()
	}
}
