//go:build cgo && linux

package device

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

// The library's C ABI (device/cuda/*.cu; the structs in cuda/pgpq_abi.h, shared with it),
// called through function pointers found by dlsym: the binary links no CUDA library, so it
// runs on hosts without one.
#include "cuda/pgpq_abi.h"

typedef int (*abi_fn)(void);
typedef int (*count_fn)(char*, int);
typedef void* (*host_alloc_fn)(size_t);
typedef void (*host_free_fn)(void*);
typedef void* (*open_fn)(int, int, const pgpq_col*, char*, int);
typedef void (*close_fn)(void*);
typedef void* (*scan_fn)(void*, const uint8_t*, int64_t, const uint32_t*, int64_t, int64_t*, int64_t*, int64_t*, int64_t*,
                         int64_t*, int32_t*, char*, int);
typedef int (*finish_fn)(void*, uint8_t**, uint8_t**, uint8_t**, uint8_t**, int32_t*, char*, int);
typedef int (*finish_fused_fn)(void*, uint8_t**, uint8_t**, uint8_t**, uint8_t**, uint8_t*, int64_t, const pgpq_fuse_col*, int,
                               uint8_t*, int64_t, int32_t*, char*, int);
typedef void (*job_layout_fn)(void*, int64_t*, int64_t*);
typedef void (*abort_fn)(void*);
typedef int (*bench_fn)(void*, const uint8_t*, int64_t, const uint32_t*, int64_t, int, float*, char*, int);
typedef void (*inject_fn)(int, int);
typedef void* (*zopen_fn)(int32_t, const char*, int32_t, int64_t, int64_t, char*, int);
typedef void (*zbuffers_fn)(void*, uint8_t**, int64_t**, size_t**, int64_t*, int64_t*);
typedef int (*zrun_fn)(void*, int32_t, int32_t, const uint8_t* const*, const int64_t*, const int64_t*, int64_t*, char*, int);
typedef void (*zclose_fn)(void*);
typedef int (*encode_fn)(const uint8_t*, const uint8_t*, int64_t, int32_t, int32_t, int32_t, int64_t, uint8_t*, int64_t,
                         int64_t*, uint8_t*, uint8_t*, int64_t*, uint8_t*, float*, char*, int);

typedef int (*uniq_run_fn)(void*, const pgpq_uniq_col*, int, int, char*, int);
typedef void (*inject_enc_fn)(int, int);
typedef void (*inject_nv_fn)(int);
typedef void* (*enc_open_fn)(char*, int);
typedef int (*enc_run_fn)(void*, const pgpq_enc_col*, int, float*, char*, int);
typedef int (*enc_run_span_fn)(void*, const pgpq_enc_col*, int, uint8_t*, int64_t, float*, char*, int);
typedef void (*enc_close_fn)(void*);
typedef int (*callstats_fn)(char*, int);

typedef struct {
	void* handle;
	abi_fn abi;
	count_fn device_count;
	host_alloc_fn host_alloc;
	host_free_fn host_free;
	open_fn open;
	close_fn close;
	scan_fn scan;
	finish_fn finish;
	finish_fused_fn finish_fused; // optional, with job_layout: finish into one arena, with the page encoder's and grouping's work fused
	job_layout_fn job_layout;
	abort_fn abort;
	bench_fn bench;
	inject_fn inject; // optional: tests only
	zopen_fn zopen;   // optional: GPU compression (nvcomp.cu, pgpq_nv_*)
	zbuffers_fn zbuffers;
	zrun_fn zrun;
	zclose_fn zclose;
	encode_fn encode; // optional: the GPU writer's page encoder (encode.cu)
	enc_open_fn enc_open; // optional, with enc_run and enc_close: encoders with their own stream
	enc_run_fn enc_run;
	enc_run_span_fn enc_run_span; // optional: enc_run with the statistics in one span
	enc_close_fn enc_close;
	uniq_run_fn uniq_run; // optional: distinct values of string columns (encode.cu)
	inject_enc_fn inject_enc; // optional: tests only
	inject_nv_fn inject_nv; // optional: tests only
	callstats_fn callstats; // optional: measurements (callstats.h)
} pgpq_lib;

static int pgpq_load(const char* path, pgpq_lib* l, char* err, int errlen) {
	l->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!l->handle) {
		const char* e = dlerror();
		snprintf(err, errlen, "%s", e ? e : "dlopen failed");
		return -1;
	}
	l->abi = (abi_fn)dlsym(l->handle, "pgpq_abi_version");
	l->device_count = (count_fn)dlsym(l->handle, "pgpq_device_count");
	l->host_alloc = (host_alloc_fn)dlsym(l->handle, "pgpq_host_alloc");
	l->host_free = (host_free_fn)dlsym(l->handle, "pgpq_host_free");
	l->open = (open_fn)dlsym(l->handle, "pgpq_open");
	l->close = (close_fn)dlsym(l->handle, "pgpq_close");
	l->scan = (scan_fn)dlsym(l->handle, "pgpq_scan");
	l->finish = (finish_fn)dlsym(l->handle, "pgpq_finish");
	l->finish_fused = (finish_fused_fn)dlsym(l->handle, "pgpq_finish_fused");
	l->job_layout = (job_layout_fn)dlsym(l->handle, "pgpq_job_layout");
	if (!l->job_layout) l->finish_fused = NULL;
	l->abort = (abort_fn)dlsym(l->handle, "pgpq_abort");
	l->bench = (bench_fn)dlsym(l->handle, "pgpq_bench_kernels");
	l->inject = (inject_fn)dlsym(l->handle, "pgpq_inject_faults");
	l->zopen = (zopen_fn)dlsym(l->handle, "pgpq_nv_open");
	l->zbuffers = (zbuffers_fn)dlsym(l->handle, "pgpq_nv_buffers");
	l->zrun = (zrun_fn)dlsym(l->handle, "pgpq_nv_run_packed");
	l->zclose = (zclose_fn)dlsym(l->handle, "pgpq_nv_close");
	if (!l->zopen || !l->zbuffers || !l->zrun || !l->zclose) l->zopen = NULL;
	l->encode = (encode_fn)dlsym(l->handle, "pgpq_encode_plain");
	l->enc_open = (enc_open_fn)dlsym(l->handle, "pgpq_enc_open");
	l->enc_run = (enc_run_fn)dlsym(l->handle, "pgpq_enc_run");
	l->enc_run_span = (enc_run_span_fn)dlsym(l->handle, "pgpq_enc_run_span");
	l->enc_close = (enc_close_fn)dlsym(l->handle, "pgpq_enc_close");
	if (!l->enc_open || !l->enc_run || !l->enc_close) l->enc_open = NULL;
	l->uniq_run = (uniq_run_fn)dlsym(l->handle, "pgpq_uniq_first_run");
	l->inject_enc = (inject_enc_fn)dlsym(l->handle, "pgpq_inject_encode_faults");
	l->inject_nv = (inject_nv_fn)dlsym(l->handle, "pgpq_inject_nv_faults");
	l->callstats = (callstats_fn)dlsym(l->handle, "pgpq_callstats");
	if (!l->abi || !l->device_count || !l->host_alloc || !l->host_free || !l->open || !l->close ||
	    !l->scan || !l->finish || !l->abort || !l->bench) {
		snprintf(err, errlen, "%s: missing pgpq_* symbols", path);
		dlclose(l->handle);
		return -1;
	}
	return 0;
}


static int call_abi(pgpq_lib* l) { return l->abi(); }
static int call_device_count(pgpq_lib* l, char* err, int n) { return l->device_count(err, n); }
static void* call_host_alloc(pgpq_lib* l, size_t n) { return l->host_alloc(n); }
static void call_host_free(pgpq_lib* l, void* p) { l->host_free(p); }
static void* call_open(pgpq_lib* l, int dev, int n, const pgpq_col* c, char* err, int en) { return l->open(dev, n, c, err, en); }
static void call_close(pgpq_lib* l, void* h) { l->close(h); }
static void* call_scan(pgpq_lib* l, void* h, const uint8_t* d, int64_t nb, const uint32_t* s, int64_t rows,
                       int64_t* stats, int ncols, int32_t* bad, char* err, int en) {
	return l->scan(h, d, nb, s, rows, stats, stats + ncols, stats + 2 * ncols, stats + 3 * ncols, stats + 4 * ncols, bad, err, en);
}
static int call_finish(pgpq_lib* l, void* j, uint8_t** table, int ncols, int32_t* bad, char* err, int en) {
	return l->finish(j, table, table + ncols, table + 2 * ncols, table + 3 * ncols, bad, err, en);
}
static int call_finish_fused(pgpq_lib* l, void* j, uint8_t** table, int ncols, uint8_t* arena, int64_t arena_bytes,
                             const pgpq_fuse_col* fuse, int nfuse, uint8_t* host, int64_t host_bytes, int32_t* bad, char* err, int en) {
	return l->finish_fused(j, table, table + ncols, table + 2 * ncols, table + 3 * ncols, arena, arena_bytes, fuse, nfuse, host,
	                       host_bytes, bad, err, en);
}
static void call_job_layout(pgpq_lib* l, void* j, int64_t* offs, int64_t* total) { l->job_layout(j, offs, total); }
static void call_abort(pgpq_lib* l, void* j) { l->abort(j); }
static int call_inject(pgpq_lib* l, int scans, int finishes) {
	if (!l->inject) return -1;
	l->inject(scans, finishes);
	return 0;
}
static void* call_zopen(pgpq_lib* l, int32_t codec, const char* path, int32_t chunks, int64_t chunk_max, int64_t bytes, char* err, int en) {
	if (!l->zopen) {
		snprintf(err, en, "this CUDA library has no GPU compression with packed output (pgpq_nv_open, pgpq_nv_run_packed): rebuild it from device/cuda");
		return NULL;
	}
	return l->zopen(codec, path, chunks, chunk_max, bytes, err, en);
}
static void call_zbuffers(pgpq_lib* l, void* z, uint8_t** out, int64_t** offs, size_t** sizes, int64_t* out_cap, int64_t* align) {
	l->zbuffers(z, out, offs, sizes, out_cap, align);
}
static int call_zrun(pgpq_lib* l, void* z, int32_t n, int32_t np, uint8_t** srcs, int64_t* poffs, int64_t* plens, int64_t* slot, char* err, int en) {
	return l->zrun(z, n, np, (const uint8_t* const*)srcs, poffs, plens, slot, err, en);
}
static void call_zclose(pgpq_lib* l, void* z) { l->zclose(z); }
static int call_encode(pgpq_lib* l, const uint8_t* v, const uint8_t* valid, int64_t n, int32_t width, int32_t is_float,
                       int32_t nullable, int64_t page_rows, uint8_t* out, int64_t cap, int64_t* sizes, uint8_t* mins,
                       uint8_t* maxs, int64_t* nulls, uint8_t* has, float* ms, char* err, int en) {
	if (!l->encode) {
		snprintf(err, en, "this CUDA library has no page encoder (pgpq_encode_plain): rebuild it with encode.cu");
		return -1;
	}
	return l->encode(v, valid, n, width, is_float, nullable, page_rows, out, cap, sizes, mins, maxs, nulls, has, ms, err, en);
}
static void* call_enc_open(pgpq_lib* l, char* err, int en) {
	if (!l->enc_open) {
		snprintf(err, en, "this CUDA library has no page encoder (pgpq_enc_*): rebuild it with encode.cu");
		return NULL;
	}
	return l->enc_open(err, en);
}
static int call_enc_run(pgpq_lib* l, void* h, const pgpq_enc_col* c, int n, uint8_t* span, int64_t span_len, float* ms, char* err, int en) {
	if (l->enc_run_span) return l->enc_run_span(h, c, n, span, span_len, ms, err, en);
	return l->enc_run(h, c, n, ms, err, en);
}
static void call_enc_close(pgpq_lib* l, void* h) { l->enc_close(h); }
static int call_uniq_run(pgpq_lib* l, void* h, const pgpq_uniq_col* c, int n, int weak, char* err, int en) {
	if (!l->uniq_run) {
		snprintf(err, en, "this CUDA library has no pgpq_uniq_first_run: rebuild it with encode.cu");
		return -1;
	}
	return l->uniq_run(h, c, n, weak, err, en);
}
static int call_inject_enc(pgpq_lib* l, int enc, int uniq) {
	if (!l->inject_enc) return -1;
	l->inject_enc(enc, uniq);
	return 0;
}
static int call_inject_nv(pgpq_lib* l, int runs) {
	if (!l->inject_nv) return -1;
	l->inject_nv(runs);
	return 0;
}
static int call_callstats(pgpq_lib* l, char* buf, int n) {
	if (!l->callstats) return 0;
	return l->callstats(buf, n);
}
static int call_bench(pgpq_lib* l, void* h, const uint8_t* d, int64_t nb, const uint32_t* s, int64_t rows, int iters,
                      float* ms, char* err, int en) {
	return l->bench(h, d, nb, s, rows, iters, ms, err, en);
}
*/
import "C"

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pgparquet/pgparquet/gpuparse"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// cudaABI is the library ABI version this Go code speaks.
const cudaABI = 4

// gpulist.go's element conversions are the library's (each line fails to compile otherwise).
const (
	_ = -(uint(elString) - uint(C.PGPQ_EL_STRING))
	_ = -(uint(elBool) - uint(C.PGPQ_EL_BOOL))
	_ = -(uint(elCopy) - uint(C.PGPQ_EL_COPY))
	_ = -(uint(elDate) - uint(C.PGPQ_EL_DATE))
	_ = -(uint(elTimestamp) - uint(C.PGPQ_EL_TIMESTAMP))
	_ = -(uint(elMoney) - uint(C.PGPQ_EL_MONEY))
)

// errLen is the size of the error text buffers passed to the library.
const errLen = 512

// maxStringData is the bytes one Arrow string or binary array can address.
const maxStringData = math.MaxInt32

// library is the loaded libpgparquet_cuda.so. This file is the one seam between Go and CUDA:
// every C call goes through it, and no C code keeps a Go pointer after a call returns.
type library struct {
	lib *C.pgpq_lib
}

// loadCUDA dlopens the CUDA decoder library at path, checks that a device is there and creates
// device 0's context (a few hundred milliseconds, so Start runs it in the background). It fails
// on hosts without the library, the driver or a GPU. The library stays mapped for the life of
// the process (unloading code that holds a CUDA runtime is unsafe); loading it again, for the
// next export, finds the same mapping.
func loadCUDA(path string) (*library, error) {
	// Go memory holding only C pointers: the garbage collector frees it with the library.
	l := new(C.pgpq_lib)
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var errBuf [errLen]C.char
	if C.pgpq_load(cpath, l, &errBuf[0], errLen) != 0 {
		return nil, fmt.Errorf("load CUDA decoder: %s", C.GoString(&errBuf[0]))
	}
	if v := int(C.call_abi(l)); v != cudaABI {
		return nil, fmt.Errorf("load CUDA decoder %s: ABI version %d, this binary needs %d", path, v, cudaABI)
	}
	n := int(C.call_device_count(l, &errBuf[0], errLen))
	if n < 0 {
		return nil, fmt.Errorf("load CUDA decoder: %s", C.GoString(&errBuf[0]))
	}
	if n == 0 {
		return nil, errors.New("load CUDA decoder: no CUDA device")
	}
	return &library{lib: l}, nil
}

// nvBatch is a GPU compression batcher of the library (nvcomp.cu) for one codec: the chunks'
// layout the caller fills in (offs, sizes, pieces), pinned output it reads the compressed
// chunks from (out, packed; the library grows it when a batch's output needs more), and one
// stream. It is not safe for concurrent use; its owner (a batcher's
// runner) serializes calls.
type nvBatch struct {
	chunkBuffers
	lib *library
	h   unsafe.Pointer
	// The pieces' sources, input offsets and lengths as run passes them, reused.
	srcs        []*C.uint8_t
	poffs, lens []C.int64_t
}

// openNV loads nvCOMP from nvcompPath and makes a batcher of codec (nvZstd...) for up to
// maxChunks chunks of at most chunkMax bytes, in an input buffer of maxBytes (the chunks with
// their alignment padding), on device 0.
func (l *library) openNV(codec nvCodec, nvcompPath string, maxChunks int, chunkMax, maxBytes int64) (*nvBatch, error) {
	cpath := C.CString(nvcompPath)
	defer C.free(unsafe.Pointer(cpath))
	var errBuf [errLen]C.char
	h := C.call_zopen(l.lib, C.int32_t(codec), cpath, C.int32_t(maxChunks), C.int64_t(chunkMax), C.int64_t(maxBytes), &errBuf[0], errLen)
	if h == nil {
		return nil, fmt.Errorf("open GPU compression: %s", C.GoString(&errBuf[0]))
	}
	var out *C.uint8_t
	var offs *C.int64_t
	var sizes *C.size_t
	var outCap, align C.int64_t
	C.call_zbuffers(l.lib, h, &out, &offs, &sizes, &outCap, &align)
	if int64(align) > chunkAlign {
		C.call_zclose(l.lib, h)
		return nil, fmt.Errorf("open GPU compression: nvCOMP asks chunks aligned to %d bytes, more than the %d this build pads to", int64(align), chunkAlign)
	}
	// Views of pinned C memory, which the batcher owns until close.
	return &nvBatch{lib: l, h: h, chunkBuffers: chunkBuffers{align: int64(align),
		out:   unsafe.Slice((*byte)(unsafe.Pointer(out)), int64(outCap)),
		offs:  unsafe.Slice((*int64)(unsafe.Pointer(offs)), maxChunks+1),
		sizes: unsafe.Slice((*uint64)(unsafe.Pointer(sizes)), maxChunks),
	}}, nil
}

// run compresses chunks 0..n-1 as the caller laid them out in offs and sizes, their bytes
// copied to the device from the pieces, and sets slot.
func (z *nvBatch) run(n int) error {
	var pin runtime.Pinner
	defer pin.Unpin()
	np := len(z.pieces)
	z.srcs, z.poffs, z.lens = z.srcs[:0], z.poffs[:0], z.lens[:0]
	for _, p := range z.pieces {
		var src *C.uint8_t
		if len(p.src) > 0 {
			pin.Pin(&p.src[0]) // nothing to pin where the page is in pinned (C) memory
			src = (*C.uint8_t)(unsafe.Pointer(&p.src[0]))
		}
		z.srcs, z.poffs, z.lens = append(z.srcs, src), append(z.poffs, C.int64_t(p.off)), append(z.lens, C.int64_t(len(p.src)))
	}
	var srcs **C.uint8_t
	var poffs, lens *C.int64_t
	if np > 0 {
		srcs, poffs, lens = &z.srcs[0], &z.poffs[0], &z.lens[0]
	}
	var errBuf [errLen]C.char
	var slot C.int64_t
	rc := C.call_zrun(z.lib.lib, z.h, C.int32_t(n), C.int32_t(np), srcs, poffs, lens, &slot, &errBuf[0], errLen)
	clear(z.srcs)
	if rc != 0 {
		return errors.New(C.GoString(&errBuf[0]))
	}
	// The run may have grown the pinned output to hold this batch's compressed bytes.
	var out *C.uint8_t
	var offs *C.int64_t
	var sizes *C.size_t
	var outCap, align C.int64_t
	C.call_zbuffers(z.lib.lib, z.h, &out, &offs, &sizes, &outCap, &align)
	z.out = unsafe.Slice((*byte)(unsafe.Pointer(out)), int64(outCap))
	return nil
}

// close frees the batcher's memory; its slices must not be used after.
func (z *nvBatch) close() {
	C.call_zclose(z.lib.lib, z.h)
	z.chunkBuffers = chunkBuffers{}
}

// gpuDecoder decodes chunks on the GPU into Arrow buffers in pinned host memory. It implements
// gpuparse.Decoder and gives the same batches as gpuparse.CPUDecoder, bit for bit: a chunk the
// GPU cannot decode exactly (no recorded row starts, malformed framing, values the CPU decoder
// must judge, a failed pinned allocation, a CUDA error) is decoded by the CPU decoder instead.
// Columns of kinds without a kernel (pgarrow.KindInfo.GPU false), except the one-dimensional
// lists of scalars and strings the GPU decodes (gpuListPlans) and numeric text (gpuNumericText),
// are decoded on the CPU, together,
// from the field positions the GPU recorded while it walked the tuples
// (CPUDecoder.DecodeColumnsAt). It is safe for concurrent use: each Decode runs its own CUDA
// stream.
type gpuDecoder struct {
	lib   *library
	h     unsafe.Pointer
	cols  []pgarrow.Column
	types []arrow.DataType
	onGPU []bool         // per column: decoded by the kernels (a kind with a kernel, lists[i] or numText[i])
	lists []*gpuListPlan // per column: the plan of a list column decoded on the GPU, else nil
	// numText, per column: a numeric exported as its text (pgarrow.KindNumericString) decoded by
	// the kernels.
	numText []bool
	cpu     *gpuparse.CPUDecoder
	pinned  *pinnedAllocator
	schema  *arrow.Schema
	// fallbacks counts chunks decoded by the CPU decoder instead.
	fallbacks atomic.Int64
	// onCUDAError, when set, hears of each CUDA failure; the chunk is then decoded on the CPU,
	// so no row is lost or duplicated. Set it before the first Decode.
	onCUDAError func(error)
	inflight    chan struct{} // bounds the chunks on the device at once; nil: unbounded
	closed      atomic.Bool
	// fused, when set, receives the fused columns (pgpq_finish_fused) of the batches decoded
	// while it is active; plans says what each column gets, anyFused whether any gets anything.
	fused    *fusedResults
	plans    []fusePlan
	anyFused bool
}

// newDecoder makes a CUDA decoder for cols on device 0 that decodes with cpu (a CPUDecoder for
// the same cols) what it cannot decode on the GPU; its GPU outputs are in pinned memory, which
// stays its caller's to free.
func (l *library) newDecoder(cols []pgarrow.Column, cpu *gpuparse.CPUDecoder, pinned *pinnedAllocator) (*gpuDecoder, error) {
	d := &gpuDecoder{lib: l, cols: cols, types: make([]arrow.DataType, len(cols)), schema: pgarrow.ArrowSchema(cols), pinned: pinned}
	d.cpu = cpu
	if err := d.cpu.Err(); err != nil {
		return nil, err
	}
	d.lists = gpuListPlans(cpu, len(cols), gpuLists())
	d.onGPU = make([]bool, len(cols))
	d.numText = gpuNumericTextColumns(cols, gpuNumericText())
	ccols := make([]C.pgpq_col, max(len(cols), 1))
	for i, c := range cols {
		info := c.Kind.Info()
		d.types[i], _ = pgarrow.ArrowType(c) // checked by NewCPUDecoder
		d.onGPU[i] = info.GPU || d.lists[i] != nil || d.numText[i]
		var prec, scale int32
		if c.Kind == pgarrow.KindDecimal128 || c.Kind == pgarrow.KindDecimal256 {
			prec, scale = c.Precision, c.Scale
		}
		ccols[i] = C.pgpq_col{kind: C.int32_t(c.Kind), fixed: C.int32_t(info.Fixed), width: C.int32_t(info.Width),
			varlen: C.int32_t(b2i(info.VarLen)), precision: C.int32_t(prec), scale: C.int32_t(scale), on_gpu: C.int32_t(b2i(d.onGPU[i]))}
		if p := d.lists[i]; p != nil {
			ccols[i].varlen = 0
			ccols[i].list = 1
			ccols[i].elem_op = C.int32_t(p.op)
			ccols[i].elem_fixed = C.int32_t(p.Fixed)
			ccols[i].elem_width = C.int32_t(p.Width)
			ccols[i].elem_oid = C.uint32_t(p.OID)
		}
	}
	var errBuf [errLen]C.char
	h := C.call_open(l.lib, 0, C.int(len(cols)), &ccols[0], &errBuf[0], errLen)
	if h == nil {
		return nil, fmt.Errorf("open CUDA decoder: %s", C.GoString(&errBuf[0]))
	}
	d.h = h
	d.plans = planFused(d)
	for _, p := range d.plans {
		d.anyFused = d.anyFused || p.plain || p.uniq
	}
	return d, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// cpuColumns describes the columns the decoder leaves to the CPU ("name (type)"): those of
// kinds without a kernel, except the lists and numeric text it decodes itself.
func (d *gpuDecoder) cpuColumns() []string {
	var out []string
	for i, c := range d.cols {
		if !d.onGPU[i] {
			out = append(out, fmt.Sprintf("%s (%s)", c.Name, c.PGType))
		}
	}
	return out
}

// Path returns "gpu".
func (d *gpuDecoder) Path() string { return pathGPU }

// setMaxInFlight bounds how many chunks are on the device at once (each holds its own stream
// and device buffers of a few times the chunk's size). Call it before the first Decode.
func (d *gpuDecoder) setMaxInFlight(n int) {
	d.inflight = make(chan struct{}, max(n, 1))
}

// Close frees the decoder's device state. Batches it returned must have been released before.
// The pinned memory is its owner's (the Decoder's) to free.
func (d *gpuDecoder) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	C.call_close(d.lib.lib, d.h)
	return nil
}

// Decode decodes c on the GPU, or on the CPU where the GPU cannot decode it exactly.
func (d *gpuDecoder) Decode(ctx context.Context, c *pgcopy.Chunk) (arrow.RecordBatch, error) {
	if d.closed.Load() {
		return nil, errors.New("device: cuda decoder: Decode after Close")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("decode %s: %w", c.Source, err)
	}
	rows := len(c.RowStarts)
	if (rows == 0 && len(c.Data) > 0) || len(c.Data) > 1<<31-1 {
		return d.fallback(ctx, c)
	}
	if d.inflight != nil {
		select {
		case d.inflight <- struct{}{}:
			defer func() { <-d.inflight }()
		case <-ctx.Done():
			return nil, fmt.Errorf("decode %s: %w", c.Source, context.Cause(ctx))
		}
	}
	ncols := len(d.cols)
	// Per column: NULLs, var-length bytes, and for list columns on the GPU elements, NULL
	// elements and element string bytes.
	stats := make([]int64, 5*max(ncols, 1))
	nulls, varBytes := stats[:ncols], stats[ncols:2*ncols]
	elems, elemNulls, elemBytes := stats[2*ncols:3*ncols], stats[3*ncols:4*ncols], stats[4*ncols:]
	var bad C.int32_t
	var errBuf [errLen]C.char
	var dataPtr *C.uint8_t
	if len(c.Data) > 0 {
		dataPtr = (*C.uint8_t)(unsafe.Pointer(&c.Data[0]))
	}
	var startsPtr *C.uint32_t
	if rows > 0 {
		startsPtr = (*C.uint32_t)(unsafe.Pointer(&c.RowStarts[0]))
	}
	job := C.call_scan(d.lib.lib, d.h, dataPtr, C.int64_t(len(c.Data)), startsPtr, C.int64_t(rows),
		(*C.int64_t)(unsafe.Pointer(&stats[0])), C.int(ncols), &bad, &errBuf[0], errLen)
	if job == nil {
		return d.cudaFailed(ctx, c, C.GoString(&errBuf[0]))
	}
	if bad != 0 {
		C.call_abort(d.lib.lib, job)
		return d.fallback(ctx, c)
	}
	// Output buffers in pinned memory, at their exact sizes. Their C pointers go to the library
	// in one C array laid out as ncols value pointers, ncols validity pointers, ncols data
	// pointers, then for list columns ncols element validity, ncols element values and ncols
	// element data pointers (NULL where a column has no such buffer). A column decoded on the
	// CPU gets its int32 field positions in its values buffer. Only pinned (C) memory goes into
	// that array: where pinned memory runs out, the chunk is decoded on the CPU.
	n := max(ncols, 1)
	table := (**C.uint8_t)(C.calloc(C.size_t(6*n), C.size_t(unsafe.Sizeof(uintptr(0)))))
	defer C.free(unsafe.Pointer(table))
	slots := unsafe.Slice(table, 6*n)
	var bufs []*memory.Buffer
	release := func() {
		for _, b := range bufs {
			b.Release()
		}
	}
	outOfPinned := false
	newBuf := func(size int) *memory.Buffer {
		b, ok := d.pinned.tryAllocate(size)
		if !ok {
			outOfPinned = true
			return nil
		}
		buf := memory.NewBufferWithAllocator(b, d.pinned)
		bufs = append(bufs, buf)
		return buf
	}
	// With pgpq_finish_fused, the buffers that lie in the job's device output (values,
	// validity and var-length data, but for list elements and numeric text) come back in one
	// copy into one pinned arena, of which they are slices (pgpq_job_layout): one transfer and
	// one allocation per chunk instead of one per buffer.
	var out *sharedArena
	var lay []C.int64_t
	if d.lib.lib.finish_fused != nil && rows > 0 {
		lay = make([]C.int64_t, 3*n)
		var total C.int64_t
		C.call_job_layout(d.lib.lib, job, &lay[0], &total)
		out = newSharedArena(d.pinned, int(total))
	}
	// outBuf is buffer k (0 values, 1 validity, 2 data) of column i, of size bytes: in the
	// arena, else of its own.
	outBuf := func(i, k, size int) *memory.Buffer {
		if out == nil {
			return newBuf(size)
		}
		buf := out.buffer(int(lay[3*i+k]), size)
		bufs = append(bufs, buf)
		return buf
	}
	if out != nil {
		defer out.release() // the arena's own reference; each buffer holds one more
	}
	colBufs := make([][6]*memory.Buffer, ncols)
	for i, col := range d.cols {
		info := col.Kind.Info()
		var vals, valid, data, evalid, evals, edata *memory.Buffer
		switch {
		case d.lists[i] != nil:
			// As the CPU decoder's allocList: list validity even without NULLs, offsets; the
			// elements' validity and values only when there are elements, except a string
			// column's offsets (one zero at least) and data.
			p, ne := d.lists[i], elems[i]
			if elemBytes[i] > maxStringData || ne > math.MaxInt32 {
				release()
				C.call_abort(d.lib.lib, job)
				return d.fallback(ctx, c)
			}
			valid = outBuf(i, 1, int(bitutil.BytesForBits(int64(rows))))
			vals = outBuf(i, 0, 4*(rows+1))
			if p.op == elString {
				evals = newBuf(4 * int(ne+1))
				edata = newBuf(int(elemBytes[i]))
			}
			if ne > 0 {
				evalid = newBuf(int(bitutil.BytesForBits(ne)))
				switch p.op {
				case elString:
				case elBool:
					evals = newBuf(int(bitutil.BytesForBits(ne)))
				default:
					evals = newBuf(p.Width * int(ne))
				}
			}
		case !d.onGPU[i]:
			vals = outBuf(i, 0, 4*rows)
		case col.Kind == pgarrow.KindBool:
			vals = outBuf(i, 0, int(bitutil.BytesForBits(int64(rows))))
		case info.VarLen:
			if varBytes[i] > maxStringData {
				release()
				C.call_abort(d.lib.lib, job)
				return d.fallback(ctx, c)
			}
			vals = outBuf(i, 0, 4*(rows+1))
			if d.numText[i] {
				data = newBuf(int(varBytes[i])) // numeric text lies apart on the device
			} else {
				data = outBuf(i, 2, int(varBytes[i]))
			}
		default:
			vals = outBuf(i, 0, info.Width*rows)
		}
		if nulls[i] > 0 && d.onGPU[i] && d.lists[i] == nil {
			valid = outBuf(i, 1, int(bitutil.BytesForBits(int64(rows))))
		}
		if outOfPinned {
			release()
			C.call_abort(d.lib.lib, job)
			return d.fallback(ctx, c)
		}
		colBufs[i] = [6]*memory.Buffer{vals, valid, data, evalid, evals, edata}
		for k, b := range colBufs[i] {
			if b == nil || (out != nil && out.holds(b)) {
				continue // the arena's copy brings it
			}
			// A zero-length buffer may be NULL: the library copies nothing into it.
			slots[k*ncols+i] = (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b.Buf())))
		}
	}
	// While a PageEncoder is open, the same call and wait also encode the fixed-width columns'
	// fragments and group the string columns' rows on the device (cuda_fused.go), into one
	// pinned arena copied back in one piece.
	var fuse []C.pgpq_fuse_col
	var arena *memory.Buffer
	if d.fused != nil && d.anyFused && rows > 0 && d.lib.lib.finish_fused != nil && d.fused.active() {
		var size int
		if fuse, size = fusedLayout(d.plans, rows, nulls, varBytes, d.fused.wantsBytes); len(fuse) > 0 {
			arena = fusedArena(d.pinned, size)
		}
		if arena == nil {
			fuse = nil
		}
	}
	var rc C.int
	if out != nil || len(fuse) > 0 {
		var outPtr, hostPtr *C.uint8_t
		var outLen, hostLen int
		var fusePtr *C.pgpq_fuse_col
		if out != nil {
			outPtr, outLen = (*C.uint8_t)(unsafe.Pointer(&out.block[0])), len(out.block)
		}
		if len(fuse) > 0 {
			host := arena.Bytes()
			hostPtr, hostLen, fusePtr = (*C.uint8_t)(unsafe.Pointer(&host[0])), len(host), &fuse[0]
		}
		rc = C.call_finish_fused(d.lib.lib, job, table, C.int(ncols), outPtr, C.int64_t(outLen), fusePtr, C.int(len(fuse)),
			hostPtr, C.int64_t(hostLen), &bad, &errBuf[0], errLen)
	} else {
		rc = C.call_finish(d.lib.lib, job, table, C.int(ncols), &bad, &errBuf[0], errLen)
	}
	if rc != 0 || bad != 0 {
		release()
		if arena != nil {
			arena.Release()
		}
		if rc != 0 {
			return d.cudaFailed(ctx, c, C.GoString(&errBuf[0]))
		}
		return d.fallback(ctx, c)
	}
	arrs := make([]arrow.Array, ncols)
	releaseArrays := func() {
		for _, a := range arrs {
			if a != nil {
				a.Release()
			}
		}
	}
	// The columns without a kernel, decoded on the CPU from the field positions the GPU found,
	// together (row by row).
	var cpuCols []int
	var cpuStarts [][]int32
	for i := range d.cols {
		if !d.onGPU[i] {
			cpuCols = append(cpuCols, i)
			cpuStarts = append(cpuStarts, arrow.GetData[int32](colBufs[i][0].Bytes())[:rows])
		}
	}
	if len(cpuCols) > 0 {
		decoded, err := d.cpu.DecodeColumnsAt(c, cpuCols, cpuStarts)
		if err != nil {
			// A value the CPU decoder rejects: the whole chunk's decode decides which error
			// comes first in row order.
			release()
			if arena != nil {
				arena.Release()
			}
			return d.fallback(ctx, c)
		}
		for k, i := range cpuCols {
			arrs[i] = decoded[k]
		}
	}
	for i, col := range d.cols {
		info := col.Kind.Info()
		if !d.onGPU[i] {
			continue
		}
		b := colBufs[i]
		if p := d.lists[i]; p != nil {
			ebufs := []*memory.Buffer{b[3], b[4]}
			if p.op == elString {
				ebufs = append(ebufs, b[5])
			}
			ed := array.NewData(p.ElemType, int(elems[i]), ebufs, nil, int(elemNulls[i]), 0)
			ad := array.NewData(d.types[i], rows, []*memory.Buffer{b[1], b[0]}, []arrow.ArrayData{ed}, int(nulls[i]), 0)
			arrs[i] = array.MakeFromData(ad)
			ad.Release()
			ed.Release()
			continue
		}
		list := []*memory.Buffer{b[1], b[0]}
		if info.VarLen {
			list = append(list, b[2])
		}
		ad := array.NewData(d.types[i], rows, list, nil, int(nulls[i]), 0)
		arrs[i] = array.MakeFromData(ad)
		ad.Release()
	}
	release()
	rec := array.NewRecordBatch(d.schema, arrs, int64(rows))
	if arena != nil {
		keys, cols, err := fusedColumns(d.plans, fuse, arena.Bytes(), arrs, rows, varBytes)
		if err == nil && len(keys) > 0 {
			releaseArrays()
			return newFusedRecord(rec, d.fused, keys, cols, arena), nil
		}
		if err != nil && d.onCUDAError != nil {
			d.onCUDAError(fmt.Errorf("decode %s: %w; its pages are encoded apart", c.Source, err))
		}
		arena.Release()
	}
	releaseArrays()
	return rec, nil
}

// kernelSeconds runs the decoding kernels alone on c (uploaded once) iters times and returns
// the mean seconds of one pass, for benchmarks of the kernels without transfers.
func (d *gpuDecoder) kernelSeconds(c *pgcopy.Chunk, iters int) (float64, error) {
	if len(c.RowStarts) == 0 {
		return 0, errors.New("kernel benchmark: the chunk has no row starts")
	}
	var ms C.float
	var errBuf [errLen]C.char
	if C.call_bench(d.lib.lib, d.h, (*C.uint8_t)(unsafe.Pointer(&c.Data[0])), C.int64_t(len(c.Data)),
		(*C.uint32_t)(unsafe.Pointer(&c.RowStarts[0])), C.int64_t(len(c.RowStarts)), C.int(iters), &ms, &errBuf[0], errLen) != 0 {
		return 0, fmt.Errorf("kernel benchmark: %s", C.GoString(&errBuf[0]))
	}
	return float64(ms) / 1e3, nil
}

// injectFaults makes the library fail its next scans scan calls and finishes finish calls as
// a device failure would, for tests of the recovery; false if the library has no such hook.
func (l *library) injectFaults(scans, finishes int) bool {
	return C.call_inject(l.lib, C.int(scans), C.int(finishes)) == 0
}

// injectNVFaults makes the library's GPU compression fail its next runs batches as a device
// failure would, for tests of the fallback; false if the library has no such hook.
func (l *library) injectNVFaults(runs int) bool {
	return C.call_inject_nv(l.lib, C.int(runs)) == 0
}

// cudaFailed reports a CUDA error and decodes the chunk on the CPU instead.
func (d *gpuDecoder) cudaFailed(ctx context.Context, c *pgcopy.Chunk, msg string) (arrow.RecordBatch, error) {
	if d.onCUDAError != nil {
		d.onCUDAError(fmt.Errorf("decode %s on the GPU: %s; decoding it on the CPU", c.Source, msg))
	}
	return d.fallback(ctx, c)
}

func (d *gpuDecoder) fallback(ctx context.Context, c *pgcopy.Chunk) (arrow.RecordBatch, error) {
	d.fallbacks.Add(1)
	return d.cpu.Decode(ctx, c)
}

// sharedArena is one pinned block (pinnedAllocator's) whose slices are the buffers of one
// decoded chunk: each slice is a memory.Buffer of its own, whose release counts down, and the
// block goes back to its allocator once every buffer and the arena's own reference (release)
// are gone. As the buffers' allocator it also serves the rare Allocate or Reallocate (a
// buffer resized) from its pinned allocator, and frees such memory there. It is safe for
// concurrent use.
type sharedArena struct {
	pinned *pinnedAllocator
	block  []byte
	refs   atomic.Int64
}

// newSharedArena returns an arena of size bytes with one reference, or nil where pinned
// memory ran out.
func newSharedArena(p *pinnedAllocator, size int) *sharedArena {
	b, ok := p.tryAllocate(max(size, 1))
	if !ok {
		return nil
	}
	a := &sharedArena{pinned: p, block: b}
	a.refs.Store(1)
	return a
}

// buffer returns the size bytes at off as a buffer of one reference; an empty buffer is not
// the arena's (nothing frees it).
func (a *sharedArena) buffer(off, size int) *memory.Buffer {
	if size == 0 {
		return memory.NewBufferBytes(nil)
	}
	a.refs.Add(1)
	return memory.NewBufferWithAllocator(a.block[off:off+size:off+size], a)
}

// holds says whether b's bytes lie in the arena.
func (a *sharedArena) holds(b *memory.Buffer) bool { return a.within(b.Buf()) }

func (a *sharedArena) within(b []byte) bool {
	if cap(b) == 0 {
		return false
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b[:1])))
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(a.block[:1])))
	return p >= lo && p < lo+uintptr(cap(a.block))
}

// release drops one reference: the arena's own, or a buffer's.
func (a *sharedArena) release() {
	if a.refs.Add(-1) == 0 {
		a.pinned.Free(a.block)
	}
}

// Allocate implements memory.Allocator: memory apart from the arena.
func (a *sharedArena) Allocate(size int) []byte { return a.pinned.Allocate(size) }

// Reallocate implements memory.Allocator: new memory apart from the arena, b freed.
func (a *sharedArena) Reallocate(size int, b []byte) []byte {
	nb := a.Allocate(size)
	copy(nb, b)
	a.Free(b)
	return nb
}

// Free implements memory.Allocator: a slice of the arena drops its reference; other memory
// goes back to the pinned allocator.
func (a *sharedArena) Free(b []byte) {
	if a.within(b) {
		a.release()
		return
	}
	a.pinned.Free(b)
}

// pinnedAllocator hands out pinned host memory (cudaMallocHost), which the GPU copies at full
// PCIe speed, and knows every block it allocated, so that it can tell its own buffers from Go
// memory (owns) and free them all at once (freeAll). Unlike Go's allocator it does not zero
// memory: it serves only buffers that are written in full before they are read (GPU outputs,
// COPY receive buffers). Allocation is slow, so blocks freed by Free are kept by size class
// (class) and reused. It is safe for concurrent use.
//
// As an arrow memory.Allocator it never panics: where cudaMallocHost fails, Allocate returns Go
// memory (and warns once), which Free leaves to the garbage collector.
type pinnedAllocator struct {
	lib  *library
	warn func(error) // hears of the first failed allocation; may be nil
	fine bool        // finer size classes above 64 KiB (see class), not powers of two

	mu     sync.Mutex
	free   map[int][]unsafe.Pointer // by size class
	blocks map[unsafe.Pointer]int   // every block allocated: its size class
	warned bool
	out    atomic.Int64 // bytes of blocks handed out through Allocate and not yet freed
	// For measurements (Device.CallStats): bytes of every block allocated, and the most
	// handed out at once; neither is reset by freeAll.
	allocated, peak atomic.Int64
}

func newPinnedAllocator(lib *library, warn func(error)) *pinnedAllocator {
	return &pinnedAllocator{lib: lib, warn: warn, free: map[int][]unsafe.Pointer{}, blocks: map[unsafe.Pointer]int{}}
}

// class is the block size that serves size bytes: the next power of two (at least 64), or
// with fine classes, above 64 KiB, the next multiple of a sixteenth of the power of two below
// size (at most 1/16 unused), where a free block also serves sizes of classes up to a quarter
// smaller (reusable). Powers of two leave up to half of a block unused; fine classes serve the
// long-lived page buffers (one size each) and the decoded columns' arenas (sizes that vary a
// little from chunk to chunk) closer to their sizes.
func (a *pinnedAllocator) class(size int) int {
	k := max(bits.Len(uint(max(size, 1)-1)), 6)
	if !a.fine || k <= 16 {
		return 1 << k
	}
	step := 1 << (k - 5)
	return (size + step - 1) / step * step
}

// tryAllocate returns size bytes of pinned memory (its capacity the block's size class), or
// false where cudaMallocHost fails. With fine classes, a free block of a class up to a quarter
// larger than size's serves it (the smallest such): buffers whose sizes vary a little from
// batch to batch (decoded columns) then reuse each other's blocks instead of each class
// growing blocks of its own.
func (a *pinnedAllocator) tryAllocate(size int) ([]byte, bool) {
	k := a.class(size)
	a.mu.Lock()
	var p unsafe.Pointer
	if c, ok := a.reusable(k); ok {
		n := len(a.free[c])
		p, k = a.free[c][n-1], c
		a.free[c] = a.free[c][:n-1]
	}
	a.mu.Unlock()
	if p == nil {
		p = C.call_host_alloc(a.lib.lib, C.size_t(k))
		if p == nil {
			a.failed(k)
			return nil, false
		}
		a.mu.Lock()
		a.blocks[p] = k
		a.mu.Unlock()
		a.allocated.Add(int64(k))
	}
	if out := a.out.Add(int64(k)); out > a.peak.Load() {
		a.peak.Store(out) // racy but for measurements only: close to the peak
	}
	return unsafe.Slice((*byte)(p), k)[:size], true
}

// reusable returns the class of the free block that serves sizes of class k: k itself, or with
// fine classes the smallest class up to a quarter larger (maxReuse) holding a free block. The
// caller holds mu.
func (a *pinnedAllocator) reusable(k int) (int, bool) {
	if len(a.free[k]) > 0 {
		return k, true
	}
	if !a.fine {
		return 0, false
	}
	for c := a.class(k + 1); c <= k+k/maxReuse; c = a.class(c + 1) {
		if len(a.free[c]) > 0 {
			return c, true
		}
	}
	return 0, false
}

// maxReuse: with fine classes, a block serves sizes down to 1/maxReuse less than its own.
const maxReuse = 4

// failed warns, once, that pinned memory ran out.
func (a *pinnedAllocator) failed(size int) {
	a.mu.Lock()
	first := !a.warned
	a.warned = true
	a.mu.Unlock()
	if first && a.warn != nil {
		a.warn(fmt.Errorf("cudaMallocHost(%d) failed: using Go memory (slower transfers to the GPU) where pinned memory runs out", size))
	}
}

// owns reports whether b is (a prefix of) a block of this allocator.
func (a *pinnedAllocator) owns(b []byte) bool {
	if cap(b) == 0 {
		return false
	}
	a.mu.Lock()
	_, ok := a.blocks[unsafe.Pointer(unsafe.SliceData(b[:1]))]
	a.mu.Unlock()
	return ok
}

// Allocate implements memory.Allocator: pinned memory, or Go memory where none is left.
func (a *pinnedAllocator) Allocate(size int) []byte {
	if b, ok := a.tryAllocate(size); ok {
		return b
	}
	return make([]byte, size)
}

// Reallocate implements memory.Allocator.
func (a *pinnedAllocator) Reallocate(size int, b []byte) []byte {
	if size <= cap(b) {
		return b[:size]
	}
	nb := a.Allocate(size)
	copy(nb, b)
	a.Free(b)
	return nb
}

// Free implements memory.Allocator: a pinned block goes back to its size class for reuse; Go
// memory is left to the garbage collector.
func (a *pinnedAllocator) Free(b []byte) {
	if cap(b) == 0 {
		return
	}
	p := unsafe.Pointer(unsafe.SliceData(b[:1]))
	a.mu.Lock()
	defer a.mu.Unlock()
	k, ok := a.blocks[p]
	if !ok {
		return
	}
	a.free[k] = append(a.free[k], p)
	a.out.Add(-int64(k))
}

// usage returns the bytes of every block allocated and the most handed out at once.
func (a *pinnedAllocator) usage() (allocated, peak int64) { return a.allocated.Load(), a.peak.Load() }

// outstanding is the bytes of pinned blocks handed out by Allocate or tryAllocate and not freed.
func (a *pinnedAllocator) outstanding() int64 { return a.out.Load() }

// freeAll frees every block; none may be in use.
func (a *pinnedAllocator) freeAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for p := range a.blocks {
		C.call_host_free(a.lib.lib, p)
	}
	a.blocks, a.free = map[unsafe.Pointer]int{}, map[int][]unsafe.Pointer{}
}

// encodePlain encodes n fixed-width values (width 4 or 8 bytes each, PLAIN, as Arrow holds
// them; floats when isFloat, else signed integers) with their Arrow validity bitmap (nil: no
// NULLs) into pages of pageRows rows on the GPU, as pqfile.PlainPages does on the CPU. The
// buffers are Go memory, copied to the device and back within the call. kernel is the
// kernel's own time.
func (l *library) encodePlain(values, valid []byte, n, width int, isFloat, nullable bool, pageRows int) (pages []plainPage, kernel time.Duration, err error) {
	if len(values) < n*width || (valid != nil && len(valid) < (n+7)/8) {
		return nil, 0, fmt.Errorf("encode: %d values of %d bytes need %d bytes and a bitmap of %d, not %d and %d", n, width, n*width, (n+7)/8, len(values), len(valid))
	}
	npages := max(1, (n+pageRows-1)/pageRows)
	outWidth := width
	if width == 2 { // int16, written as INT32
		outWidth = 4
	}
	capacity := 4 + 10 + (pageRows+7)/8 + pageRows*outWidth
	out := make([]byte, npages*capacity)
	sizes := make([]int64, npages)
	nulls := make([]int64, npages)
	mins := make([]byte, npages*16)
	maxs := make([]byte, npages*16)
	has := make([]byte, npages)
	var vp, bp *C.uint8_t
	if len(values) > 0 {
		vp = (*C.uint8_t)(unsafe.Pointer(&values[0]))
	}
	if len(valid) > 0 {
		bp = (*C.uint8_t)(unsafe.Pointer(&valid[0]))
	}
	var errBuf [errLen]C.char
	var ms C.float
	if C.call_encode(l.lib, vp, bp, C.int64_t(n), C.int32_t(width), C.int32_t(b2i(isFloat)), C.int32_t(b2i(nullable)),
		C.int64_t(pageRows), (*C.uint8_t)(unsafe.Pointer(&out[0])), C.int64_t(capacity),
		(*C.int64_t)(unsafe.Pointer(&sizes[0])), (*C.uint8_t)(unsafe.Pointer(&mins[0])), (*C.uint8_t)(unsafe.Pointer(&maxs[0])),
		(*C.int64_t)(unsafe.Pointer(&nulls[0])), (*C.uint8_t)(unsafe.Pointer(&has[0])), &ms, &errBuf[0], errLen) != 0 {
		return nil, 0, errors.New(C.GoString(&errBuf[0]))
	}
	res := make([]plainPage, npages)
	for p := range res {
		rows := min(pageRows, n-p*pageRows)
		res[p] = plainPage{Data: out[p*capacity : p*capacity+int(sizes[p])], Rows: max(rows, 0), Nulls: nulls[p], HasStats: has[p] != 0}
		if res[p].HasStats {
			res[p].Min, res[p].Max = mins[p*16:p*16+outWidth], maxs[p*16:p*16+outWidth]
		}
	}
	return res, time.Duration(float64(ms) * float64(time.Millisecond)), nil
}

// encoder is a page encoder of the library (encode.cu, pgpq_enc_*): one CUDA stream and device
// buffers that only grow, and pinned host memory (grown as needed) that the pages of its last
// run are views of. Not safe for concurrent use: its owner serializes calls.
type encoder struct {
	lib     *library
	h       unsafe.Pointer
	host    unsafe.Pointer // pinned, hostCap bytes
	hostCap int
}

// openEncoder makes an encoder.
func (l *library) openEncoder() (*encoder, error) {
	var errBuf [errLen]C.char
	h := C.call_enc_open(l.lib, &errBuf[0], errLen)
	if h == nil {
		return nil, fmt.Errorf("open the GPU page encoder: %s", C.GoString(&errBuf[0]))
	}
	return &encoder{lib: l, h: h}, nil
}

// close frees the encoder's stream and memory; the pages of its last run are gone with them.
func (e *encoder) close() {
	if e.h != nil {
		C.call_enc_close(e.lib.lib, e.h)
		e.h = nil
	}
	if e.host != nil {
		C.call_host_free(e.lib.lib, e.host)
		e.host, e.hostCap = nil, 0
	}
}

// run encodes cols on the GPU, as pqfile.PlainPages does on the CPU, and returns each column's
// pages. The pages' Data are views of the column's out when it has one, else, with Min and
// Max, of the encoder's pinned memory, valid until its next run or close. kernel is the time
// on the device from the first copy in to the last copy out.
func (e *encoder) run(cols []encCol) (pages [][]plainPage, kernel time.Duration, err error) {
	// The host layout: every column's statistics first, one after the other (the device
	// writes them back in one copy), then the pages of columns without a destination of their
	// own.
	type layout struct{ out, sizes, nulls, mins, maxs, has, npages, pcap int }
	lays := make([]layout, len(cols))
	total := 0
	for i, c := range cols {
		if !c.widthsOK() || c.pageRows < 1 || len(c.values) < c.n*c.width || (c.valid != nil && len(c.valid) < (c.n+7)/8) {
			return nil, 0, fmt.Errorf("encode: %d values of %d bytes (kind %d, written as %d) need %d bytes and a bitmap of %d, not %d and %d",
				c.n, c.width, c.kind, c.plainWidth(), c.n*c.width, (c.n+7)/8, len(c.values), len(c.valid))
		}
		l := &lays[i]
		l.npages, l.pcap = max(1, (c.n+c.pageRows-1)/c.pageRows), 4+10+(c.pageRows+7)/8+c.pageRows*c.plainWidth()
		if c.out != nil {
			if need := c.n * c.plainWidth(); l.npages != 1 || c.nullable || len(c.out) < need {
				return nil, 0, fmt.Errorf("encode: a destination of %d bytes for %d pages of %d values of %d bytes", len(c.out), l.npages, c.n, c.plainWidth())
			}
			l.pcap = len(c.out)
		}
		for _, f := range []*int{&l.sizes, &l.nulls, &l.has} {
			*f = total
			total += l.npages * 8
		}
		for _, f := range []*int{&l.mins, &l.maxs} {
			*f = total
			total += l.npages * 16
		}
	}
	stats := total
	for i, c := range cols {
		if l := &lays[i]; c.out == nil {
			l.out = total
			total += (l.npages*l.pcap + 7) &^ 7
		}
	}
	host, err := e.hostBytes(total)
	if err != nil {
		return nil, 0, err
	}
	at := func(off int) *C.uint8_t { return (*C.uint8_t)(unsafe.Pointer(&host[off])) }
	at64 := func(off int) *C.int64_t { return (*C.int64_t)(unsafe.Pointer(&host[off])) }
	var pin runtime.Pinner
	defer pin.Unpin()
	descs := make([]C.pgpq_enc_col, len(cols))
	for i, c := range cols {
		l := lays[i]
		d := &descs[i]
		if c.n > 0 {
			pin.Pin(&c.values[0])
			d.values = (*C.uint8_t)(unsafe.Pointer(&c.values[0]))
		}
		if len(c.valid) > 0 {
			pin.Pin(&c.valid[0])
			d.valid = (*C.uint8_t)(unsafe.Pointer(&c.valid[0]))
		}
		d.n, d.width, d.kind, d.nullable = C.int64_t(c.n), C.int32_t(c.width), C.int32_t(c.kind), C.int32_t(b2i(c.nullable))
		d.out_width = C.int32_t(c.outWidth)
		d.page_rows, d.page_cap = C.int64_t(c.pageRows), C.int64_t(l.pcap)
		if c.out != nil {
			pin.Pin(&c.out[0])
			d.out = (*C.uint8_t)(unsafe.Pointer(&c.out[0]))
		} else {
			d.out = at(l.out)
		}
		d.sizes, d.nulls, d.mins, d.maxs, d.has = at64(l.sizes), at64(l.nulls), at(l.mins), at(l.maxs), at(l.has)
	}
	var errBuf [errLen]C.char
	var ms C.float
	// Every column's statistics lie in host[:stats], which holds nothing else.
	if len(descs) > 0 && C.call_enc_run(e.lib.lib, e.h, &descs[0], C.int(len(descs)), at(0), C.int64_t(stats), &ms, &errBuf[0], errLen) != 0 {
		return nil, 0, errors.New(C.GoString(&errBuf[0]))
	}
	pages = make([][]plainPage, len(cols))
	for i, c := range cols {
		l := lays[i]
		out := c.plainWidth()
		ps := make([]plainPage, l.npages)
		for p := range ps {
			size := int(int64(binary.LittleEndian.Uint64(host[l.sizes+8*p:])))
			if size < 0 || size > l.pcap {
				return nil, 0, fmt.Errorf("encode: the GPU reported a page of %d bytes, more than its %d", size, l.pcap)
			}
			if host[l.has+p] == 2 {
				return nil, 0, fmt.Errorf("encode: a decimal value does not fit in the %d bytes of its precision", c.outWidth)
			}
			rows := min(c.pageRows, c.n-p*c.pageRows)
			data := c.out
			if data == nil {
				data = host[l.out+p*l.pcap : l.out+(p+1)*l.pcap]
			}
			ps[p] = plainPage{Data: data[:size:size], Rows: max(rows, 0),
				Nulls: int64(binary.LittleEndian.Uint64(host[l.nulls+8*p:])), HasStats: host[l.has+p] != 0}
			if ps[p].HasStats {
				ps[p].Min, ps[p].Max = host[l.mins+16*p:l.mins+16*p+out:l.mins+16*p+out], host[l.maxs+16*p:l.maxs+16*p+out:l.maxs+16*p+out]
			}
		}
		pages[i] = ps
	}
	return pages, time.Duration(float64(ms) * float64(time.Millisecond)), nil
}

// hostBytes returns the encoder's pinned host memory, grown to at least n bytes (what it held
// is lost when it grows).
func (e *encoder) hostBytes(n int) ([]byte, error) {
	if n > e.hostCap {
		if e.host != nil {
			C.call_host_free(e.lib.lib, e.host)
			e.host, e.hostCap = nil, 0
		}
		size := n + n/4
		p := C.call_host_alloc(e.lib.lib, C.size_t(size))
		if p == nil {
			return nil, fmt.Errorf("encode: cudaMallocHost(%d) failed", size)
		}
		e.host, e.hostCap = p, size
	}
	return unsafe.Slice((*byte)(e.host), e.hostCap), nil
}

// hasEncoder says whether the library has the page encoder (pgpq_enc_*).
func (l *library) hasEncoder() bool { return l.lib.enc_open != nil }

// uniqCol is one string or binary column of encoder.uniques: its n value offsets (n + 1,
// indexing data directly) and bytes, and its validity bitmap from bit 0 (nil: no NULLs).
type uniqCol struct {
	offsets []int32
	data    []byte
	valid   []byte
	n       int
}

// uniques groups the rows of each column by value on the GPU: ids[row] is the row's group
// (-1 for NULL), firsts[g] the first row of group g, groups numbered by their first rows (as
// cpuUniquer numbers them). The device finds each row's first row holding its value; the
// groups are numbered here, in one pass. A column whose values could not be told apart by
// hash (never expected; weak forces it, for tests) gets nil ids and firsts: the caller groups
// it on the CPU.
func (e *encoder) uniques(cols []uniqCol, weak bool) (ids, firsts [][]int32, err error) {
	var pin runtime.Pinner
	defer pin.Unpin()
	descs := make([]C.pgpq_uniq_col, len(cols))
	collided := make([]int32, len(cols))
	// The first rows come back into pinned memory (copies from the device at full speed, no
	// staging by the driver's CPU).
	total := 0
	for _, c := range cols {
		total += 4 * max(c.n, 1)
	}
	host, err := e.hostBytes(total)
	if err != nil {
		return nil, nil, err
	}
	first := make([][]int32, len(cols))
	at := 0
	for i, c := range cols {
		m := max(c.n, 1)
		first[i] = unsafe.Slice((*int32)(unsafe.Pointer(&host[at])), m)[:c.n]
		at += 4 * m
	}
	ids, firsts = make([][]int32, len(cols)), make([][]int32, len(cols))
	for i, c := range cols {
		if len(c.offsets) < c.n+1 || (c.n > 0 && int(c.offsets[c.n]) > len(c.data)) || (c.valid != nil && len(c.valid) < (c.n+7)/8) {
			return nil, nil, fmt.Errorf("uniques: %d rows with %d offsets, %d bytes of data and a bitmap of %d bytes", c.n, len(c.offsets), len(c.data), len(c.valid))
		}
		d := &descs[i]
		d.n = C.int64_t(c.n)
		if c.n > 0 {
			pin.Pin(&c.offsets[0])
			d.offsets = (*C.int32_t)(unsafe.Pointer(&c.offsets[0]))
		}
		if len(c.data) > 0 {
			pin.Pin(&c.data[0])
			d.data = (*C.uint8_t)(unsafe.Pointer(&c.data[0]))
		}
		if len(c.valid) > 0 {
			pin.Pin(&c.valid[0])
			d.valid = (*C.uint8_t)(unsafe.Pointer(&c.valid[0]))
		}
		d.first = (*C.int32_t)(unsafe.Pointer(unsafe.SliceData(first[i][:1])))
		d.collided = (*C.int32_t)(unsafe.Pointer(&collided[i]))
	}
	if len(descs) == 0 {
		return ids, firsts, nil
	}
	pin.Pin(&collided[0])
	var errBuf [errLen]C.char
	if C.call_uniq_run(e.lib.lib, e.h, &descs[0], C.int(len(descs)), C.int(b2i(weak)), &errBuf[0], errLen) != 0 {
		return nil, nil, errors.New(C.GoString(&errBuf[0]))
	}
	for i, c := range cols {
		if collided[i] != 0 {
			continue
		}
		ids[i], firsts[i], err = groupsOf(first[i], c.n)
		if err != nil {
			return nil, nil, err
		}
	}
	return ids, firsts, nil
}

// hasUniques says whether the library groups string columns (pgpq_uniq_run).
func (l *library) hasUniques() bool { return l.lib.uniq_run != nil }

// injectEncodeFaults makes the library fail its next enc page-encoder runs and uniq grouping
// runs as a CUDA error would (tests); false if the library has no such hook.
func (l *library) injectEncodeFaults(enc, uniq int) bool {
	return C.call_inject_enc(l.lib, C.int(enc), C.int(uniq)) == 0
}

// callStats returns the library's per-call CPU counters as text (callstats.h), "" when it
// does not count ($PGPARQUET_CUDA_CALLSTATS unset when it was loaded, or a library without them).
func (l *library) callStats() string {
	buf := make([]byte, 8192)
	n := C.call_callstats(l.lib, (*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf)))
	return string(buf[:int(n)])
}
