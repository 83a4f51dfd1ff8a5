package gpuparse

import (
	"context"
	"runtime"
	"golang.org/x/sys/unix"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

func threadCPU() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return time.Duration(ts.Nano())
}

func TestZZCPUTime(t *testing.T) {
	cols, data, starts := lineorderChunk(4 << 20 / 174)
	dec := NewCPUDecoder(cols, memory.NewGoAllocator())
	c := &Chunk{Data: data, RowStarts: starts}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	best := time.Hour
	for r := 0; r < 9; r++ {
		t0 := threadCPU()
		const n = 20
		for i := 0; i < n; i++ {
			rec, _ := dec.Decode(context.Background(), c)
			rec.Release()
		}
		el := (threadCPU() - t0) / n
		best = min(best, el)
	}
	t.Logf("best thread CPU per decode %v: %.0f MB/s", best, float64(len(data))/best.Seconds()/1e6)
}
