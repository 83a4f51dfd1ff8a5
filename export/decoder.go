package export

import (
	"errors"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pgparquet/pgparquet/gpuparse"
)

// newDecoder picks the decoder for mode. The CUDA decoder is not part of this build yet, so
// auto falls back to the CPU and on refuses to run.
func newDecoder(mode GPUMode, cols []gpuparse.Column, mem memory.Allocator) (gpuparse.Decoder, error) {
	if mode == GPUOn {
		return nil, errors.New("--gpu on: this build has no GPU decoder; use --gpu auto or --gpu off")
	}
	return gpuparse.NewCPUDecoder(cols, mem), nil
}
