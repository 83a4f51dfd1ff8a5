"""Times what a process's exit costs after CUDA work on the GPU host, with the driver API
(ctypes): a child process takes device 0's primary context and then, by MODE, holds
DEV_MIB of device memory and PIN_MIB of pinned host memory (cuMemHostAlloc, in 16 MiB pieces)
and either frees them before exiting (timed: "free") or leaves them to the exit; the parent
times from the child's last line to its reaping ("exit"). One line per run.
Usage: python3 bench/gpuhost-cuda-exit.py LABEL DEV_MIB PIN_MIB free|keep [RUNS] (session 24)."""
import ctypes, os, subprocess, sys, time

if len(sys.argv) > 1 and sys.argv[1] == '--child':
    dev_mib, pin_mib, mode = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    cu = ctypes.CDLL('libcuda.so.1')
    assert cu.cuInit(0) == 0
    dev, ctx = ctypes.c_int(), ctypes.c_void_p()
    assert cu.cuDeviceGet(ctypes.byref(dev), 0) == 0
    assert cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev) == 0
    assert cu.cuCtxSetCurrent(ctx) == 0
    devs, pins = [], []
    for _ in range(dev_mib // 48):
        p = ctypes.c_uint64()
        assert cu.cuMemAlloc_v2(ctypes.byref(p), 48 << 20) == 0
        devs.append(p)
    for _ in range(pin_mib // 16):
        h = ctypes.c_void_p()
        assert cu.cuMemHostAlloc(ctypes.byref(h), 16 << 20, 0) == 0
        ctypes.memset(h, 1, 16 << 20)
        pins.append(h)
    t0 = time.perf_counter()
    if mode == 'free':
        for h in pins:
            assert cu.cuMemFreeHost(h) == 0
        for p in devs:
            assert cu.cuMemFree_v2(p) == 0
    t1 = time.perf_counter()
    print(f'{t1 - t0:.3f}', flush=True)
    os._exit(0)

label, dev_mib, pin_mib, mode = sys.argv[1:5]
for r in range(int(sys.argv[5]) if len(sys.argv) > 5 else 3):
    p = subprocess.Popen([sys.executable, __file__, '--child', dev_mib, pin_mib, mode], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    t0 = time.perf_counter()
    p.wait()
    print(f'{label} run {r + 1}: free {line.strip()} s, exit {time.perf_counter() - t0:.3f} s')
