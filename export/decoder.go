package export

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pgparquet/pgparquet/gpuparse"
	"github.com/pgparquet/pgparquet/pgarrow"
)

// cudaLibraryName is the file name `make cuda` gives the CUDA decoder library.
const cudaLibraryName = "libpgparquet_cuda.so"

// gpuProbe finds the GPU and readies the CUDA decoder library in the background: loading the
// library and creating the device's context take a few hundred milliseconds, which the export
// spends meanwhile taking its snapshot and opening its connections.
type gpuProbe struct {
	done chan struct{}
	lib  *gpuparse.CUDALibrary
	free uint64 // device memory free, bytes
	err  error
}

// probeGPU starts a gpuProbe, or returns nil for mode off (the GPU is never touched).
func probeGPU(mode GPUMode, libPath string) *gpuProbe {
	if mode == GPUOff {
		return nil
	}
	p := &gpuProbe{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		// The driver query and the library load (with the context creation) each take a while:
		// both run at once.
		var nvmlErr error
		nvmlDone := make(chan struct{})
		go func() {
			defer close(nvmlDone)
			p.free, nvmlErr = nvidiaFreeMemory()
		}()
		var errs []error
		for _, path := range cudaLibraryCandidates(libPath) {
			lib, err := gpuparse.LoadCUDA(path)
			if err == nil {
				p.lib = lib
				break
			}
			errs = append(errs, err)
		}
		<-nvmlDone
		switch {
		case nvmlErr != nil:
			p.lib, p.err = nil, nvmlErr
		case p.lib == nil:
			p.err = errors.Join(errs...)
		}
	}()
	return p
}

// newDecoder picks the decoder for mode: the CPU decoder for off; for auto and on, a
// startingGPU, which decodes on the GPU once probe has readied it and on the CPU until then.
func newDecoder(mode GPUMode, probe *gpuProbe, cols []pgarrow.Column, mem memory.Allocator, log *slog.Logger) gpuparse.Decoder {
	if mode == GPUOff {
		return gpuparse.NewCPUDecoder(cols, mem)
	}
	return startGPU(mode, probe, cols, mem, log)
}

// deviceBytesPerChunk is a generous bound on the device memory one chunk in flight takes (its
// bytes, field table, outputs and scan space for a default 4 MiB buffer, all grown by 25%).
const deviceBytesPerChunk = 48 << 20

func newCUDADecoder(probe *gpuProbe, cols []pgarrow.Column) (*gpuparse.CUDADecoder, error) {
	<-probe.done
	if probe.err != nil {
		return nil, probe.err
	}
	dec, err := probe.lib.NewDecoder(cols)
	if err != nil {
		return nil, err
	}
	// Chunks in flight: as many as half the free device memory holds, within 1..64.
	dec.SetMaxInFlight(int(min(max(probe.free/2/deviceBytesPerChunk, 1), 64)))
	return dec, nil
}

// nvidiaFreeMemory asks the NVIDIA driver (libnvidia-ml, loaded at run time by go-nvml)
// whether there is a GPU and how much memory device 0 has free, without touching CUDA.
func nvidiaFreeMemory() (free uint64, err error) {
	defer func() {
		if p := recover(); p != nil { // go-nvml panics when it cannot load the library on some systems
			err = fmt.Errorf("no NVIDIA driver: %v", p)
		}
	}()
	if ret := nvml.Init(); ret != nvml.SUCCESS {
		return 0, fmt.Errorf("no NVIDIA driver: %s", nvml.ErrorString(ret))
	}
	defer nvml.Shutdown()
	n, ret := nvml.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return 0, fmt.Errorf("NVIDIA driver: %s", nvml.ErrorString(ret))
	}
	if n == 0 {
		return 0, errors.New("no NVIDIA GPU")
	}
	dev, ret := nvml.DeviceGetHandleByIndex(0)
	if ret != nvml.SUCCESS {
		return 0, fmt.Errorf("NVIDIA GPU 0: %s", nvml.ErrorString(ret))
	}
	mem, ret := dev.GetMemoryInfo()
	if ret != nvml.SUCCESS {
		return 0, fmt.Errorf("NVIDIA GPU 0 memory: %s", nvml.ErrorString(ret))
	}
	return mem.Free, nil
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
