// fuse.h: the page encoder's and the string grouping's kernels (encode.cu) as pgpq_finish_fused
// (pgcopy.cu) runs them on a chunk it has just decoded, on the job's stream: the column
// descriptions each launch reads (written on the host, copied to the device by the caller) and
// the launches.
#ifndef PGPQ_FUSE_H
#define PGPQ_FUSE_H

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>

#include "pgpq_abi.h"

// pgpq_plain_width is the bytes of one value of a fixed-width column in PLAIN (pgpq_enc_col's
// kind, width and out_width): what the page encoder writes per row.
int64_t pgpq_plain_width(int32_t kind, int32_t width, int32_t out_width);

// The size of one column's description for pgpq_fuse_launch_enc and pgpq_fuse_launch_uniq.
size_t pgpq_fuse_enc_desc_size(void);
size_t pgpq_fuse_uniq_desc_size(void);

// pgpq_fuse_enc_desc writes at desc the description of column c (device pointers; one page of
// c->n rows, out NULL for statistics only) whose page is block first_block of the launch.
void pgpq_fuse_enc_desc(void* desc, const pgpq_enc_col* c, int64_t first_block);

// pgpq_fuse_uniq_desc writes at desc the description of a string column of n rows (device
// pointers: offsets into data, validity or NULL) whose rows are rows row0.. of the launch, with
// its hash table (tmask + 1 slots of keys, cleared to all ones, and mins, to 0x7f bytes), a
// slot per row, each row's first row (n rows), and its results: collided (one int32, cleared),
// ids (n rows: each row's group, -1 for NULL, groups numbered in the order of their first
// rows), firsts (n rows room: each group's first row) and ngroups (one int32: the groups).
void pgpq_fuse_uniq_desc(void* desc, const int32_t* offsets, const uint8_t* data, const uint8_t* valid, int64_t n,
                         int64_t row0, unsigned long long* keys, int32_t* mins, int32_t* slot, uint64_t tmask,
                         int32_t* first, int32_t* collided, int32_t* ids, int32_t* firsts, int32_t* ngroups);

// pgpq_fuse_bytes_desc writes at desc the description of a string or binary column of n rows
// (device pointers: offsets into data, validity or NULL) whose non-NULL values go PLAIN into
// out (each a 4-byte little-endian length, then its bytes), their bytes into *size, and the
// rows of the byte-wise smallest and largest into minmax[0] and minmax[1] (-1 without any).
size_t pgpq_fuse_bytes_desc_size(void);
void pgpq_fuse_bytes_desc(void* desc, const int32_t* offsets, const uint8_t* data, const uint8_t* valid, int64_t n,
                          uint8_t* out, int64_t* size, int32_t* minmax);

// The launches, over ncols descriptions at d_descs (device memory): blocks pages in all, rows
// rows in all; one block per column for the byte arrays.
cudaError_t pgpq_fuse_launch_enc(const void* d_descs, int ncols, int64_t blocks, cudaStream_t s);
cudaError_t pgpq_fuse_launch_uniq(const void* d_descs, int ncols, int64_t rows, cudaStream_t s);
cudaError_t pgpq_fuse_launch_bytes(const void* d_descs, int ncols, cudaStream_t s);

#endif
