package pqfile

import (
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// lineorderBatch is one batch of the benchmarks' lineorder-like table: 17 fixed-width columns
// (int64 keys, int32 keys, dates and small numbers, decimal(15,2) prices), 25,000 rows, as
// fragments (what the GPU writer's encoder hands PlainColumn).
type lineorderBatch struct {
	rows  int
	frags []benchFragment
}

type benchFragment struct {
	values []byte
	valid  []byte
	stats  metadata.EncodedStatistics
}

const benchBatchRows = 25000

// benchTypes are the columns' types and nullability: a few columns hold 1% NULLs.
var benchTypes = func() (out []struct {
	t        arrow.DataType
	nullable bool
}) {
	add := func(t arrow.DataType, nullable bool) {
		out = append(out, struct {
			t        arrow.DataType
			nullable bool
		}{t, nullable})
	}
	dec := &arrow.Decimal128Type{Precision: 15, Scale: 2}
	add(arrow.PrimitiveTypes.Int64, false) // orderkey
	for i := range 10 {
		add(arrow.PrimitiveTypes.Int32, i%4 == 3) // linenumber, custkey, partkey, ..., dates
	}
	add(arrow.PrimitiveTypes.Int64, true)
	for i := range 5 {
		add(dec, i == 2) // prices
	}
	return out
}()

// lineorderBatches makes n batches of the benchmarks' table.
func lineorderBatches(b *testing.B, n int) []lineorderBatch {
	rng := rand.New(rand.NewPCG(5, 6))
	out := make([]lineorderBatch, n)
	for k := range out {
		out[k].rows = benchBatchRows
		for c, ct := range benchTypes {
			bld := array.NewBuilder(memory.DefaultAllocator, ct.t)
			for i := range benchBatchRows {
				if ct.nullable && rng.IntN(100) == 0 {
					bld.AppendNull()
					continue
				}
				switch bb := bld.(type) {
				case *array.Int64Builder:
					bb.Append(int64(k*benchBatchRows+i)*4 + rng.Int64N(4))
				case *array.Int32Builder:
					bb.Append(rng.Int32N([]int32{7, 30000, 200000, 2000, 2600, 50, 11, 9, 100, 1 << 20}[c%10]))
				case *array.Decimal128Builder:
					bb.Append(decimal128.FromI64(rng.Int64N(10_000_000)))
				}
			}
			a := bld.NewArray()
			bld.Release()
			values, stats, err := PlainFragment(a)
			if err != nil {
				b.Fatal(err)
			}
			var valid []byte
			if a.NullN() > 0 {
				valid = append([]byte(nil), a.NullBitmapBytes()...)
			}
			a.Release()
			out[k].frags = append(out[k].frags, benchFragment{values, valid, stats})
		}
	}
	return out
}

// benchPlain runs batches through PlainColumns of 1 MiB pages as the GPU writer's
// flushPages does: after each batch the full pages are taken, handed to compress (nil: none)
// and given back to their columns; the last pages at the end. One op is 40 batches (a million
// rows, 17 columns).
func benchPlain(b *testing.B, compress func([][]RawPage)) {
	batches := lineorderBatches(b, 8)
	cols := make([]*PlainColumn, len(benchTypes))
	for i, ct := range benchTypes {
		pc, err := NewPlainColumn(ct.t, ct.nullable, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		cols[i] = pc
	}
	var bytes int64
	for _, f := range batches[0].frags {
		bytes += int64(len(f.values))
	}
	b.SetBytes(bytes * 40)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for n := range 40 {
			batch := batches[n%len(batches)]
			for i, f := range batch.frags {
				if err := cols[i].Append(f.values, f.valid, 0, batch.rows, f.stats); err != nil {
					b.Fatal(err)
				}
			}
			flushBench(cols, n == 39, compress)
		}
	}
}

func flushBench(cols []*PlainColumn, all bool, compress func([][]RawPage)) {
	var raw [][]RawPage
	var idx []int
	for k, pc := range cols {
		if !pc.Full() && !(all && pc.Rows() > 0) {
			continue
		}
		p, _ := pc.Take()
		raw = append(raw, []RawPage{p})
		idx = append(idx, k)
	}
	if len(raw) > 0 && compress != nil {
		compress(raw)
	}
	for n, k := range idx {
		cols[k].Recycle(raw[n][0])
	}
}

// BenchmarkPlainColumn: PlainColumn's Append and Take alone, at lineorder's sizes.
func BenchmarkPlainColumn(b *testing.B) {
	benchPlain(b, nil)
}

// BenchmarkPlainCompress: Append, Take and CPUPlain.Compress with arrow-go's codecs (zstd on
// the CPU; uncompressed), as the GPU writer's CPU twin runs them.
func BenchmarkPlainCompress(b *testing.B) {
	for _, codec := range []compress.Compression{compress.Codecs.Zstd, compress.Codecs.Uncompressed} {
		b.Run(codec.String(), func(b *testing.B) {
			comp, err := NewCPUPlain(codec)
			if err != nil {
				b.Fatal(err)
			}
			benchPlain(b, func(raw [][]RawPage) { comp.Compress(raw) })
		})
	}
}
