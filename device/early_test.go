//go:build cgo && linux

package device

import (
	"testing"

	"github.com/pgparquet/pgparquet/gpuparse"
)

// TestEarlyBuffers: the receive buffers a Decoder hands out while the GPU starts are mapped
// outside Go's heap, usable, kept while the CPU decodes, unmapped when pinned memory replaces
// them (Keep) and by Close; Go memory once the GPU is known unusable. No CUDA needed: the
// GPU's readiness is set by hand, with a decoder whose pinned allocator holds nothing.
func TestEarlyBuffers(t *testing.T) {
	const size = 1 << 20
	t.Run("GPU ready", func(t *testing.T) {
		dec := &Decoder{done: make(chan struct{})}
		bufs := [][]byte{dec.Alloc(size), dec.Alloc(size), dec.Alloc(size)}
		for i, b := range bufs {
			if len(b) != 0 || cap(b) != size {
				t.Fatalf("buffer %d: len %d cap %d, want 0 and %d", i, len(b), cap(b), size)
			}
			b = b[:size]
			b[0], b[size-1] = byte(i), byte(i) // mapped and writable
		}
		if n := dec.early.count(); n != 3 {
			t.Fatalf("%d mapped buffers, want 3", n)
		}
		if !dec.Keep(bufs[0]) {
			t.Error("Keep refused a buffer while the GPU starts")
		}
		dec.gpu.Store(&gpuDecoder{pinned: newPinnedAllocator(nil, nil)})
		close(dec.done)
		if dec.Keep(bufs[0]) {
			t.Error("Keep kept a mapped buffer once the GPU is ready")
		}
		if dec.Keep(make([]byte, 0, size)) {
			t.Error("Keep kept a Go buffer once the GPU is ready")
		}
		if n := dec.early.count(); n != 2 {
			t.Errorf("%d mapped buffers after one went back, want 2", n)
		}
		dec.early.freeAll()
		if n := dec.early.count(); n != 0 {
			t.Errorf("%d mapped buffers after freeAll", n)
		}
	})
	t.Run("GPU unusable", func(t *testing.T) {
		dec := &Decoder{cpu: gpuparse.NewCPUDecoder(nil, nil), done: make(chan struct{})}
		early := dec.Alloc(size)
		close(dec.done)
		later := dec.Alloc(size)
		if cap(later) != size || dec.early.count() != 1 {
			t.Fatalf("after the GPU's start failed: cap %d, %d mapped buffers; want %d and 1", cap(later), dec.early.count(), size)
		}
		if !dec.Keep(early) || !dec.Keep(later) {
			t.Error("Keep refused a buffer the CPU decoder goes on with")
		}
		if err := dec.Close(); err != nil {
			t.Fatal(err)
		}
		if n := dec.early.count(); n != 0 {
			t.Errorf("%d mapped buffers after Close", n)
		}
	})
}
