"""Times the steps of a process's CUDA start on the GPU host with the driver API (ctypes, no
CUDA runtime): loading libcuda, cuInit, retaining device 0's primary context, a first device
allocation, 128 MiB of pinned host memory (cuMemHostAlloc) and its free. One line of seconds.
Usage: python3 bench/gpuhost-cuda-start.py LABEL (GPU-host scripts, session 23)."""
import ctypes, sys, time

t = [time.perf_counter()]
cu = ctypes.CDLL('libcuda.so.1')
t.append(time.perf_counter())
assert cu.cuInit(0) == 0
t.append(time.perf_counter())
dev, ctx = ctypes.c_int(), ctypes.c_void_p()
assert cu.cuDeviceGet(ctypes.byref(dev), 0) == 0
assert cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev) == 0
assert cu.cuCtxSetCurrent(ctx) == 0
t.append(time.perf_counter())
p = ctypes.c_uint64()
assert cu.cuMemAlloc_v2(ctypes.byref(p), 1 << 20) == 0
t.append(time.perf_counter())
h = ctypes.c_void_p()
assert cu.cuMemHostAlloc(ctypes.byref(h), 128 << 20, 0) == 0
t.append(time.perf_counter())
assert cu.cuMemFreeHost(h) == 0
t.append(time.perf_counter())
names = ['dlopen', 'cuInit', 'context', 'first alloc', 'pinned 128 MiB', 'free pinned']
print(sys.argv[1] + ': ' + ', '.join(f'{n} {t[i + 1] - t[i]:.3f}' for i, n in enumerate(names)) + f'; total {t[-1] - t[0]:.3f} s')
