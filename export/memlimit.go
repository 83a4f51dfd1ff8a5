package export

import (
	"math"
	"os"
	"runtime/debug"
	"sync"

	"github.com/pgparquet/pgparquet/snapshot"
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
// at no cost (no limit: 1.85-1.91 GB), with the live memory of then.
//
// What a lane holds follows its row group: the pages of its columns until the row group ends,
// whose size is the row's. Where the table's rows were counted (pg_class.reltuples) and its
// heap measured, a lane is allowed laneBaseBytes plus a row group of heap rows (a row's
// share of the heap pages, which holds its values and their headers: 141 bytes on lineorder,
// which sends 170 per row and lives at 0.66-0.68 GB at 16 lanes on the H200 (s13b)), but no
// more than a page (pageBytes) per Parquet leaf column: the pages being gathered, a page per
// column at most, and the row group's compressed pages, a fraction of its heap bytes. Wide's
// rows (444 heap bytes, 19 leaves) so get 19 MiB instead of 52: 944 MiB at 16 lanes instead
// of 1472, which no longer held its peak RSS once its live heap was 0.75-0.8 GB (session 15:
// 1.08-1.14 GiB on the 2-core VM with GOMAXPROCS=16; 0.95-0.96 with the limit, CPU within
// 2-3%); lineorder (17 leaves) keeps 904 (these with the GPU's 4 MiB receive buffers: 64 MiB
// less with the CPU decoder's 2 MiB). Otherwise laneBytes. With the GC percent of 50, lineorder's CPU path peaked at 1.01 GiB RSS on the
// H200 (s13b) under the former fixed 1536 MiB; on the 2-core VM with GOMAXPROCS=16, 900 MiB
// took it from 1.04-1.06 GB to 0.90-0.92 at the same CPU (800 MiB: 0.79, +5% CPU). The GPU
// writer's Go heap stays under the limit, which does not bind there: its receive buffers,
// decoded columns and fixed-width page buffers are pinned memory, outside Go's heap and
// limit (0.33-0.36 GiB of wide's 0.93 GiB peak RSS on the H200, s16d, s16f; the driver maps
// 0.07 more), and its heap peaks at 0.25-0.30 GB on lineorder and 0.38-0.42 on wide (string
// pages on their way to the device: gpuGCPercent below).
const (
	// laneBytes is one lane's memory besides its receive buffers when its row group's size is
	// not known: the zstd encoder, a decoded batch, the row group's pages, the file's write
	// buffer, and what more a 16-core host keeps in flight.
	laneBytes = 80 << 20
	// laneBaseBytes is one lane's memory besides its receive buffers and its row group's pages:
	// a decoded batch (about a receive buffer's worth), compressed pages, the write buffer,
	// dictionaries, the zstd encoder of builds without cgo (4 MiB with device.cpuZstd's 1 MiB
	// window; libzstd's contexts are C memory, outside the heap).
	laneBaseBytes = 24 << 20
	// exportBytes is an export's memory outside its lanes (catalog, plan, connections,
	// manifest), the runtime's own, and room for the collector: with less, exports of few
	// lanes collect so often that they lose 10-25% CPU (4 lanes, 64 MiB here).
	exportBytes = 128 << 20
)

// memoryBudget is the most memory an export of lanes lanes with receive buffers of bufferSize
// bytes is expected to hold live, when each lane's row group holds rowGroupBytes of rows (0:
// not known) in leaves Parquet leaf columns.
func memoryBudget(lanes, bufferSize int, rowGroupBytes int64, leaves int) int64 {
	lane := int64(laneBytes)
	if rowGroupBytes > 0 {
		lane = laneBaseBytes + min(rowGroupBytes, int64(leaves)*int64(pageBytes))
	}
	return exportBytes + int64(lanes)*(buffersPerWorker*int64(bufferSize)+lane)
}

// rowGroupBytes estimates a lane's row group's bytes from rel's heap: a row's share of its
// sources' pages (measured inside the snapshot) times the rows of a row group (rowGroupRows,
// or a lane's share of the table when that is less); 0 when rel's rows were never counted
// (ANALYZE) or a source has no pages (a view, a foreign table).
func rowGroupBytes(rel *snapshot.Relation, lanes int, rowGroupRows int64) int64 {
	if rel.EstimatedRows <= 0 || lanes < 1 {
		return 0
	}
	var pages int64
	for _, s := range rel.Sources {
		if s.Pages < 0 {
			return 0
		}
		pages += s.Pages
	}
	rowBytes := pages * 8192 / rel.EstimatedRows
	return min(rowGroupRows, rel.EstimatedRows/int64(lanes)+1) * rowBytes
}

// memoryLimit is the process's soft memory limit as the running exports set it.
var memoryLimit memoryLimiter

// memoryLimiter is the state behind memoryLimit.
type memoryLimiter struct {
	sync.Mutex
	total int64 // the running exports' budgets
	own   bool  // the process has a limit of its own: leave it
	known bool  // own and ownGC were looked up
	ownGC bool  // GOGC is in the environment: leave the GC percent alone
	gcWas int   // the GC percent before the first running export set exportGCPercent
	gpu   int   // running exports that gather the GPU writer's string pages (gpuWriting)
}

// exportGCPercent is the GC percent while exports run (see above); gpuGCPercent while one of
// them gathers the GPU writer's string pages (gpuWriting). That export's Go heap was mostly
// pages on their way to the device (its receive buffers, decoded columns and
// fixed-width page buffers are pinned memory, outside the heap but in RSS), and its
// collections cost little: on the H200 (P=16, s16c, one call), 35 took wide's peak heap from
// 490-530 MB to about 400 and its peak RSS from 1.02-1.04 GiB to 0.95-0.96, at 9.7-10.1 CPU-s
// against 9.1-9.8, and lineorder's CPU from 9.6-10.4 to 10.1-10.5 CPU-s (RSS 0.75-0.80 GiB
// either way); 25 cost 10% more CPU on both (s16b). With 512 KiB string pages
// (gpuBytePageBytes) too, wide peaked at 0.93 GiB (s16d). Since the string pages are gathered
// in pinned chunks (device.PageEncoder.ChunkPool), 35 still keeps wide's peak RSS at 0.92-0.93
// GiB against 0.92-0.95 at 50, for 3% more CPU (s23d, four rounds). Like the limit, the
// percent is the process's: a sidecar's other exports collect at gpuGCPercent too while such an
// export runs.
const (
	exportGCPercent = 50
	gpuGCPercent    = 35
)

// gcPercent is the GC percent for the running exports. The caller holds m.
func (m *memoryLimiter) gcPercent() int {
	if m.gpu > 0 {
		return gpuGCPercent
	}
	return exportGCPercent
}

// setGCPercent sets gcPercent while exports hold budgets, unless GOGC is the process's own.
// The caller holds m.
func (m *memoryLimiter) setGCPercent() {
	if m.total > 0 && !m.ownGC {
		debug.SetGCPercent(m.gcPercent())
	}
}

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
		m.gcWas = debug.SetGCPercent(m.gcPercent())
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

// gpuWriting sets gpuGCPercent while an export that holds a budget (limitMemory) gathers the
// GPU writer's string pages, until the returned function is called (before the
// budget's release).
func gpuWriting() (done func()) {
	m := &memoryLimit
	m.Lock()
	defer m.Unlock()
	m.gpu++
	m.setGCPercent()
	var once sync.Once
	return func() {
		once.Do(func() {
			m.Lock()
			defer m.Unlock()
			m.gpu--
			m.setGCPercent()
		})
	}
}
