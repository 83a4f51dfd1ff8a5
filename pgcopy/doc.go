// Package pgcopy is the framing of PostgreSQL's COPY ... (FORMAT BINARY) streams: the file
// header (ParseHeader), the trailer (IsTrailer), the Chunk of whole tuples that a receiver cuts
// from a stream and a decoder reads, and the DecodeError that names a position in a stream.
//
// It knows nothing of column types or Arrow: decoding a Chunk's fields is package gpuparse's,
// the type mapping package pgarrow's.
package pgcopy
