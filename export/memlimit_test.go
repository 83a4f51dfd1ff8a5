package export

import (
	"math"
	"os"
	"runtime/debug"
	"testing"

	"github.com/pgparquet/pgparquet/snapshot"
)

// TestLimitMemory: the running exports' budgets add up to the soft memory limit, which goes
// back to none when the last ends; a limit the process set itself is left alone.
func TestLimitMemory(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetMemoryLimit(before)
		memoryLimit.known, memoryLimit.own, memoryLimit.total, memoryLimit.gpu = false, false, 0, 0
	})
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")
	os.Unsetenv("GOGC")
	limit := func() int64 { return debug.SetMemoryLimit(-1) }
	gcPercent := func() int { p := debug.SetGCPercent(-1); debug.SetGCPercent(p); return p }
	gcBefore := gcPercent()

	debug.SetMemoryLimit(math.MaxInt64)
	memoryLimit.known = false
	a := limitMemory(100 << 20)
	b := limitMemory(50 << 20)
	var gpuDone func()
	steps := []struct {
		name string
		do   func()
		want int64
		gpu  bool // gpuGCPercent expected
	}{
		{"two exports", func() {}, 150 << 20, false},
		{"one writes through the GPU writer", func() { gpuDone = gpuWriting() }, 150 << 20, true},
		{"its GPU writer ends", func() { gpuDone() }, 150 << 20, false},
		{"the GPU writer's end twice", func() { gpuDone() }, 150 << 20, false},
		{"the first ends", a, 50 << 20, false},
		{"released twice", a, 50 << 20, false},
		{"the last ends", b, math.MaxInt64, false},
	}
	for _, s := range steps {
		s.do()
		if got := limit(); got != s.want {
			t.Errorf("%s: limit %d, want %d", s.name, got, s.want)
		}
		wantGC := exportGCPercent
		switch {
		case s.gpu:
			wantGC = gpuGCPercent
		case s.want == math.MaxInt64:
			wantGC = gcBefore
		}
		if got := gcPercent(); got != wantGC {
			t.Errorf("%s: GC percent %d, want %d", s.name, got, wantGC)
		}
	}

	debug.SetMemoryLimit(1 << 30) // the process's own, as GOMEMLIMIT would set it
	memoryLimit.known = false
	c := limitMemory(100 << 20)
	if got := limit(); got != 1<<30 {
		t.Errorf("own limit: %d, want it kept", got)
	}
	c()
	if got := limit(); got != 1<<30 {
		t.Errorf("own limit after the export: %d, want it kept", got)
	}

	t.Setenv("GOGC", "200") // the process's own GC percent: left alone
	memoryLimit.known = false
	debug.SetGCPercent(200)
	d := limitMemory(100 << 20)
	done := gpuWriting()
	if got := gcPercent(); got != 200 {
		t.Errorf("own GOGC: GC percent %d, want it kept", got)
	}
	done()
	d()
	debug.SetGCPercent(gcBefore)
}

// TestMemoryBudget: the fixed allowances where a row group's size is not known (1536 MiB at 16
// lanes of 4 MiB buffers, as chosen on the H200 host; 1472 with the default 2 MiB), and the row group's share where it is, at most a page
// per leaf column: lineorder's heap (141 bytes a row, 17 leaves) and wide's (444, 19 leaves)
// at 16 lanes.
func TestMemoryBudget(t *testing.T) {
	for _, tt := range []struct {
		lanes, buffer int
		rowGroup      int64
		leaves        int
		wantMiB       int64
	}{
		{16, 4 << 20, 0, 17, 1536},
		{16, DefaultBufferSize, 0, 17, 1472},
		{4, 4 << 20, 0, 17, 480},
		{1, MinBufferSize, 0, 17, 208},
		{16, 4 << 20, DefaultRowGroupSize * 141, 17, 904},
		{16, 4 << 20, DefaultRowGroupSize * 444, 19, 944},
		{16, 4 << 20, DefaultRowGroupSize * 444, 100, 1472},
	} {
		if got := memoryBudget(tt.lanes, tt.buffer, tt.rowGroup, tt.leaves) >> 20; got != tt.wantMiB {
			t.Errorf("%d lanes of %d B, row groups of %d B in %d leaves: budget %d MiB, want %d", tt.lanes, tt.buffer, tt.rowGroup, tt.leaves, got, tt.wantMiB)
		}
	}
}

// TestRowGroupBytes: a row's share of the heap times the rows of a row group, or of a lane's
// share of a smaller table; unknown without counted rows or with a source without pages.
func TestRowGroupBytes(t *testing.T) {
	rel := func(rows int64, pages ...int64) *snapshot.Relation {
		r := &snapshot.Relation{EstimatedRows: rows}
		for _, p := range pages {
			r.Sources = append(r.Sources, snapshot.Source{Pages: p})
		}
		return r
	}
	for _, tt := range []struct {
		name  string
		rel   *snapshot.Relation
		lanes int
		want  int64
	}{
		{"lineorder 40M", rel(40_000_000, 690_000), 16, DefaultRowGroupSize * (690_000 * 8192 / 40_000_000)},
		{"partitions", rel(40_000_000, 345_000, 345_000), 16, DefaultRowGroupSize * (690_000 * 8192 / 40_000_000)},
		{"small table", rel(1000, 10), 4, 251 * (10 * 8192 / 1000)},
		{"never analyzed", rel(-1, 100), 16, 0},
		{"empty", rel(0, 0), 16, 0},
		{"a view", rel(1000, -1), 16, 0},
	} {
		if got := rowGroupBytes(tt.rel, tt.lanes, DefaultRowGroupSize); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
