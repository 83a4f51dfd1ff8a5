package export

import (
	"math"
	"os"
	"runtime/debug"
	"sync"
)

// The Go collector lets the heap grow to twice what is live (GOGC=100) before it collects. An
// export's live memory is bounded (receive buffers, and per lane a decoded batch, a row group's
// pages, a zstd encoder), but at 16 lanes it is 0.6-0.75 GB, so its RSS reached 1.1-1.4 GB on
// a 2-core VM and 1.9-2.5 GB on the GPU host, the doubling on top of a bound that holds. While exports run,
// a soft memory limit (debug.SetMemoryLimit) of what they hold at most makes the collector run
// before the heap doubles, and only then: below the limit GOGC paces it as before.
//
// The limit is the sum of the running exports' memoryBudget, so concurrent exports in one
// process (the sidecar) each count; it is removed when the last one ends. A process given a
// limit of its own (GOMEMLIMIT in the environment, "off" included) keeps it: the exports then
// leave the limit alone.
//
// While exports run, the collector also lets the heap grow by exportGCPercent of what is live
// rather than GOGC's 100, unless GOGC is in the environment: an export's live heap is mostly
// pointer-free buffers (receive buffers, pages, decoded columns), which the collector marks
// for nothing, so collecting twice as often costs little. On the 2-core VM (lineorder 10M
// rows, 16 lanes, CPU path) 50 took peak RSS from 848-888 MB to 675-685 at the same CPU-s
// (6.8-7.0) and wall time; 30 cost 30% more wall time. wide: 856-868 MB to 731-752.

// Per-lane and per-export allowances of memoryBudget. Live memory per lane is more on a
// 16-core host than on the 2-core VM (more is in flight at once), and a limit below what is
// live makes the collector run without pause. On the H200 host (lineorder 40M rows, 16 lanes,
// CPU path, bench/results/gpuhost-h200-2026-11-29-r6c.log) a limit of 1100 MiB held RSS at
// 1.04 GB but cost 15-20% wall time and 20% CPU; 1400 MiB 1.29 GB and +5%; 1700 MiB 1.60 GB
// at no cost (no limit: 1.85-1.91 GB), with the live memory of then. The allowances give 1536
// MiB at 16 lanes (1728 then, less what the smaller zstd encoders no longer hold). The GPU
// writer's RSS (0.98-1.05 GiB, bench/results/gpuhost-h200-2026-11-30-r9.json) is under the
// limit: 0.42-0.46 GiB of it is pinned memory (receive and page buffers, decoded batches),
// which no Go limit changes, and its Go heap peaks at 0.39-0.45 GB with GOGC alone.
const (
	// laneBytes is one lane's memory besides its receive buffers: the zstd encoder (6 MiB with
	// device.cpuZstd's 2 MiB window; arrow-go's own reserved 18), a decoded batch, the row
	// group's compressed pages, the Parquet writer's page buffers and dictionaries, the file's
	// write buffer, the COPY read block (36 MiB measured live on the VM), and what more a
	// 16-core host keeps in flight. It was 88 MiB with three receive buffers per lane and
	// arrow-go's zstd encoders: 4 MiB more for the third buffer's share, 12 less for the
	// encoder, keep the headroom over live memory that was measured.
	laneBytes = 80 << 20
	// exportBytes is an export's memory outside its lanes (catalog, plan, connections,
	// manifest), the runtime's own, and room for the collector: with less, exports of few
	// lanes collect so often that they lose 10-25% CPU (4 lanes, 64 MiB here).
	exportBytes = 128 << 20
)

// memoryBudget is the most memory an export of lanes lanes with receive buffers of bufferSize
// bytes is expected to hold live.
func memoryBudget(lanes, bufferSize int) int64 {
	return exportBytes + int64(lanes)*(buffersPerWorker*int64(bufferSize)+laneBytes)
}

// memoryLimit is the process's soft memory limit as the running exports set it.
var memoryLimit struct {
	sync.Mutex
	total int64 // the running exports' budgets
	own   bool  // the process has a limit of its own: leave it
	known bool  // own and ownGC were looked up
	ownGC bool  // GOGC is in the environment: leave the GC percent alone
	gcWas int   // the GC percent before the first running export set exportGCPercent
}

// exportGCPercent is the GC percent while exports run (see above).
const exportGCPercent = 50

// limitMemory adds budget to the soft memory limit, and sets exportGCPercent while any budget
// is held, until the returned function is called.
func limitMemory(budget int64) (release func()) {
	m := &memoryLimit
	m.Lock()
	defer m.Unlock()
	if !m.known {
		m.own = os.Getenv("GOMEMLIMIT") != "" || debug.SetMemoryLimit(-1) != math.MaxInt64
		_, m.ownGC = os.LookupEnv("GOGC")
		m.known = true
	}
	if m.total == 0 && !m.ownGC {
		m.gcWas = debug.SetGCPercent(exportGCPercent)
	}
	m.total += budget
	if !m.own {
		debug.SetMemoryLimit(m.total)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			m.Lock()
			defer m.Unlock()
			m.total -= budget
			switch {
			case m.own:
			case m.total == 0:
				debug.SetMemoryLimit(math.MaxInt64)
			default:
				debug.SetMemoryLimit(m.total)
			}
			if m.total == 0 && !m.ownGC {
				debug.SetGCPercent(m.gcWas)
			}
		})
	}
}
