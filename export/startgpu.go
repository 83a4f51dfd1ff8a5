package export

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pgparquet/pgparquet/gpuparse"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// startingGPU decodes on the CPU until the CUDA decoder is ready, then on the GPU. Creating
// the device's context takes a few hundred milliseconds, longer than an export takes to open
// its connections; both decoders give the same batches bit for bit (make test-gpu), so the
// first chunks need not wait. Under --gpu on, a GPU that cannot be used fails the export: the
// next Decode returns the reason, and so does wait at the end. It is safe for concurrent use.
type startingGPU struct {
	mode  GPUMode
	cpu   *gpuparse.CPUDecoder
	gpu   atomic.Pointer[gpuparse.CUDADecoder]
	done  chan struct{} // closed once the GPU is ready or known unusable
	err   error         // set before done closes: --gpu on, and the GPU cannot be used
	onCPU atomic.Int64  // chunks decoded on the CPU while the GPU started
	// pinned holds the first byte of each receive buffer allocated in pinned memory.
	pinned sync.Map
}

func startGPU(mode GPUMode, probe *gpuProbe, cols []pgarrow.Column, mem memory.Allocator, log *slog.Logger) *startingGPU {
	s := &startingGPU{mode: mode, cpu: gpuparse.NewCPUDecoder(cols, mem), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		dec, err := newCUDADecoder(probe, cols)
		if err != nil {
			if mode == GPUOn {
				s.err = fmt.Errorf("--gpu on: %w", err)
				return
			}
			log.Info("decoding on the CPU", "reason", err.Error())
			return
		}
		dec.OnCUDAError = func(err error) { log.Warn("CUDA error", "error", err.Error()) }
		s.gpu.Store(dec)
		attrs := []any{"chunks_decoded_on_the_cpu_meanwhile", s.onCPU.Load()}
		if cpuCols := pgarrow.CPUDecodedColumns(cols); len(cpuCols) > 0 {
			attrs = append(attrs, "cpu_columns", strings.Join(cpuCols, ", "))
		}
		log.Info("decoding on the GPU", attrs...)
	}()
	return s
}

// Decode decodes c on the GPU once it is ready, on the CPU until then.
func (s *startingGPU) Decode(ctx context.Context, c *pgcopy.Chunk) (arrow.RecordBatch, error) {
	if g := s.gpu.Load(); g != nil {
		return g.Decode(ctx, c)
	}
	select {
	case <-s.done:
		if s.err != nil {
			return nil, s.err
		}
		if g := s.gpu.Load(); g != nil {
			return g.Decode(ctx, c)
		}
	default:
		s.onCPU.Add(1)
	}
	return s.cpu.Decode(ctx, c)
}

// Path is "gpu" once the GPU decodes, "cpu" before (and for good when it cannot).
func (s *startingGPU) Path() string {
	if s.gpu.Load() != nil {
		return "gpu"
	}
	return s.cpu.Path()
}

// wait waits for the GPU's start and returns why --gpu on could not have it.
func (s *startingGPU) wait() error {
	<-s.done
	return s.err
}

// Close waits for the GPU's start and closes both decoders.
func (s *startingGPU) Close() error {
	<-s.done
	if g := s.gpu.Load(); g != nil {
		return g.Close()
	}
	return s.cpu.Close()
}

// PinnedBuffer returns a receive buffer: pinned host memory once the GPU is ready (the GPU
// copies it at full PCIe speed), Go memory before.
func (s *startingGPU) PinnedBuffer(size int) []byte {
	if g := s.gpu.Load(); g != nil {
		b := g.PinnedBuffer(size)
		s.pinned.Store(&b[:1][0], true)
		return b
	}
	return make([]byte, 0, size)
}

// Recycle says whether a receive buffer should be used again: not one in Go memory once the
// GPU is ready, so that the pool replaces it with pinned memory.
func (s *startingGPU) Recycle(b []byte) bool {
	if s.gpu.Load() == nil || cap(b) == 0 {
		return true
	}
	_, ok := s.pinned.Load(&b[:1][0])
	return ok
}
