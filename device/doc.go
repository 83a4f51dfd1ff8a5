// Package device is the one boundary between pgparquet and the GPU. It owns the driver probe
// (libnvidia-ml), the search for and loading of the CUDA library (cuda/*.cu: the decoder, the
// GPU writer's kernels and nvCOMP compression, built by make cuda) with the device's context, the cgo seam (cuda.go, the only Go file that uses
// cgo), the CUDA decoder, pinned host memory from allocation to free, the number of
// chunks in flight (from the device's free memory), the switch from the CPU decoder to the GPU
// once it is ready, and the fallback to the CPU on CUDA errors.
//
// An export calls Start early (the probe runs in the background), then Device.Decoder for its
// columns; the Decoder it gets is a gpuparse.Decoder that also hands out the COPY receive
// buffers (Alloc, Keep) and says, through Wait, why --gpu on could not have the GPU.
//
// Builds without cgo (or not on Linux) compile cuda_other.go instead: the GPU is never usable
// there, and ModeOn fails.
package device
