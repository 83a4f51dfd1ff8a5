package gpuparse

import (
	"context"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgparquet/pgparquet/internal/copytest"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// wideArrayColumns are the array columns of the benchmark's wide table: tags text[] and
// vals integer[].
func wideArrayColumns() []pgarrow.Column {
	text := &pgarrow.TypeDesc{OID: pgtype.TextOID, Typmod: -1, SendOID: pgtype.TextOID}
	i4 := &pgarrow.TypeDesc{OID: pgtype.Int4OID, Typmod: -1, SendOID: pgtype.Int4OID}
	return []pgarrow.Column{
		pgarrow.PlanType("tags", &pgarrow.TypeDesc{OID: pgtype.TextArrayOID, Class: pgarrow.ClassArray, Dims: 1, Elem: text}, "text[]", pgarrow.PlanOptions{}),
		pgarrow.PlanType("vals", &pgarrow.TypeDesc{OID: pgtype.Int4ArrayOID, Class: pgarrow.ClassArray, Dims: 1, Elem: i4}, "integer[]", pgarrow.PlanOptions{}),
	}
}

// wideArrayChunk is rows tuples of wideArrayColumns shaped like the wide table: 3 short tags
// and 3 ints per row, with about 2% NULL arrays and 2% NULL elements.
func wideArrayChunk(rows int) *pgcopy.Chunk {
	rng := rand.New(rand.NewPCG(1, 2))
	elem := func(b []byte) []byte {
		if rng.IntN(50) == 0 {
			return nil
		}
		return b
	}
	arr := func(oid uint32, elems ...[]byte) []byte {
		if rng.IntN(50) == 0 {
			return nil
		}
		return copytest.Array(oid, []int32{int32(len(elems))}, []int32{1}, elems...)
	}
	tuples := make([][]byte, rows)
	for i := range tuples {
		tag := func(c byte) []byte { return elem(append([]byte{c}, strconv.Itoa(rng.IntN(10))...)) }
		val := func() []byte { return elem(copytest.Int32(int32(rng.Uint32()))) }
		tuples[i] = copytest.Tuple(arr(pgtype.TextOID, tag('a'), tag('b'), tag('c')), arr(pgtype.Int4OID, val(), val(), val()))
	}
	data, starts := copytest.RowStarts(tuples...)
	return &pgcopy.Chunk{Data: data, RowStarts: starts, Source: "bench"}
}

// arrayDecoders are the decoders the array benchmarks compare: the fast list path, and the
// tree path it replaces.
var arrayDecoders = []struct {
	name string
	new  func([]pgarrow.Column, memory.Allocator) *CPUDecoder
}{{"fast", NewCPUDecoder}, {"tree", genericDecoder}}

// BenchmarkCPUDecodeArrays decodes 100k rows of wideArrayColumns with Decode; MB/s is COPY
// BINARY input bytes per second.
func BenchmarkCPUDecodeArrays(b *testing.B) {
	c := wideArrayChunk(100000)
	ctx := context.Background()
	for _, d := range arrayDecoders {
		b.Run(d.name, func(b *testing.B) {
			dec := d.new(wideArrayColumns(), memory.NewGoAllocator())
			b.SetBytes(int64(len(c.Data)))
			b.ReportAllocs()
			for b.Loop() {
				rec, err := dec.Decode(ctx, c)
				if err != nil {
					b.Fatal(err)
				}
				rec.Release()
			}
		})
	}
}

// BenchmarkDecodeColumnsAtArrays decodes the same chunk with DecodeColumnsAt, from the field
// positions the GPU decoder would hand it.
func BenchmarkDecodeColumnsAtArrays(b *testing.B) {
	c := wideArrayChunk(100000)
	pos := fieldPositions(c, 2)
	for _, d := range arrayDecoders {
		b.Run(d.name, func(b *testing.B) {
			dec := d.new(wideArrayColumns(), memory.NewGoAllocator())
			b.SetBytes(int64(len(c.Data)))
			b.ReportAllocs()
			for b.Loop() {
				arrs, err := dec.DecodeColumnsAt(c, []int{0, 1}, pos)
				if err != nil {
					b.Fatal(err)
				}
				releaseAll(arrs)
			}
		})
	}
}
