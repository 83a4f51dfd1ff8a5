// Package gpuparse decodes PostgreSQL COPY BINARY streams into Arrow record
// batches.
//
// The receiver cuts a COPY ... TO STDOUT (FORMAT BINARY) stream into Chunks of
// whole tuples (it strips the file header with ParseHeader and the trailer
// with IsTrailer), and a Decoder turns each Chunk into one arrow.RecordBatch
// whose columns follow the []Column plan that PlanColumn derived from the
// catalog. ArrowSchema gives the schema of those batches.
//
// Two implementations share the Decoder interface: CPUDecoder, the pure-Go
// reference implementation, and CUDADecoder, which runs the kernels of
// cuda/pgcopy.cu (loaded at run time with LoadCUDA) and produces the same
// output bit for bit, decoding on the CPU what it cannot decode exactly. Malformed input is reported as a
// *DecodeError that names the stream, the absolute byte offset, the row and
// the column; a decoder never panics on input and never returns a short batch.
//
// See README.md for the wire format handled and the type mapping.
package gpuparse
