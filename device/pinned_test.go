//go:build cgo && linux

package device

import (
	"testing"
	"unsafe"
)

// TestPinnedReuse: which free block serves a size, with power-of-two and fine classes (no
// CUDA needed: the free lists are filled by hand).
func TestPinnedReuse(t *testing.T) {
	block := unsafe.Pointer(new([8]byte))
	for _, tc := range []struct {
		name string
		fine bool
		free []int // classes holding a free block
		size int
		want int // class served; 0: none
	}{
		{"power of two, own class", false, []int{4 << 20}, 3 << 20, 4 << 20},
		{"power of two, larger class unused", false, []int{8 << 20}, 3 << 20, 0},
		{"fine, own class", true, []int{3 << 20}, 3 << 20, 3 << 20},
		{"fine, a little larger", true, []int{3<<20 + 3<<17}, 3 << 20, 3<<20 + 3<<17},
		{"fine, the smallest that serves", true, []int{3<<20 + 5<<17, 3<<20 + 1<<17}, 3 << 20, 3<<20 + 1<<17},
		{"fine, a quarter larger", true, []int{3<<20 + 3<<18}, 3 << 20, 3<<20 + 3<<18},
		{"fine, more than a quarter larger", true, []int{4<<20 + 1<<18}, 3 << 20, 0},
		{"fine, smaller never", true, []int{3<<20 - 1<<17}, 3 << 20, 0},
		{"fine, across a power of two", true, []int{4<<20 + 1<<18}, 4<<20 - 1<<16, 4<<20 + 1<<18},
	} {
		a := &pinnedAllocator{fine: tc.fine, free: map[int][]unsafe.Pointer{}}
		for _, c := range tc.free {
			a.free[c] = append(a.free[c], block)
		}
		got, ok := a.reusable(a.class(tc.size))
		if !ok {
			got = 0
		}
		if got != tc.want {
			t.Errorf("%s: size %d served by class %d, want %d", tc.name, tc.size, got, tc.want)
		}
	}
}
