//go:build cgo && linux

package device

import (
	"errors"
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

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
