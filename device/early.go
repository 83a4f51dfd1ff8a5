package device

import (
	"sync"
	"unsafe"
)

// earlyBuffers are the receive buffers a Decoder hands out while the GPU starts, in memory
// mapped outside Go's heap (mapMemory), so that when pinned buffers replace them (Keep) they go
// back to the system at once. From Go's heap they stayed as garbage, and the heap they had
// grown stayed mapped: at 16 workers, 32 buffers of 4 MiB, 128 of the 239 MB live at wide's
// heap peak on the H200, which came in the export's first half second (s24c). Where memory
// cannot be mapped (mapMemory fails, or a build without the GPU) they are Go memory.
//
// earlyBuffers is safe for concurrent use.
type earlyBuffers struct {
	mu   sync.Mutex
	held map[*byte]int // a mapped buffer's first byte: its mapped length
}

// earlyInGo makes earlyBuffers hand out Go memory, earlyUnmapLate keeps a buffer mapped
// until freeAll instead of unmapping it at free (a measurement build's switches, measure.go).
var earlyInGo, earlyUnmapLate = false, false

// alloc returns an empty buffer of capacity size, mapped where it can be.
func (e *earlyBuffers) alloc(size int) []byte {
	if earlyInGo {
		return make([]byte, 0, size)
	}
	b, err := mapMemory(size)
	if err != nil {
		return make([]byte, 0, size)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.held == nil {
		e.held = make(map[*byte]int)
	}
	e.held[unsafe.SliceData(b)] = len(b)
	return b[:0:size]
}

// free unmaps b if it is one of e's buffers (nothing may use it after) and says whether it was.
func (e *earlyBuffers) free(b []byte) bool {
	if cap(b) == 0 {
		return false
	}
	p := unsafe.SliceData(b[:1])
	e.mu.Lock()
	n, ok := e.held[p]
	if !earlyUnmapLate {
		delete(e.held, p)
	}
	e.mu.Unlock()
	if earlyUnmapLate {
		return ok
	}
	if ok {
		unmapMemory(unsafe.Slice(p, n))
	}
	return ok
}

// freeAll unmaps every buffer e still holds: the Decoder's Close, once nothing uses them.
func (e *earlyBuffers) freeAll() {
	e.mu.Lock()
	held := e.held
	e.held = nil
	e.mu.Unlock()
	for p, n := range held {
		unmapMemory(unsafe.Slice(p, n))
	}
}

// count is how many mapped buffers e holds.
func (e *earlyBuffers) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.held)
}
