package export

import (
	"os"
	"runtime"
	"testing"
)

// TestExportProcs: GOMAXPROCS is gpuWriterProcs per export while every running export writes
// through the GPU writer, the default while any other runs and once none does, and the
// environment's own GOMAXPROCS is left alone.
func TestExportProcs(t *testing.T) {
	t.Setenv("GOMAXPROCS", "")
	os.Unsetenv("GOMAXPROCS")
	runtime.SetDefaultGOMAXPROCS()
	def := runtime.GOMAXPROCS(0)
	t.Cleanup(func() {
		runtime.SetDefaultGOMAXPROCS()
		exportProcs = procsLimiter{}
	})
	exportProcs = procsLimiter{}
	runtime.GOMAXPROCS(16) // as on a host of 16 cores, whatever this one has
	a, b := holdProcs(), holdProcs()
	var c *procsHold
	steps := []struct {
		name string
		do   func()
		want int
	}{
		{"two exports on the CPU", func() {}, 16},
		{"one writes through the GPU writer", a.gpuWriter, 16},
		{"it says so twice", a.gpuWriter, 16},
		{"both do", b.gpuWriter, 2 * gpuWriterProcs},
		{"the first ends", a.release, gpuWriterProcs},
		{"it ends twice", a.release, gpuWriterProcs},
		{"an export on the CPU starts", func() { c = holdProcs() }, def},
		{"it ends", func() { c.release() }, min(def, gpuWriterProcs)}, // the default is this host's again
		{"the last ends", b.release, def},
	}
	for _, s := range steps {
		s.do()
		if got := runtime.GOMAXPROCS(0); got != s.want {
			t.Errorf("%s: GOMAXPROCS %d, want %d", s.name, got, s.want)
		}
	}
	if exportProcs.running != 0 || exportProcs.gpu != 0 {
		t.Errorf("left %d running, %d on the GPU writer", exportProcs.running, exportProcs.gpu)
	}

	t.Setenv("GOMAXPROCS", "3")
	exportProcs = procsLimiter{}
	runtime.GOMAXPROCS(3)
	h := holdProcs()
	h.gpuWriter()
	if got := runtime.GOMAXPROCS(0); got != 3 {
		t.Errorf("GOMAXPROCS of the environment's own: %d, want 3", got)
	}
	h.release()
}
