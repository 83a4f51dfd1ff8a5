// Package copyout runs COPY ... TO STDOUT on a pgconn connection and reads the response itself,
// in large blocks, instead of through pgconn's CopyTo, which decodes one message at a time from
// an 8 KiB read buffer and hands each CopyData payload to one Write: with PostgreSQL sending one
// CopyData message per row, that per-message path cost about 9% of an export's CPU.
//
// Conn takes the connection out of pgconn for the duration of one COPY (pgconn's Hijack), reads
// the socket (the TLS connection when TLS is on) into a block it owns, or into memory the
// caller lends (Landing: the export reads straight into its receive buffers), splits the backend
// messages itself, and hands it back (pgconn's Construct) with the state the server reported
// (transaction status, parameter statuses), so that the connection stays usable after a COPY
// that ended with ReadyForQuery, a server error included. It knows nothing of the COPY format:
// the payloads are handed on as they are (package pgcopy frames COPY BINARY).
package copyout
