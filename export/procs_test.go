package export

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// TestExportProcs: GOMAXPROCS is at least gpuWriterProcs per export while every running export
// writes through the GPU writer, the default while any other runs and once none does, and the
// environment's own GOMAXPROCS is left alone.
func TestExportProcs(t *testing.T) {
	t.Setenv("GOMAXPROCS", "")
	os.Unsetenv("GOMAXPROCS")
	runtime.SetDefaultGOMAXPROCS()
	def := runtime.GOMAXPROCS(0)
	t.Cleanup(func() {
		runtime.SetDefaultGOMAXPROCS()
		exportProcs = procsLimiter{cpuTime: processCPU}
	})
	exportProcs = procsLimiter{cpuTime: func() time.Duration { return 0 }} // an idle process: the floor
	runtime.GOMAXPROCS(16)                                                 // as on a host of 16 cores, whatever this one has
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
	if exportProcs.running != 0 || exportProcs.gpu != 0 || exportProcs.def != 0 {
		t.Errorf("left %d running, %d on the GPU writer, default %d", exportProcs.running, exportProcs.gpu, exportProcs.def)
	}

	t.Setenv("GOMAXPROCS", "3")
	exportProcs = procsLimiter{cpuTime: processCPU}
	runtime.GOMAXPROCS(3)
	h := holdProcs()
	h.gpuWriter()
	if got := runtime.GOMAXPROCS(0); got != 3 {
		t.Errorf("GOMAXPROCS of the environment's own: %d, want 3", got)
	}
	h.release()
}

// TestExportProcsFollowCPU: while only GPU writer exports run, GOMAXPROCS is the cores the
// process used over an interval over procsBusy, rounded up, between their floor and the
// default; and follows it there from the process's CPU time.
func TestExportProcsFollowCPU(t *testing.T) {
	t.Cleanup(func() {
		runtime.SetDefaultGOMAXPROCS()
		exportProcs = procsLimiter{cpuTime: processCPU}
	})
	stop := make(chan struct{})
	m := &exportProcs
	*m = procsLimiter{def: 16, gpu: 1, running: 1, stop: stop, known: true}
	for _, c := range []struct {
		gpu   int
		cores float64
		want  int
	}{
		{1, 0, 4},
		{1, 1.9, 4}, // lineorder's and wide's exports at 4 (s17c, s17g)
		{1, 2.3, 4},
		{1, 2.9, 5}, // the pipeline alone at 4 (s17h)
		{1, 3.5, 6},
		{1, 30, 16},
		{2, 1, 8},
		{2, 6, 10},
	} {
		m.gpu, m.running = c.gpu, c.gpu
		m.adjust(stop, c.cores)
		if got := runtime.GOMAXPROCS(0); got != c.want {
			t.Errorf("%d GPU writer exports using %.1f cores: GOMAXPROCS %d, want %d", c.gpu, c.cores, got, c.want)
		}
	}
	close(stop)
	runtime.GOMAXPROCS(7)
	m.adjust(stop, 30) // the default came back meanwhile: leave it
	if got := runtime.GOMAXPROCS(0); got != 7 {
		t.Errorf("adjusted after stop: GOMAXPROCS %d", got)
	}

	// From the process's CPU time: 1.5 s of it every 0.5 s is 3 cores, so 5 Ps.
	var cpu time.Duration
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	runtime.GOMAXPROCS(16)
	*m = procsLimiter{gpu: 1, running: 1, known: true, cpuTime: func() time.Duration {
		<-mu
		defer func() { mu <- struct{}{} }()
		cpu += 3 * procsInterval
		return cpu
	}}
	m.Lock()
	m.set()
	m.Unlock()
	deadline := time.Now().Add(10 * procsInterval)
	for runtime.GOMAXPROCS(0) != 5 && time.Now().Before(deadline) {
		time.Sleep(procsInterval / 10)
	}
	if got := runtime.GOMAXPROCS(0); got != 5 {
		t.Errorf("following 3 cores of CPU time: GOMAXPROCS %d, want 5", got)
	}
	m.Lock()
	m.running, m.gpu = 0, 0
	m.set()
	m.Unlock()
}
