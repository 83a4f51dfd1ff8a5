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
)

// cudaLibraryName is the file name `make cuda` gives the CUDA decoder library.
const cudaLibraryName = "libpgparquet_cuda.so"

// newDecoder picks the decoder for mode: the CUDA decoder when a GPU and the library are there
// (auto) or required (on), the CPU decoder otherwise. Why the GPU was not used is logged.
func newDecoder(mode GPUMode, libPath string, cols []gpuparse.Column, mem memory.Allocator, log *slog.Logger) (gpuparse.Decoder, error) {
	if mode == GPUOff {
		return gpuparse.NewCPUDecoder(cols, mem), nil
	}
	dec, err := newCUDADecoder(libPath, cols)
	if err == nil {
		dec.OnCUDAError = func(err error) { log.Warn("CUDA error", "error", err.Error()) }
	}
	if err != nil {
		if mode == GPUOn {
			return nil, fmt.Errorf("--gpu on: %w", err)
		}
		log.Info("decoding on the CPU", "reason", err.Error())
		return gpuparse.NewCPUDecoder(cols, mem), nil
	}
	log.Info("decoding on the GPU")
	return dec, nil
}

func newCUDADecoder(libPath string, cols []gpuparse.Column) (*gpuparse.CUDADecoder, error) {
	if err := nvidiaDevicePresent(); err != nil {
		return nil, err
	}
	var errs []error
	for _, path := range cudaLibraryCandidates(libPath) {
		lib, err := gpuparse.LoadCUDA(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return lib.NewDecoder(cols)
	}
	return nil, errors.Join(errs...)
}

// nvidiaDevicePresent asks the NVIDIA driver (libnvidia-ml, loaded at run time by go-nvml)
// whether there is a GPU, without touching CUDA.
func nvidiaDevicePresent() (err error) {
	defer func() {
		if p := recover(); p != nil { // go-nvml panics when it cannot load the library on some systems
			err = fmt.Errorf("no NVIDIA driver: %v", p)
		}
	}()
	if ret := nvml.Init(); ret != nvml.SUCCESS {
		return fmt.Errorf("no NVIDIA driver: %s", nvml.ErrorString(ret))
	}
	defer nvml.Shutdown()
	n, ret := nvml.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return fmt.Errorf("NVIDIA driver: %s", nvml.ErrorString(ret))
	}
	if n == 0 {
		return errors.New("no NVIDIA GPU")
	}
	return nil
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
