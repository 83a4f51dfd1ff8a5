//go:build !cgo

package device

import (
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/klauspost/compress/zstd"
)

// Without cgo, pages are compressed on the CPU by the Go encoder arrow-go's zstd codec uses
// (klauspost/compress), with a smaller window.

// cpuZstdWindow is the window of the zstd encoders that compress pages on the CPU. An encoder
// keeps a history of two windows while it waits in its pool, one pool entry per P: with
// arrow-go's (an 8 MiB window) that is 16 MiB each, 256 MiB at 16 lanes of the CPU path.
// Pages are cut at about 1 MiB of values (pqfile's pages, arrow-go's default data page), so a
// window of that size: up to it a page compresses to the same bytes as with arrow-go's
// encoder (one segment, every match inside the page); a larger page (a batch or a fixed-width
// fragment past 1 MiB, values and their levels) to a valid frame whose matches reach back 1
// MiB at most. With 2 MiB (sessions 11-14) the encoders' histories were 88-104 of the CPU path's 0.9
// GB of live heap on bench/load's wide table (16 lanes, 2-core VM, GOMAXPROCS=16).
const cpuZstdWindow = 1 << 20

// cpuZstdPools holds, per zstd.EncoderLevel, a sync.Pool of encoders as arrow-go's zstd codec
// makes them, but for their window (cpuZstdWindow).
var cpuZstdPools sync.Map

// newCPUZstd makes an encoder as arrow-go's zstd codec makes its own, with the given window.
func newCPUZstd(level zstd.EncoderLevel, window int) *zstd.Encoder {
	enc, err := zstd.NewWriter(nil, zstd.WithZeroFrames(true), zstd.WithEncoderLevel(level), zstd.WithEncoderConcurrency(1),
		zstd.WithAllLitEntropyCompression(true), zstd.WithWindowSize(window))
	if err != nil {
		panic(fmt.Sprintf("device: zstd encoder: %v", err)) // valid options: a power of two window
	}
	return enc
}

// cpuZstdInto compresses src into one zstd frame at level (1 to 22, mapped to the Go
// encoder's four speeds as arrow-go maps them), appending to dst[:0].
func cpuZstdInto(dst, src []byte, level int) []byte {
	lvl := zstd.EncoderLevelFromZstd(level)
	pool, ok := cpuZstdPools.Load(lvl)
	if !ok {
		pool, _ = cpuZstdPools.LoadOrStore(lvl, &sync.Pool{New: func() any { return newCPUZstd(lvl, cpuZstdWindow) }})
	}
	p := pool.(*sync.Pool)
	enc := p.Get().(*zstd.Encoder)
	defer p.Put(enc)
	return enc.EncodeAll(src, dst[:0])
}

// zstdBound bounds the bytes cpuZstdInto writes for n bytes: arrow-go's zstd codec's bound
// (libzstd's ZSTD_compressBound), which the Go encoder's frames (a 6-byte header, 3 bytes per
// block of 128 KiB, a checksum) stay within.
func zstdBound(n int) int {
	return int(arrowCodec(compress.Codecs.Zstd).CompressBound(int64(n)))
}
