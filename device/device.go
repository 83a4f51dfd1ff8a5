package device

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pgparquet/pgparquet/gpuparse"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// Mode says whether an export may, must or must not use the GPU.
type Mode string

// The modes of --gpu.
const (
	ModeAuto Mode = "auto" // use the GPU when a device is present and the library loads
	ModeOn   Mode = "on"   // fail unless the GPU decoder can be used
	ModeOff  Mode = "off"  // never touch the GPU
)

// ParseMode parses "auto", "on" or "off".
func ParseMode(s string) (Mode, error) {
	if m := Mode(s); m.Valid() {
		return m, nil
	}
	return "", fmt.Errorf("%q is not auto, on or off", s)
}

// Valid reports whether m is one of the modes.
func (m Mode) Valid() bool { return m == ModeAuto || m == ModeOn || m == ModeOff }

// Decoder paths, as Decoder.Path reports them.
const (
	pathCPU = "cpu"
	pathGPU = "gpu"
)

// cudaLibraryName is the file name `make cuda` gives the CUDA decoder library.
const cudaLibraryName = "libpgparquet_cuda.so"

// deviceBytesPerChunk is a generous bound on the device memory one chunk in flight takes (its
// bytes, field table, outputs and scan space for a default 4 MiB buffer, all grown by 25%).
const deviceBytesPerChunk = 48 << 20

// maxInFlight bounds the chunks on the device at once whatever its free memory.
const maxInFlight = 64

// Device is the GPU as one export sees it: the driver probe and the CUDA library, readied in
// the background by Start, and the decoders made from them. Nothing outside this package
// touches the driver, the library, CUDA or pinned memory.
//
// A Device is safe for concurrent use. It holds nothing that needs closing: the library stays
// mapped for the life of the process, and each Decoder frees what it allocated.
type Device struct {
	mode Mode
	log  *slog.Logger
	done chan struct{} // closed once the probe is over (at once for ModeOff)
	lib  *library      // set before done closes; nil if the GPU cannot be used
	free uint64        // device memory free, bytes
	err  error         // why the GPU cannot be used, set before done closes
	// startup is how long the probe's steps took, set before done closes.
	startup probeTimes

	// fused holds the fused columns of the batches its decoders decode while a PageEncoder of
	// its is open (pgpq_finish_fused), for the page encoders to take.
	fused fusedResults

	// The pinned allocators made, by role, for CallStats.
	pinnedMu sync.Mutex
	pinned   []rolePinned
}

// probeTimes is how long Start's probe took, each from its start: the driver query (go-nvml),
// the CUDA library's load with the device count, and the whole probe (GPU compression's start,
// nvCOMP's load, included).
type probeTimes struct {
	driver, library, total time.Duration
}

// rolePinned is a pinned allocator and what its memory is for.
type rolePinned struct {
	role string
	a    *pinnedAllocator
}

// track keeps a for CallStats, when the library counts ($PGPARQUET_CUDA_CALLSTATS): a Device
// may serve exports for the life of a process.
func (d *Device) track(role string, a *pinnedAllocator) {
	if os.Getenv("PGPARQUET_CUDA_CALLSTATS") == "" {
		return
	}
	d.pinnedMu.Lock()
	defer d.pinnedMu.Unlock()
	d.pinned = append(d.pinned, rolePinned{role, a})
}

// Start begins readying the GPU for mode and returns at once: finding the GPU (the NVIDIA
// driver, through go-nvml) and loading the CUDA decoder library with device 0's context take a
// few hundred milliseconds, which the caller spends meanwhile (taking its snapshot, opening its
// connections). libPath names the library; empty: $PGPARQUET_CUDA_LIB, then
// libpgparquet_cuda.so beside the executable, in ../lib, and on the loader path. ModeOff never
// touches the GPU. log hears of the GPU's start and failures (nil: slog.Default()).
func Start(mode Mode, libPath string, log *slog.Logger) *Device {
	if log == nil {
		log = slog.Default()
	}
	d := &Device{mode: mode, log: log, done: make(chan struct{})}
	if mode == ModeOff {
		d.err = errors.New("--gpu off")
		close(d.done)
		return d
	}
	go func() {
		defer close(d.done)
		start := time.Now()
		// The driver query and the library load (with the context creation) each take a while:
		// both run at once.
		var nvmlErr error
		nvmlDone := make(chan struct{})
		go func() {
			defer close(nvmlDone)
			d.free, nvmlErr = nvidiaFreeMemory()
			d.startup.driver = time.Since(start)
		}()
		var errs []error
		for _, path := range cudaLibraryCandidates(libPath) {
			lib, err := loadCUDA(path)
			if err == nil {
				d.lib = lib
				break
			}
			errs = append(errs, err)
		}
		d.startup.library = time.Since(start)
		<-nvmlDone
		switch {
		case nvmlErr != nil:
			d.lib, d.err = nil, nvmlErr
		case d.lib == nil:
			d.err = errors.Join(errs...)
		default:
			startGPUCompression(d.lib, log)
		}
		d.startup.total = time.Since(start)
	}()
	return d
}

// cudaLibraryCandidates lists where to look for the CUDA decoder library, most specific first.
func cudaLibraryCandidates(explicit string) []string {
	if explicit != "" {
		return []string{explicit}
	}
	var out []string
	if env := os.Getenv("PGPARQUET_CUDA_LIB"); env != "" {
		out = append(out, env)
	}
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		out = append(out, filepath.Join(dir, cudaLibraryName), filepath.Join(dir, "..", "lib", cudaLibraryName))
	}
	return append(out, cudaLibraryName)
}

// MayDecode says, without waiting for the probe, whether exports are expected to decode on the
// GPU: false under ModeOff, or once the probe found the GPU unusable; true once it found it
// usable; while it runs, whether the NVIDIA driver is loaded (/proc/driver/nvidia), which a
// host without a GPU lacks. Exports size their receive buffers by it (export.Options).
func (d *Device) MayDecode() bool {
	if d.mode == ModeOff {
		return false
	}
	select {
	case <-d.done:
		return d.err == nil
	default:
		return nvidiaDriverLoaded()
	}
}

// nvidiaDriverLoaded says whether the NVIDIA kernel driver is loaded (it makes
// /proc/driver/nvidia/version).
func nvidiaDriverLoaded() bool {
	_, err := os.Stat("/proc/driver/nvidia/version")
	return err == nil
}

// Err waits for the probe and returns why the GPU cannot be used (nil: exports decode on it).
func (d *Device) Err() error {
	<-d.done
	return d.err
}

// openGPU waits for the probe and opens a CUDA decoder for cols that decodes on the CPU, with
// cpu, what it cannot decode on the GPU.
func (d *Device) openGPU(cols []pgarrow.Column, cpu *gpuparse.CPUDecoder) (*gpuDecoder, error) {
	<-d.done
	if d.err != nil {
		return nil, d.err
	}
	pinned := newPinnedAllocator(d.lib, func(err error) { d.log.Warn("pinned memory", "error", err.Error()) })
	// Decoded columns' arenas vary a little in size from chunk to chunk: powers of two left
	// up to half of each unused.
	pinned.fine = true
	d.track("receive buffers and decoded columns", pinned)
	g, err := d.lib.newDecoder(cols, cpu, pinned)
	if err != nil {
		return nil, err
	}
	// Chunks in flight: as many as half the free device memory holds, within 1..maxInFlight.
	g.setMaxInFlight(int(min(max(d.free/2/deviceBytesPerChunk, 1), maxInFlight)))
	g.onCUDAError = func(err error) { d.log.Warn("CUDA error", "error", err.Error()) }
	g.fused = &d.fused
	return g, nil
}

// Decoder decodes on the CPU until the GPU is ready, then on the GPU: creating the device's
// context takes longer than an export takes to open its connections, and both decoders give
// the same batches bit for bit (make test-gpu), so the first chunks need not wait. Under
// ModeOn, a GPU that cannot be used fails the export: the next Decode returns the reason, and
// so does Wait. Under ModeOff it is the CPU decoder alone.
//
// It also hands out the receive buffers of the COPY streams it decodes (Alloc, Keep): pinned
// host memory once the GPU is ready, which the GPU copies at full PCIe speed. The Decoder owns
// that memory and frees it at Close.
//
// A Decoder is safe for concurrent use.
type Decoder struct {
	cpu   *gpuparse.CPUDecoder
	gpu   atomic.Pointer[gpuDecoder]
	done  chan struct{} // closed once the GPU is ready or known unusable
	err   error         // set before done closes: ModeOn, and the GPU cannot be used
	onCPU atomic.Int64  // chunks decoded on the CPU while the GPU started
	// early holds the receive buffers handed out while the GPU started, until pinned ones
	// replace them (Keep) or Close.
	early earlyBuffers
}

var _ gpuparse.Engine = (*Device)(nil)

// NewDecoder returns a decoder for cols (as pgarrow.PlanType planned them) whose batches, on the
// CPU and the GPU's CPU-decoded columns, are allocated from mem (memory.DefaultAllocator if
// nil); GPU-decoded columns are in pinned memory the Decoder owns. The batches must be released
// before Close.
func (d *Device) NewDecoder(cols []pgarrow.Column, mem memory.Allocator) gpuparse.StreamDecoder {
	return d.newDecoder(cols, mem)
}

func (d *Device) newDecoder(cols []pgarrow.Column, mem memory.Allocator) *Decoder {
	dec := &Decoder{cpu: gpuparse.NewCPUDecoder(cols, mem), done: make(chan struct{})}
	if d.mode == ModeOff {
		close(dec.done)
		return dec
	}
	go func() {
		defer close(dec.done)
		g, err := d.openGPU(cols, dec.cpu)
		if err != nil {
			if d.mode == ModeOn {
				dec.err = fmt.Errorf("--gpu on: %w", err)
				return
			}
			d.log.Info("decoding on the CPU", "reason", err.Error())
			return
		}
		dec.gpu.Store(g)
		attrs := []any{"chunks_decoded_on_the_cpu_meanwhile", dec.onCPU.Load(), "gpu_start_s", d.startup.total.Seconds(),
			"driver_s", d.startup.driver.Seconds(), "library_s", d.startup.library.Seconds()}
		if cpuCols := g.cpuColumns(); len(cpuCols) > 0 {
			attrs = append(attrs, "cpu_columns", strings.Join(cpuCols, ", "))
		}
		d.log.Info("decoding on the GPU", attrs...)
	}()
	return dec
}

// Decode decodes c on the GPU once it is ready, on the CPU until then.
func (s *Decoder) Decode(ctx context.Context, c *pgcopy.Chunk) (arrow.RecordBatch, error) {
	if g := s.gpu.Load(); g != nil {
		return g.Decode(ctx, c)
	}
	select {
	case <-s.done:
		if s.err != nil {
			return nil, s.err
		}
		if g := s.gpu.Load(); g != nil {
			return g.Decode(ctx, c)
		}
	default:
		s.onCPU.Add(1)
	}
	return s.cpu.Decode(ctx, c)
}

// Path is "gpu" once the GPU decodes, "cpu" before (and for good when it cannot).
func (s *Decoder) Path() string {
	if s.gpu.Load() != nil {
		return pathGPU
	}
	return s.cpu.Path()
}

// Wait waits for the GPU's start and returns why ModeOn could not have it (nil otherwise).
func (s *Decoder) Wait() error {
	<-s.done
	return s.err
}

// Close waits for the GPU's start, closes the decoders and frees the pinned memory, receive
// buffers included: nothing Alloc or Decode returned may be used after it.
func (s *Decoder) Close() error {
	<-s.done
	defer s.early.freeAll()
	if g := s.gpu.Load(); g != nil {
		err := g.Close()
		g.pinned.freeAll()
		return err
	}
	return s.cpu.Close()
}

// Alloc returns an empty receive buffer of capacity size: pinned host memory once the GPU is
// ready; while it starts, memory mapped outside Go's heap (earlyBuffers), which Keep unmaps
// once pinned memory can replace it; Go memory once the GPU is known unusable, and where
// pinned memory runs out. It is the alloc of snapshot.NewPool.
func (s *Decoder) Alloc(size int) []byte {
	if g := s.gpu.Load(); g != nil {
		if b, ok := g.pinned.tryAllocate(size); ok {
			return b[:0]
		}
		return make([]byte, 0, size)
	}
	select {
	case <-s.done:
		if g := s.gpu.Load(); g != nil {
			return s.Alloc(size)
		}
		return make([]byte, 0, size)
	default:
		return s.early.alloc(size)
	}
}

// Keep says whether a receive buffer should be used again: not one outside pinned memory once
// the GPU is ready, so that the pool replaces it with pinned memory; one of the buffers handed
// out while the GPU started is unmapped then. It is the keep of Pool.SetRecycle.
func (s *Decoder) Keep(b []byte) bool {
	g := s.gpu.Load()
	if g == nil || cap(b) == 0 {
		return true
	}
	if g.pinned.owns(b) {
		return true
	}
	s.early.free(b)
	return false
}

// CallStats waits for the GPU's start and returns the CUDA library's counters of its calls to
// the CUDA runtime (calls, wall and CPU seconds each), which Go's CPU profile does
// not fully see: text lines, or "" without the GPU or when the library was loaded without
// $PGPARQUET_CUDA_CALLSTATS set. For measurements.
func (d *Device) CallStats() string {
	if d.Err() != nil || d.lib == nil {
		return ""
	}
	s := d.lib.callStats()
	if s == "" {
		return ""
	}
	d.pinnedMu.Lock()
	defer d.pinnedMu.Unlock()
	for _, p := range d.pinned {
		all, peak := p.a.usage()
		s += fmt.Sprintf("pinned memory, %s: %.1f MB allocated, at most %.1f MB in use\n", p.role, float64(all)/1e6, float64(peak)/1e6)
	}
	return s
}
