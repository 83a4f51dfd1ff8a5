//go:build cgo

// Command zstdlibs compresses a file in 1 MiB pages with the two zstd encoders pgparquet has
// used on the CPU, and prints bytes in, bytes out and MB/s on one goroutine, the best of three
// passes: the Go encoder (klauspost/compress at arrow-go's default level, with the options of
// builds without cgo: one frame per page, a 1 MiB window, every literal section
// entropy-coded) and libzstd through DataDog/zstd (what device.cpuZstd uses with cgo) at
// levels 1 to 3 (3 is the default). bench/zstd-libs.sh runs it.
package main

import (
	"fmt"
	"os"
	"time"

	ddzstd "github.com/DataDog/zstd"
	"github.com/klauspost/compress/zstd"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: zstdlibs FILE")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "zstdlibs:", err)
		os.Exit(1)
	}
	enc, err := zstd.NewWriter(nil, zstd.WithZeroFrames(true), zstd.WithEncoderLevel(zstd.SpeedDefault),
		zstd.WithEncoderConcurrency(1), zstd.WithAllLitEntropyCompression(true), zstd.WithWindowSize(1<<20))
	if err != nil {
		fmt.Fprintln(os.Stderr, "zstdlibs:", err)
		os.Exit(1)
	}
	const page = 1 << 20
	var out []byte
	best, total := time.Duration(1<<62), 0
	for range 3 {
		start := time.Now()
		total = 0
		for off := 0; off < len(data); off += page {
			out = enc.EncodeAll(data[off:min(off+page, len(data))], out[:0])
			total += len(out)
		}
		best = min(best, time.Since(start))
	}
	fmt.Printf("klauspost/compress SpeedDefault: %d -> %d bytes, %.0f MB/s\n", len(data), total, float64(len(data))/best.Seconds()/1e6)
	c := ddzstd.NewCtx()
	out = make([]byte, ddzstd.CompressBound(page))
	for _, level := range []int{1, 2, 3} {
		best, total = time.Duration(1<<62), 0
		for range 3 {
			start := time.Now()
			total = 0
			for off := 0; off < len(data); off += page {
				z, err := c.CompressLevel(out, data[off:min(off+page, len(data))], level)
				if err != nil {
					fmt.Fprintln(os.Stderr, "zstdlibs:", err)
					os.Exit(1)
				}
				total += len(z)
			}
			best = min(best, time.Since(start))
		}
		fmt.Printf("libzstd level %d: %d -> %d bytes, %.0f MB/s\n", level, len(data), total, float64(len(data))/best.Seconds()/1e6)
	}
}
