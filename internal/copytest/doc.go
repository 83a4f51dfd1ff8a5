// Package copytest is a test kit for building COPY BINARY streams and random
// columns. It writes tuples and field values the way PostgreSQL's typsend
// functions do, plans matching pgarrow columns, generates random and
// lineorder-shaped chunks, compares Arrow arrays bit for bit, and writes fuzz
// seed corpora.
//
// It is used by the decoder tests of gpuparse and device (and by pgcopy's
// fuzz seeds); it is not meant for production code.
package copytest
