//go:build measure

package export

import (
	"os"
	"strconv"
)

// A measurement build's switches (bench on the GPU host), to compare settings in one binary:
// PGPARQUET_PLAN=equal goes back to ranges of equal size; PGPARQUET_LANE_QUEUE=N lets N
// filled buffers wait between a lane's receiver and its writer; PGPARQUET_CHUNKS=go keeps the
// string pages' chunks in Go memory rather than the GPU writer's pinned memory.
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
}
