package gpuparse

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"

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
	// (later "gpu").
	Path() string
	// Close releases the decoder's resources; Decode fails after it.
	Close() error
}
