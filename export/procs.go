package export

import (
	"os"
	"runtime"
	"sync"
)

// GOMAXPROCS while exports run. The GPU writer's CPU work is receiving, a few Go encoders and
// the device's calls: about two cores of lineorder's or wide's at P=16 on the H200. With a P
// per core, the lanes that wait on the device or on their sockets keep waking spinning Ps:
// with GOMAXPROCS 4 instead of 16, lineorder's GPU writer took 10.3-10.8 CPU-s instead of
// 11.9-12.7 and wide's 8.6-9.1 instead of 10.3-10.9, at the same speed (two interleaved
// rounds; 8 and 6 in between; bench/results/gpuhost-h200-2026-11-30-s17e.log; session 9 had
// found the same on older code). So while every running export writes through the GPU writer
// and has its pages compressed there too (pageEncoding.onGPU), GOMAXPROCS is gpuWriterProcs
// per such export (at most the default); the CPU path, and pages compressed on the CPU, want
// every core, so any other running export (a sidecar's) gives the process its default back. A
// GOMAXPROCS of the process's own (the environment's) is left alone.

// gpuWriterProcs is GOMAXPROCS per running export of the GPU writer.
const gpuWriterProcs = 4

// exportProcs is the process's GOMAXPROCS as the running exports set it.
var exportProcs procsLimiter

// procsLimiter is the state behind exportProcs.
type procsLimiter struct {
	sync.Mutex
	running, gpu int  // running exports, and those of them that write through the GPU writer
	own, known   bool // GOMAXPROCS is in the environment: leave it (looked up once)
	lowered      bool // GOMAXPROCS was set here and not given back yet
	def          int  // GOMAXPROCS before it was lowered
}

// procsHold is one running export's part in exportProcs, from holdProcs to release.
type procsHold struct {
	mu       sync.Mutex
	gpu      bool
	released bool
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

// gpuWriter says the export writes through the GPU writer (its pages are encoded on the GPU);
// calls after the first, or after release, do nothing.
func (h *procsHold) gpuWriter() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gpu || h.released {
		return
	}
	h.gpu = true
	m := &exportProcs
	m.Lock()
	defer m.Unlock()
	m.gpu++
	m.set()
}

// release ends the export's part; calls after the first do nothing.
func (h *procsHold) release() {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		return
	}
	h.released = true
	m := &exportProcs
	m.Lock()
	defer m.Unlock()
	m.running--
	if h.gpu {
		m.gpu--
	}
	m.set()
}

// set applies the running exports' GOMAXPROCS. The caller holds m.
func (m *procsLimiter) set() {
	if m.own {
		return
	}
	if m.running > 0 && m.gpu == m.running {
		if !m.lowered {
			m.def, m.lowered = runtime.GOMAXPROCS(0), true
		}
		runtime.GOMAXPROCS(min(m.def, gpuWriterProcs*m.gpu))
		return
	}
	if m.lowered {
		// The runtime's default (cores, or the container's CPU limit), which it then follows
		// again: pgparquet sets GOMAXPROCS nowhere else.
		runtime.SetDefaultGOMAXPROCS()
		m.lowered = false
	}
}
