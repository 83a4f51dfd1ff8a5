package arrowmem

import (
	"runtime"
	"testing"
	"weak"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

var _ memory.Allocator = (*Recycler)(nil)

func TestRecyclerReusesZeroedBuffers(t *testing.T) {
	r := NewRecycler(1 << 20)
	tests := []struct{ size, wantCap int }{{1, 4096}, {4096, 4096}, {4097, 8192}, {100000, 131072}}
	for _, tc := range tests {
		b := r.Allocate(tc.size)
		if len(b) != tc.size || cap(b) != tc.wantCap {
			t.Fatalf("Allocate(%d): len %d cap %d, want cap %d", tc.size, len(b), cap(b), tc.wantCap)
		}
		for i := range b {
			b[i] = 0xff
		}
		r.Free(b)
		again := r.Allocate(tc.size)
		if &again[0] != &b[0] {
			t.Fatalf("Allocate(%d) after Free did not reuse the buffer", tc.size)
		}
		for i, v := range again {
			if v != 0 {
				t.Fatalf("reused buffer byte %d = %#x, want 0", i, v)
			}
		}
	}
}

func TestRecyclerReallocateKeepsContentAndZeroesTail(t *testing.T) {
	r := NewRecycler(1 << 20)
	b := r.Allocate(10)
	copy(b, "0123456789")
	b = r.Reallocate(5000, b)
	if string(b[:10]) != "0123456789" || b[4999] != 0 || len(b) != 5000 {
		t.Fatalf("Reallocate lost content or left garbage")
	}
	b = b[:20]
	b[15] = 7
	b = r.Reallocate(16, b[:10]) // grows within capacity: bytes 10..15 must be zeroed
	if b[15] != 0 {
		t.Fatalf("grown tail not zeroed")
	}
}

// TestRecyclerDropsWhatIsNotReused: a freed buffer nobody asks for again is gone after two
// collections, and a buffer of a size class not its own is never kept.
func TestRecyclerDropsWhatIsNotReused(t *testing.T) {
	r := NewRecycler(1 << 20)
	a := r.Allocate(4096)
	freed := weak.Make(&a[0])
	r.Free(a) // a is dead from here: only the Recycler could keep its buffer
	for range 3 {
		runtime.GC()
	}
	if freed.Value() != nil {
		t.Fatalf("a buffer unused for three collections was still kept")
	}
	r.Free(make([]byte, 5000)) // not a size class of ours
	if b := r.Allocate(5000); cap(b) != 8192 {
		t.Fatalf("Allocate(5000) after a foreign Free: cap %d, want 8192", cap(b))
	}
}

func TestRecyclerWithArrowBuilders(t *testing.T) {
	r := NewRecycler(1 << 24)
	for round := range 3 {
		bld := array.NewInt64Builder(r)
		for i := range 100000 {
			if i%7 == 0 {
				bld.AppendNull()
			} else {
				bld.Append(int64(i * round))
			}
		}
		arr := bld.NewInt64Array()
		if arr.NullN() != 100000/7+1 || arr.Value(1) != int64(round) {
			t.Fatalf("round %d: nulls %d value %d", round, arr.NullN(), arr.Value(1))
		}
		arr.Release()
		bld.Release()
	}
}

// TestHugeBuffersExact: a buffer larger than the Recycler may hold is allocated at its exact
// size (not rounded up to a power of two) and is not kept when freed.
func TestHugeBuffersExact(t *testing.T) {
	r := NewRecycler(1 << 20)
	b := r.Allocate(3<<20 + 5)
	if len(b) != 3<<20+5 || cap(b) != 3<<20+5 {
		t.Errorf("len %d cap %d, want both %d", len(b), cap(b), 3<<20+5)
	}
	r.Free(b)
	if again := r.Allocate(3<<20 + 5); &again[0] == &b[0] {
		t.Errorf("a huge buffer was kept after Free")
	}
}
