// Package gpuparse decodes PostgreSQL COPY BINARY chunks into Arrow record batches.
//
// A Decoder turns each pgcopy.Chunk into one arrow.RecordBatch whose columns follow the
// []pgarrow.Column plan that pgarrow.PlanType derived from the catalog, typed as
// pgarrow.ArrowSchema says. CPUDecoder is the pure-Go reference implementation; the CUDA
// decoder of package device implements the same interface and produces the same output bit for
// bit, calling CPUDecoder.DecodeColumnsAt for the columns it has no kernel for. Malformed input
// is reported as a *pgcopy.DecodeError that names the stream, the absolute byte offset, the row
// and the column; a decoder never panics on input and never returns a short batch.
//
// See README.md for the wire format handled and the type mapping.
package gpuparse
