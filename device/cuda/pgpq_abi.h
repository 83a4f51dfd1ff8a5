// pgpq_abi.h: the structs the CUDA library (pgcopy.cu, encode.cu) and its Go caller
// (device/cuda.go, which finds the functions with dlsym) pass each other, defined once for
// both. Plain C, so cgo and nvcc read the same layout.
#ifndef PGPQ_ABI_H
#define PGPQ_ABI_H

#include <stdint.h>

// Element conversions of a list column decoded on the GPU (pgpq_col.elem_op), as the CPU
// decoder's flat-list path (gpuparse/list.go) writes its elements.
#define PGPQ_EL_STRING 1     // strings and binary: int32 offsets and data
#define PGPQ_EL_BOOL 2       // one byte, non-zero true: a bitmap
#define PGPQ_EL_COPY 3       // elem_width (2, 4 or 8) big-endian bytes, byte-swapped
#define PGPQ_EL_DATE 4       // int32 days since 2000, shifted to 1970 (±infinity kept)
#define PGPQ_EL_TIMESTAMP 5  // int64 µs since 2000, shifted to 1970 (±infinity kept)
#define PGPQ_EL_MONEY 6      // int64, sign-extended to a 16-byte decimal128

// pgpq_col is one column of pgpq_open (pgcopy.cu).
typedef struct {
  int32_t kind;
  int32_t fixed;      // exact field length, 0 for variable length
  int32_t width;      // bytes per value in the values buffer (0: bool bitmap or var-length)
  int32_t varlen;     // 1: offsets + data
  int32_t precision;  // decimals
  int32_t scale;
  int32_t on_gpu;     // 0: the Go side decodes this column on the CPU, from its field positions
  int32_t vidx;       // index among the GPU var-length columns, -1 for others (set by pgpq_open)
  // A one-dimensional list column decoded on the GPU (on_gpu 1, list 1): its values buffer
  // holds the list offsets, its validity the lists'; the elements are described below.
  int32_t list;
  int32_t elem_op;     // PGPQ_EL_*
  int32_t elem_fixed;  // wire length of a fixed-width element, 0 for strings
  int32_t elem_width;  // bytes per element value, 0 for bool and strings
  uint32_t elem_oid;   // the element type OID arrays must name, 0: any
  int32_t lidx;        // index among the GPU list columns, -1 for others (set by pgpq_open)
  // A numeric column exported as its text (kind K_NUMERIC_STRING) decoded on the GPU (on_gpu 1,
  // varlen 1): its values buffer holds the string offsets, its data the text, written by
  // pgpq_finish once the Go side has allocated the bytes pgpq_scan reported.
  int32_t nidx;        // index among the GPU numeric text columns, -1 for others (set by pgpq_open)
} pgpq_col;

// pgpq_enc_col is one column of a pgpq_enc_run call (encode.cu): n values of width bytes as
// Arrow holds them (kind 0, integers: 2, 4 or 8 bytes, int16 written as INT32; kind 1, floats:
// 4 or 8; kind 2, decimal128: 16, written as FIXED_LEN_BYTE_ARRAY of out_width bytes, 1 to 16),
// with an Arrow validity bitmap or none, and where its pages go. Host pointers; out holds pages
// * page_cap bytes, mins and maxs 16 bytes per page, sizes and nulls one int64 and has one byte
// per page (1: the page has a min and max; 2: a decimal does not fit in out_width bytes), where
// pages = max(1, ceil(n / page_rows)) and page_cap is at least pgpq_enc_page_cap's.
typedef struct {
  const uint8_t* values;
  const uint8_t* valid;
  int64_t n;
  int32_t width;
  int32_t kind;
  int32_t nullable;
  int32_t out_width;
  int64_t page_rows;
  uint8_t* out;
  int64_t page_cap;
  int64_t* sizes;
  uint8_t* mins;
  uint8_t* maxs;
  int64_t* nulls;
  uint8_t* has;
} pgpq_enc_col;

// pgpq_uniq_col is one string (or binary) column of a pgpq_uniq_first_run call (encode.cu), in
// host memory: offsets (n + 1 Arrow int32 offsets into data, data[offsets[0]] the first byte
// copied: the caller passes data so that offsets index it directly), data (offsets[n] bytes),
// valid (an Arrow bitmap starting at bit 0, or NULL). Out: first (n: the first row holding
// each row's value, -1 for NULL), collided (1: two different values shared a hash; first then
// means nothing).
typedef struct {
  const int32_t* offsets;
  const uint8_t* data;
  const uint8_t* valid;
  int64_t n;
  int32_t* first;
  int32_t* collided;
} pgpq_uniq_col;

// pgpq_fuse_col is one column of a pgpq_finish_fused call: what to compute on the device from
// a column just decoded there, and where in the call's host buffer (pinned, host_bytes; the
// device computes into a mirror of it, copied back in one piece) its results go.
//   PGPQ_FUSE_PLAIN: the column's batch as pgpq_enc_run encodes it into one page without
//     levels (kind, width, out_width as pgpq_enc_col's): its statistics, 64 bytes at stats
//     (size int64, NULL count int64, min 16 bytes, max 16 bytes, has uint8), and its non-NULL
//     values PLAIN at frag (rows * PLAIN width bytes), or frag -1 where they are not wanted
//     back (a column without NULLs whose PLAIN values are its Arrow values).
//   PGPQ_FUSE_UNIQ: a string or binary column's rows grouped by value as pgpq_uniq_first_run
//     groups them, and the groups numbered as device.groupsOf numbers them: at first, rows
//     int32 group ids (-1 for NULL), the collided int32 (1: two values shared a hash; the rest
//     means nothing), the number of groups (int32), then rows int32 of room for the groups'
//     first rows, in the order of the groups.
//   PGPQ_FUSE_BYTES: a string or binary column's non-NULL values as pqfile.ByteColumn writes
//     them PLAIN (a 4-byte little-endian length, then the bytes) at frag (room for 4 bytes a
//     row and the column's bytes), and at stats their size (int64) and the rows of the
//     byte-wise smallest and largest value (int32 each, -1 without any).
#define PGPQ_FUSE_PLAIN 1
#define PGPQ_FUSE_UNIQ 2
#define PGPQ_FUSE_BYTES 3
typedef struct {
  int32_t col;  // the decoder's column
  int32_t op;   // PGPQ_FUSE_*
  int32_t kind;
  int32_t width;
  int32_t out_width;
  int32_t pad;
  int64_t stats;
  int64_t frag;
  int64_t first;
} pgpq_fuse_col;

#endif
