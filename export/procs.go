package export

import (
	"math"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// GOMAXPROCS while exports run. The GPU writer's CPU work is receiving, a few Go encoders and
// the device's calls: about two cores of lineorder's or wide's at P=16 on the H200. With a P
// per core, the lanes that wait on the device or on their sockets keep waking spinning Ps:
// with GOMAXPROCS 4 instead of 16, lineorder's GPU writer took 10.3-10.8 CPU-s instead of
// 11.9-12.7 and wide's 8.6-9.1 instead of 10.3-10.9, at the same speed (two interleaved
// rounds; 8 and 6 in between; bench/results/gpuhost-h200-2026-11-30-s17e.log; session 9 had
// found the same on older code). But 4 Ps bind where the GPU writer is fed faster: the
// pipeline alone (TestPipelineAlone, 2.9 cores busy at 4.6 GB/s) ran at 4.56-4.57 GB/s on 4
// against 4.75-4.86 on 8 or 16 (s17h).
//
// So while every running export writes through the GPU writer and has its pages compressed
// there too (pageEncoding.onGPU), GOMAXPROCS follows the process's CPU use: every
// procsInterval it is the cores the process used over the interval divided by procsBusy,
// rounded up, at least gpuWriterProcs per such export and at most the default. The CPU path,
// and pages compressed on the CPU, want every core, so any other running export (a sidecar's)
// gives the process its default back at once. A GOMAXPROCS of the process's own (the
// environment's) is left alone.
const (
	// gpuWriterProcs is the least GOMAXPROCS per running export of the GPU writer.
	gpuWriterProcs = 4
	// procsBusy is the share of its Ps the process may keep busy before it gets more: at 4,
	// lineorder's and wide's exports used 1.9-2.3 cores (s17c, s17g).
	procsBusy = 0.6
	// procsInterval is how often the CPU use is looked at.
	procsInterval = 500 * time.Millisecond
)

// exportProcs is the process's GOMAXPROCS as the running exports set it.
var exportProcs = procsLimiter{cpuTime: processCPU}

// procsLimiter is the state behind exportProcs.
type procsLimiter struct {
	sync.Mutex
	running, gpu int  // running exports, and those of them that write through the GPU writer
	own, known   bool // GOMAXPROCS is in the environment: leave it (looked up once)
	def          int  // GOMAXPROCS before it was lowered; 0 while it is not
	stop         chan struct{}
	cpuTime      func() time.Duration // the process's CPU time so far (tests replace it)
}

// procsHold is one running export's part in exportProcs, from holdProcs to release. Its fields
// are exportProcs': read and written under its lock.
type procsHold struct {
	gpu, released bool
}

// holdProcs counts an export as running (on the CPU until gpuWriter says otherwise) until
// release.
func holdProcs() *procsHold {
	m := &exportProcs
	m.Lock()
	defer m.Unlock()
	if !m.known {
		_, m.own = os.LookupEnv("GOMAXPROCS")
		m.known = true
	}
	m.running++
	m.set()
	return &procsHold{}
}

// gpuWriter says the export writes through the GPU writer (its pages are encoded and
// compressed on the GPU); calls after the first, or after release, do nothing.
func (h *procsHold) gpuWriter() {
	if h == nil {
		return
	}
	m := &exportProcs
	m.Lock()
	defer m.Unlock()
	if h.gpu || h.released {
		return
	}
	h.gpu = true
	m.gpu++
	m.set()
}

// release ends the export's part; calls after the first do nothing.
func (h *procsHold) release() {
	if h == nil {
		return
	}
	m := &exportProcs
	m.Lock()
	defer m.Unlock()
	if h.released {
		return
	}
	h.released = true
	m.running--
	if h.gpu {
		m.gpu--
	}
	m.set()
}

// floor is the least GOMAXPROCS for the running GPU writer exports. The caller holds m.
func (m *procsLimiter) floor() int { return min(m.def, gpuWriterProcs*m.gpu) }

// set applies the running exports' GOMAXPROCS: lowered to floor while only GPU writer exports
// run, then following their CPU use (follow); the default otherwise. The caller holds m.
func (m *procsLimiter) set() {
	if m.own {
		return
	}
	if m.running > 0 && m.gpu == m.running {
		if m.def == 0 {
			m.def = runtime.GOMAXPROCS(0)
			m.stop = make(chan struct{})
			go m.follow(m.stop, m.cpuTime)
		}
		runtime.GOMAXPROCS(m.floor())
		return
	}
	if m.def != 0 {
		close(m.stop)
		m.def, m.stop = 0, nil
		// The runtime's default (cores, or the container's CPU limit), which it then follows
		// again: pgparquet sets GOMAXPROCS nowhere else.
		runtime.SetDefaultGOMAXPROCS()
	}
}

// follow sets GOMAXPROCS from the process's CPU use (cpuTime) every procsInterval until stop
// closes.
func (m *procsLimiter) follow(stop chan struct{}, cpuTime func() time.Duration) {
	t := time.NewTicker(procsInterval)
	defer t.Stop()
	last, lastCPU := time.Now(), cpuTime()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			cpu := cpuTime()
			m.adjust(stop, (cpu-lastCPU).Seconds()/now.Sub(last).Seconds())
			last, lastCPU = now, cpu
		}
	}
}

// adjust sets GOMAXPROCS for a process that used cores on average over the last interval,
// unless stop was closed (the default is back).
func (m *procsLimiter) adjust(stop chan struct{}, cores float64) {
	m.Lock()
	defer m.Unlock()
	select {
	case <-stop:
		return
	default:
	}
	want := int(math.Ceil(cores / procsBusy))
	runtime.GOMAXPROCS(max(m.floor(), min(m.def, want)))
}

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
