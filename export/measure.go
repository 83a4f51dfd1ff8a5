//go:build measure

package export

import (
	"bytes"
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"time"
)

// A measurement build's switches (bench on the GPU host), to compare settings in one binary:
// PGPARQUET_PLAN=equal goes back to ranges of equal size; PGPARQUET_LANE_QUEUE=N lets N
// filled buffers wait between a lane's receiver and its writer; PGPARQUET_CHUNKS=go keeps the
// string pages' chunks in Go memory rather than the GPU writer's pinned memory;
// PGPARQUET_PEAK_HEAP_PROFILE=FILE writes, every time the Go heap's objects reach a new
// high (sampled every 50 ms), a heap profile to FILE: where the live heap was at its peak.
func init() {
	if os.Getenv("PGPARQUET_CHUNKS") == "go" {
		goChunks = true
	}
	if os.Getenv("PGPARQUET_PLAN") == "equal" {
		planWorkers = func(int) int { return 0 }
	}
	if n, err := strconv.Atoi(os.Getenv("PGPARQUET_LANE_QUEUE")); err == nil && n >= 0 {
		laneQueue = n
	}
	if path := os.Getenv("PGPARQUET_PEAK_HEAP_PROFILE"); path != "" {
		go peakHeapProfiles(path)
	}
}

// peakHeapProfiles writes a heap profile to path whenever the heap's objects reach a new high.
func peakHeapProfiles(path string) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	var buf bytes.Buffer
	for range time.Tick(50 * time.Millisecond) {
		metrics.Read(s)
		if v := s[0].Value.Uint64(); v > peak+(8<<20) {
			peak = v
			buf.Reset()
			if pprof.Lookup("heap").WriteTo(&buf, 0) == nil {
				_ = os.WriteFile(path, buf.Bytes(), 0o644)
			}
		}
	}
}
