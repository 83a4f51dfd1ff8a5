//go:build cgo

package device

import (
	"fmt"
	"sync"

	ddzstd "github.com/DataDog/zstd"
)

// With cgo, pages are compressed on the CPU by libzstd (DataDog/zstd builds its sources in;
// no system library is needed): on the pages of bench/load's tables (1 MiB, one thread, 2-core
// VM) level 3 ran at 1.8 times the Go encoder's speed and wrote 2.5-5% fewer bytes
// (bench/zstd-libs.sh).

// zstdCtxs holds libzstd compression contexts, each used by one goroutine at a time
// (cpuSlots bounds how many compress at once). A context's tables are C memory, about 1 MB
// at level 3 for pages of 1 MiB, kept between pages; a context the pool drops is freed by its
// finalizer.
var zstdCtxs = sync.Pool{New: func() any { return ddzstd.NewCtx() }}

// cpuZstdInto compresses src into one zstd frame at level (1 to 22, or libzstd's negative
// fast levels) with libzstd: into dst's storage when it holds zstdBound(len(src)) bytes, else
// into a new buffer.
func cpuZstdInto(dst, src []byte, level int) []byte {
	c := zstdCtxs.Get().(ddzstd.Ctx)
	defer zstdCtxs.Put(c)
	z, err := c.CompressLevel(dst[:cap(dst)], src, level)
	if err != nil {
		// Only a failed allocation in C: the destination holds the bound.
		panic(fmt.Sprintf("device: libzstd: compress %d bytes at level %d: %v", len(src), level, err))
	}
	return z
}

// zstdBound is the most bytes cpuZstdInto writes for n bytes (libzstd's ZSTD_compressBound).
func zstdBound(n int) int { return ddzstd.CompressBound(n) }
