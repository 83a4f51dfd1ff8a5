// Package arrowmem provides an Arrow memory allocator that recycles freed buffers.
//
// An export decodes every receive buffer into a new record batch of about the same size and
// releases it once the batch is encoded. With Go's allocator each of those buffers becomes
// garbage, and the garbage collector's pacing then lets peak RSS drift upwards with the run's
// length. Recycler keeps released buffers and hands them out again, so steady-state exports
// allocate almost nothing and their peak memory does not depend on the table's size.
package arrowmem

import (
	"math/bits"
	"sync"
)

// minClass is the smallest size class, 4 KiB: such allocations are page-aligned, above the
// 64-byte alignment Arrow asks for.
const minClass = 12

// Recycler is a memory.Allocator that keeps freed buffers, by power-of-two size class, and
// reuses them. Buffers come back zeroed like Go's allocator's. It is safe for concurrent use. A
// buffer must not be used after Free, as with every Arrow allocator.
//
// A freed buffer is kept only until it has not been reused for a garbage collection or two
// (a sync.Pool per size class): what a steady decoding reuses stays, what it stopped asking
// for goes. A bound on the bytes held instead kept, for the whole export, the CPU decoder's
// batches of a GPU export's first seconds (decoded on the CPU while the GPU starts, its
// output pinned memory after): 83 MB of wide's 450 MB live heap on the H200 (P=16, s16a).
type Recycler struct {
	maxBuffer int64
	free      [64]sync.Pool // of *[]byte, by size class
}

// NewRecycler returns a Recycler that keeps freed buffers of up to maxBuffer bytes; larger
// ones (a huge value's) are allocated at their exact size and left to the garbage collector.
func NewRecycler(maxBuffer int64) *Recycler {
	return &Recycler{maxBuffer: maxBuffer}
}

func class(size int) int {
	if size <= 1<<minClass {
		return minClass
	}
	return bits.Len(uint(size - 1))
}

// Allocate returns a zeroed buffer of size bytes. A buffer larger than the Recycler keeps is
// allocated at its exact size rather than rounded up to its size class (which could nearly
// double it); Go's large allocations are page-aligned.
func (r *Recycler) Allocate(size int) []byte {
	if int64(size) > r.maxBuffer {
		return make([]byte, size)
	}
	c := class(size)
	if p, ok := r.free[c].Get().(*[]byte); ok {
		b := (*p)[:size]
		clear(b)
		return b
	}
	return make([]byte, size, 1<<c)
}

// Reallocate resizes b to size bytes, keeping its content; the new tail is zeroed.
func (r *Recycler) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		old := len(b)
		b = b[:size]
		if size > old {
			clear(b[old:])
		}
		return b
	}
	nb := r.Allocate(size)
	copy(nb, b)
	r.Free(b)
	return nb
}

// Free takes b back for reuse.
func (r *Recycler) Free(b []byte) {
	c := cap(b)
	if c < 1<<minClass || c&(c-1) != 0 || int64(c) > r.maxBuffer {
		return // not one of ours: leave it to the garbage collector
	}
	b = b[:0]
	r.free[bits.Len(uint(c))-1].Put(&b)
}
