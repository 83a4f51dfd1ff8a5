//go:build !cgo || !linux

package device

import (
	"context"
	"errors"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pgparquet/pgparquet/gpuparse"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// library is the loaded CUDA decoder library; this build (no cgo, or not Linux) cannot load it.
type library struct{}

// loadCUDA always fails in a build without cgo: the CUDA decoder is loaded through dlopen.
func loadCUDA(path string) (*library, error) {
	return nil, errors.New("load CUDA decoder: this binary was built without cgo")
}

// newDecoder is never reached: loadCUDA fails in this build.
func (l *library) newDecoder(cols []pgarrow.Column, cpu *gpuparse.CPUDecoder, pinned *pinnedAllocator) (*gpuDecoder, error) {
	return nil, errors.New("CUDA decoder: not in this build")
}

// gpuDecoder is the GPU decoder; in this build it cannot be made.
type gpuDecoder struct {
	pinned      *pinnedAllocator
	onCUDAError func(error)
	fused       *fusedResults
}

func (d *gpuDecoder) Path() string         { return pathGPU }
func (d *gpuDecoder) Close() error         { return nil }
func (d *gpuDecoder) setMaxInFlight(int)   {}
func (d *gpuDecoder) cpuColumns() []string { return nil }

func (d *gpuDecoder) Decode(ctx context.Context, c *pgcopy.Chunk) (arrow.RecordBatch, error) {
	return nil, errors.New("CUDA decoder: not in this build")
}

// pinnedAllocator has no pinned memory to give in this build: as a memory.Allocator it hands
// out Go memory.
type pinnedAllocator struct {
	memory.GoAllocator
	fine bool
}

func newPinnedAllocator(*library, func(error)) *pinnedAllocator { return &pinnedAllocator{} }
func (a *pinnedAllocator) tryAllocate(int) ([]byte, bool)       { return nil, false }
func (a *pinnedAllocator) owns([]byte) bool                     { return false }
func (a *pinnedAllocator) freeAll()                             {}
func (a *pinnedAllocator) usage() (allocated, peak int64)       { return 0, 0 }

// nvidiaFreeMemory fails in this build: go-nvml needs cgo.
func nvidiaFreeMemory() (uint64, error) {
	return 0, errors.New("no NVIDIA driver: this binary was built without cgo")
}

// nvBatch is the GPU compression batcher; this build has none.
type nvBatch struct{ chunkBuffers }

func (l *library) openNV(nvCodec, string, int, int64, int64) (*nvBatch, error) {
	return nil, errors.New("GPU compression: this binary was built without cgo")
}
func (z *nvBatch) run(int) error { return errors.New("GPU compression: not in this build") }
func (z *nvBatch) close()        {}

// encoder is the GPU page encoder; this build has none.
type encoder struct{}

func (l *library) openEncoder() (*encoder, error) {
	return nil, errors.New("GPU page encoder: this binary was built without cgo")
}
func (e *encoder) close() {}
func (e *encoder) run([]encCol) ([][]plainPage, time.Duration, error) {
	return nil, 0, errors.New("GPU page encoder: this binary was built without cgo")
}
func (l *library) hasEncoder() bool { return false }

type uniqCol struct {
	offsets []int32
	data    []byte
	valid   []byte
	n       int
}

func (e *encoder) uniques([]uniqCol, bool) (ids, firsts [][]int32, err error) {
	return nil, nil, errors.New("GPU uniques: this binary was built without cgo")
}
func (l *library) hasUniques() bool { return false }

func (l *library) callStats() string { return "" }
