package export

import (
	"math"
	"os"
	"runtime/debug"
	"testing"
)

// TestLimitMemory: the running exports' budgets add up to the soft memory limit, which goes
// back to none when the last ends; a limit the process set itself is left alone.
func TestLimitMemory(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetMemoryLimit(before)
		memoryLimit.known, memoryLimit.own, memoryLimit.total = false, false, 0
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
	steps := []struct {
		name string
		do   func()
		want int64
	}{
		{"two exports", func() {}, 150 << 20},
		{"the first ends", a, 50 << 20},
		{"released twice", a, 50 << 20},
		{"the last ends", b, math.MaxInt64},
	}
	for _, s := range steps {
		s.do()
		if got := limit(); got != s.want {
			t.Errorf("%s: limit %d, want %d", s.name, got, s.want)
		}
		wantGC := exportGCPercent
		if s.want == math.MaxInt64 {
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
	if got := gcPercent(); got != 200 {
		t.Errorf("own GOGC: GC percent %d, want it kept", got)
	}
	d()
	debug.SetGCPercent(gcBefore)
}

// TestMemoryBudget: the limits chosen on the H200 host (16 lanes: 1728 MiB, RSS 1.6 GB at no
// cost in CPU or wall time, less the 12 MiB per lane the CPU's zstd encoders no longer hold).
func TestMemoryBudget(t *testing.T) {
	for _, tt := range []struct{ lanes, buffer, wantMiB int }{{16, DefaultBufferSize, 1536}, {4, DefaultBufferSize, 480}, {1, MinBufferSize, 208}} {
		if got := memoryBudget(tt.lanes, tt.buffer) >> 20; got != int64(tt.wantMiB) {
			t.Errorf("%d lanes of %d B: budget %d MiB, want %d", tt.lanes, tt.buffer, got, tt.wantMiB)
		}
	}
}
