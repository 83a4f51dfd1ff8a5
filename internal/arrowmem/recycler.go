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

// Recycler is a memory.Allocator that keeps freed buffers, by power-of-two size class, up to
// a bound, and reuses them. Buffers come back zeroed like Go's allocator's. It is safe for
// concurrent use. A buffer must not be used after Free, as with every Arrow allocator.
type Recycler struct {
	maxHeld int64

	mu   sync.Mutex
	free [64][][]byte
	held int64
}

// NewRecycler returns a Recycler that keeps at most maxHeld bytes of freed buffers; beyond
// that, freed buffers are left to the garbage collector.
func NewRecycler(maxHeld int64) *Recycler {
	return &Recycler{maxHeld: maxHeld}
}

func class(size int) int {
	if size <= 1<<minClass {
		return minClass
	}
	return bits.Len(uint(size - 1))
}

// Allocate returns a zeroed buffer of size bytes. A buffer larger than the Recycler may hold
// (a huge value's) is never kept, so it is allocated at its exact size rather than rounded up
// to its size class (which could nearly double it); Go's large allocations are page-aligned.
func (r *Recycler) Allocate(size int) []byte {
	if int64(size) > r.maxHeld {
		return make([]byte, size)
	}
	c := class(size)
	r.mu.Lock()
	if n := len(r.free[c]); n > 0 {
		b := r.free[c][n-1]
		r.free[c] = r.free[c][:n-1]
		r.held -= int64(cap(b))
		r.mu.Unlock()
		b = b[:size]
		clear(b)
		return b
	}
	r.mu.Unlock()
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
	if c < 1<<minClass || c&(c-1) != 0 {
		return // not one of ours: leave it to the garbage collector
	}
	k := bits.Len(uint(c)) - 1
	r.mu.Lock()
	if r.held+int64(c) <= r.maxHeld {
		r.free[k] = append(r.free[k], b[:0])
		r.held += int64(c)
	}
	r.mu.Unlock()
}
