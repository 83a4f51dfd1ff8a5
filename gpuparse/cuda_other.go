//go:build !cgo || !linux

package gpuparse

import (
	"context"
	"errors"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// CUDALibrary is the loaded CUDA decoder library; this build (no cgo, or not Linux) cannot
// load it.
type CUDALibrary struct{}

// LoadCUDA always fails in a build without cgo: the CUDA decoder is loaded through dlopen.
func LoadCUDA(path string) (*CUDALibrary, error) {
	return nil, errors.New("load CUDA decoder: this binary was built without cgo")
}

// NewDecoder is never reached: LoadCUDA fails in this build.
func (l *CUDALibrary) NewDecoder(cols []pgarrow.Column) (*CUDADecoder, error) {
	return nil, errors.New("CUDA decoder: not in this build")
}

// CUDADecoder is the GPU decoder; in this build it cannot be made.
type CUDADecoder struct {
	// OnCUDAError is never called here.
	OnCUDAError func(error)
}

// Path returns "gpu".
func (d *CUDADecoder) Path() string { return "gpu" }

// Fallbacks is always 0 here.
func (d *CUDADecoder) Fallbacks() int64 { return 0 }

// Close does nothing here.
func (d *CUDADecoder) Close() error { return nil }

// Decode always fails here.
func (d *CUDADecoder) Decode(ctx context.Context, c *pgcopy.Chunk) (arrow.RecordBatch, error) {
	return nil, errors.New("CUDA decoder: not in this build")
}

// KernelSeconds always fails here.
func (d *CUDADecoder) KernelSeconds(c *pgcopy.Chunk, iters int) (float64, error) {
	return 0, errors.New("CUDA decoder: not in this build")
}

// PinnedBuffer is never reached here.
func (d *CUDADecoder) PinnedBuffer(size int) []byte { return make([]byte, 0, size) }

// SetMaxInFlight does nothing here.
func (d *CUDADecoder) SetMaxInFlight(n int) {}
