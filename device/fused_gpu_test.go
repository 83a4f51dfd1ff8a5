//go:build cgo && linux

package device

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/pgparquet/pgparquet/internal/copytest"
	"github.com/pgparquet/pgparquet/pqfile"
)

// TestGPUFusedMatchesCPU decodes fresh random chunks with the page encoder's and the
// grouping's work fused into the decoding (pgpq_finish_fused) and requires, per column, the
// CPU decoder's arrays bit for bit, the CPU twin's PLAIN fragment and statistics
// (pqfile.PlainFragment) for every fixed-width column, and the groups of every string column
// as groupsOf numbers the exact first rows; the fused columns are forgotten, and their arena
// freed, with the batch.
func TestGPUFusedMatchesCPU(t *testing.T) {
	lib, gpu, cpu, cols := gpuAndCPU(t)
	if lib.lib.finish_fused == nil {
		t.Fatal("the CUDA library has no pgpq_finish_fused: rebuild it")
	}
	reg := &fusedResults{}
	reg.users.Store(1)
	gpu.fused = reg
	var plains, uniqs, noGroup int
	for _, p := range gpu.plans {
		if p.plain {
			plains++
		}
		if p.uniq {
			uniqs++
		}
		if p.noGroup {
			noGroup++
		}
	}
	if plains == 0 || uniqs == 0 || noGroup == 0 {
		t.Fatalf("the random columns plan %d fixed-width, %d string and %d JSON columns for fusion; want some of each", plains, uniqs, noGroup)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 11))
	ctx := context.Background()
	for round, rows := range []int{1, 2, 31, 33, 1000, 5000, 20000, 1, 7, 4096, 3, 2048, 20000} {
		// Every other chunk, the string columns are written PLAIN: their values' fragments.
		plainBytes := round%2 == 1
		for i, p := range gpu.plans {
			if p.uniq && plainBytes {
				reg.plainBytes.Store(i, struct{}{})
			} else {
				reg.plainBytes.Delete(i)
			}
		}
		c := copytest.RandomChunk(rng, rows)
		want, err := cpu.Decode(ctx, c)
		if err != nil {
			t.Fatalf("rows=%d: CPU: %v", rows, err)
		}
		got, err := gpu.Decode(ctx, c)
		if err != nil {
			t.Fatalf("rows=%d: GPU: %v", rows, err)
		}
		if _, ok := got.(*fusedRecord); !ok {
			t.Fatalf("rows=%d: a batch without fused columns", rows)
		}
		for i, col := range cols {
			name := col.Name + " (" + col.PGType + ")"
			w, g := want.Column(i), got.Column(i)
			if err := copytest.SameArrays(w, g); err != nil {
				t.Errorf("rows=%d column %s: %v", rows, name, err)
				continue
			}
			switch p := gpu.plans[i]; {
			case p.plain:
				frag, st, err := pqfile.PlainFragment(w)
				f := reg.lookup(g, fusedPlain)
				if err != nil { // a decimal past its FIXED_LEN_BYTE_ARRAY: not fused, as the GPU encoder refuses it
					if f != nil {
						t.Errorf("rows=%d column %s: fused although the CPU twin refuses it: %v", rows, name, err)
					}
					continue
				}
				switch {
				case f == nil:
					t.Errorf("rows=%d column %s: no fused fragment", rows, name)
				case !bytes.Equal(f.frag, frag):
					t.Errorf("rows=%d column %s: fragment of %d bytes differs from the CPU twin's %d", rows, name, len(f.frag), len(frag))
				case f.stats.NullCount != st.NullCount || f.stats.HasMin != st.HasMin || f.stats.HasMax != st.HasMax ||
					!bytes.Equal(f.stats.Min, st.Min) || !bytes.Equal(f.stats.Max, st.Max):
					t.Errorf("rows=%d column %s: statistics %+v, the CPU twin's %+v", rows, name, f.stats, st)
				}
			case p.uniq && plainBytes:
				f := reg.lookup(g, fusedBytes)
				if f == nil {
					t.Errorf("rows=%d column %s: no PLAIN fragment", rows, name)
					continue
				}
				frag, lo, hi := copytest.PlainBytes(w)
				if !bytes.Equal(f.frag, frag) {
					t.Errorf("rows=%d column %s: fragment of %d bytes differs from the CPU's %d", rows, name, len(f.frag), len(frag))
				}
				if (f.minRow < 0) != (lo == nil) || (lo != nil && (!bytes.Equal(copytest.ValueBytes(w, int(f.minRow)), lo) || !bytes.Equal(copytest.ValueBytes(w, int(f.maxRow)), hi))) {
					t.Errorf("rows=%d column %s: min row %d, max row %d: not the smallest and largest values", rows, name, f.minRow, f.maxRow)
				}
			case p.uniq && p.noGroup:
				if anyFused(reg, g) {
					t.Errorf("rows=%d column %s: grouped, though never dictionary-encoded", rows, name)
				}
			case p.uniq:
				f := reg.lookup(g, fusedUniq)
				if f == nil || f.collided {
					t.Errorf("rows=%d column %s: no grouping (%v)", rows, name, f)
					continue
				}
				ids, firsts, err := groupsOf(cpuFirsts(w), rows)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(f.ids, ids) || !slices.Equal(f.firsts, firsts) {
					t.Errorf("rows=%d column %s: %d groups, want %d, or other ids", rows, name, len(f.firsts), len(firsts))
				}
			}
		}
		// A slice of the batch is not the decoded array: no fused column.
		if s := array.NewSlice(got.Column(0), 0, int64(max(rows-1, 0))); rows > 1 && anyFused(reg, s) {
			t.Errorf("rows=%d: a slice found a fused column", rows)
		} else {
			s.Release()
		}
		want.Release()
		got.Release()
		n := 0
		reg.m.Range(func(any, any) bool { n++; return true })
		if n != 0 {
			t.Fatalf("rows=%d: %d fused columns left after the batch's release", rows, n)
		}
	}
	if n := gpu.fallbacks.Load(); n != 0 {
		t.Errorf("%d chunks fell back to the CPU", n)
	}
	// A device failure in the fused call: the chunk is decoded on the CPU, without fused
	// columns, and its arena is given back (gpuAndCPU checks that no pinned memory is left).
	if !lib.injectFaults(0, 1) {
		t.Fatal("the library cannot inject faults")
	}
	c := copytest.RandomChunk(rng, 500)
	got, err := gpu.Decode(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.(*fusedRecord); ok {
		t.Error("a batch decoded on the CPU after a device failure has fused columns")
	}
	got.Release()
	// Fusion off (no PageEncoder open): plain batches.
	reg.users.Store(0)
	got, err = gpu.Decode(ctx, copytest.RandomChunk(rng, 50))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.(*fusedRecord); ok {
		t.Error("fused columns while no PageEncoder is open")
	}
	got.Release()
}

// anyFused says whether reg holds a fused column of any operation for a.
func anyFused(reg *fusedResults, a arrow.Array) bool {
	for _, op := range []fusedOp{fusedPlain, fusedUniq, fusedBytes} {
		if reg.lookup(a, op) != nil {
			return true
		}
	}
	return false
}
