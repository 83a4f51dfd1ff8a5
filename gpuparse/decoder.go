package gpuparse

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// Decoder turns chunks into Arrow record batches with one column per Column,
// in order, typed as ArrowSchema says. Implementations must be safe for
// concurrent use by several goroutines, and must produce identical batches
// for identical input.
type Decoder interface {
	// Decode returns a record batch with exactly as many rows as the chunk
	// holds tuples (possibly 0). The caller releases it. Any malformed input
	// returns a *pgcopy.DecodeError, never a panic and never a short result; a done
	// ctx returns its error.
	Decode(ctx context.Context, c *pgcopy.Chunk) (arrow.RecordBatch, error)
	// Path names the implementation for logs, results and manifests: "cpu"
	// or "gpu".
	Path() string
	// Close releases the decoder's resources; Decode fails after it.
	Close() error
}

// Engine makes the decoder of each export, so that the exporter runs on any engine without
// knowing which (River's driver pattern): CPU is the Go decoder in Go memory; device.Start
// returns the GPU's, which decodes on the CPU until the GPU is ready. Implementations are safe
// for concurrent use.
type Engine interface {
	// NewDecoder returns a decoder for cols (as pgarrow.PlanType planned them) whose batches
	// are allocated from mem where the engine allocates them in Go memory (nil:
	// memory.DefaultAllocator). The caller closes it.
	NewDecoder(cols []pgarrow.Column, mem memory.Allocator) StreamDecoder
}

// StreamDecoder is one export's decoder. Besides decoding, it hands out the receive buffers of
// the COPY streams it decodes (memory of its own, such as pinned memory, freed at Close) and
// says whether it could run at all. It is safe for concurrent use.
type StreamDecoder interface {
	Decoder
	// Alloc returns an empty receive buffer of capacity size (snapshot.NewPool's alloc).
	Alloc(size int) []byte
	// Keep says whether a receive buffer given back should be used again (Pool.SetRecycle):
	// false makes the pool ask Alloc for a new one.
	Keep(b []byte) bool
	// Wait waits until the decoder knows which engine runs it and returns why a required
	// engine could not (--gpu on without a usable GPU); nil otherwise.
	Wait() error
}

// CPU is the engine of the Go decoder, in Go memory.
var CPU Engine = cpuEngine{}

type cpuEngine struct{}

func (cpuEngine) NewDecoder(cols []pgarrow.Column, mem memory.Allocator) StreamDecoder {
	return cpuStream{NewCPUDecoder(cols, mem)}
}

// cpuStream is a CPUDecoder with receive buffers in Go memory.
type cpuStream struct{ *CPUDecoder }

func (cpuStream) Alloc(size int) []byte { return make([]byte, 0, size) }
func (cpuStream) Keep([]byte) bool      { return true }
func (cpuStream) Wait() error           { return nil }
