package device

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/compress"

	"github.com/pgparquet/pgparquet/pqfile"
)

// TestPageEncoderCPU: without a GPU, PageEncoder is the CPU twin (pqfile.PlainFragment): the
// pages PlainColumn makes of its fragments equal those of the CPU twin itself.
func TestPageEncoderCPU(t *testing.T) {
	enc, err := Start(ModeOff, "", nil).PageEncoder(compress.Codecs.Snappy)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	cpu, err := pqfile.NewCPUPlain(compress.Codecs.Snappy)
	if err != nil {
		t.Fatal(err)
	}
	if err := compareEncoders(rand.New(rand.NewPCG(1, 2)), enc, cpu, 30); err != nil {
		t.Fatal(err)
	}
	if g, c := enc.Counts(); g != 0 || c == 0 {
		t.Fatalf("%d column batches on the GPU, %d on the CPU", g, c)
	}
}

// compareEncoders feeds the same random batches (every type, batch sizes from 0 rows to more
// than a page) to a and b, each into PlainColumns of small pages, and requires the same pages:
// bytes, rows and statistics; each page compressed with zstd decompresses to itself.
func compareEncoders(rng *rand.Rand, a, b pqfile.PlainEncoder, batches int) error {
	var colsA, colsB []*pqfile.PlainColumn
	comp, err := pqfile.NewCPUPlain(compress.Codecs.Zstd)
	if err != nil {
		return err
	}
	zstdCodec, err := compress.GetCodec(compress.Codecs.Zstd)
	if err != nil {
		return err
	}
	check := func(final bool) error {
		for i := range colsA {
			for colsA[i].Full() || colsB[i].Full() || (final && (colsA[i].Rows() > 0 || colsB[i].Rows() > 0)) {
				pa, okA := colsA[i].Take()
				pb, okB := colsB[i].Take()
				// The pages' bytes: levels, then values.
				da, db := pa.AppendTo(nil), pb.AppendTo(nil)
				if okA != okB || !bytes.Equal(da, db) || pa.NumValues != pb.NumValues || !reflect.DeepEqual(pa.Stats, pb.Stats) {
					return fmt.Errorf("column %s: page of %d rows, %d bytes, %+v; the twin's %d rows, %d bytes, %+v (first difference at %d)",
						plainTypes[i], pa.NumValues, len(da), pa.Stats, pb.NumValues, len(db), pb.Stats, firstDiff(da, db))
				}
				// Compressed with zstd (on the GPU when the test started GPU compression).
				z := comp.Compress([][]pqfile.RawPage{{pa}})[0][0]
				if got := zstdCodec.Decode(make([]byte, z.UncompressedSize), z.Data); !bytes.Equal(got, da) {
					return fmt.Errorf("column %s: a zstd page of %d bytes decompresses to %d other bytes", plainTypes[i], len(da), len(got))
				}
				// Given back: the columns' next pages reuse the buffers.
				colsA[i].Recycle(pa)
				colsB[i].Recycle(pb)
			}
		}
		return nil
	}
	// An encoder with pinned page buffers (the GPU's) gets them: its fragments are written in
	// place. Every other batch's columns are in pinned memory too, as the GPU decoder's are:
	// the device reads them where they are.
	var pinned memory.Allocator
	if pa, ok := a.(interface{ PageAllocator() memory.Allocator }); ok {
		pinned = pa.PageAllocator()
	}
	defer func() {
		for _, c := range colsA {
			c.Release()
		}
	}()
	for batch := range batches {
		n := []int{0, 1, 9, 1000, 25000, 100003}[batch%6]
		cols, nullable := randomBatch(rng, n)
		if colsA == nil {
			for i, c := range cols {
				// Pages of 64 KiB: several batches per page, several pages per batch.
				ca, err := pqfile.NewPlainColumn(c.DataType(), nullable[i], 64<<10)
				if err != nil {
					return err
				}
				if pinned != nil {
					ca.SetAllocator(pinned)
				}
				cb, _ := pqfile.NewPlainColumn(c.DataType(), nullable[i], 64<<10)
				colsA, colsB = append(colsA, ca), append(colsB, cb)
			}
		}
		if pinned != nil && batch%2 == 1 {
			for i, c := range cols {
				cols[i] = copyInto(pinned, c)
				c.Release()
			}
		}
		// Columns keep their nullability: a required column gets no NULLs.
		for i, c := range cols {
			if !colsA[i].Nullable() && c.NullN() > 0 {
				c.Release()
				cols[i] = randomFixed(rng, plainTypes[i], n, 0)
			}
		}
		if err := a.Append(cols, colsA); err != nil {
			return err
		}
		if err := b.Append(cols, colsB); err != nil {
			return err
		}
		for _, c := range cols {
			c.Release()
		}
		if err := check(false); err != nil {
			return fmt.Errorf("batch %d (%d rows): %w", batch, n, err)
		}
	}
	return check(true)
}

// copyInto returns a copy of a (a fixed-width array) whose buffers alloc holds.
func copyInto(alloc memory.Allocator, a arrow.Array) arrow.Array {
	d := a.Data()
	bufs := make([]*memory.Buffer, len(d.Buffers()))
	for i, b := range d.Buffers() {
		if b == nil {
			continue
		}
		nb := alloc.Allocate(b.Len())
		copy(nb, b.Bytes())
		bufs[i] = memory.NewBufferWithAllocator(nb, alloc)
	}
	nd := array.NewData(d.DataType(), d.Len(), bufs, nil, d.NullN(), d.Offset())
	for _, b := range bufs {
		if b != nil {
			b.Release()
		}
	}
	defer nd.Release()
	return array.MakeFromData(nd)
}

// randomBatch makes columns of every type PageEncoder encodes, n rows each (some sliced from a
// longer array at an offset that is a multiple of 8), with random NULL rates.
func randomBatch(rng *rand.Rand, n int) ([]arrow.Array, []bool) {
	var cols []arrow.Array
	var nullable []bool
	for _, dt := range plainTypes {
		rate := []float64{0, 0, 0.01, 0.5, 1}[rng.IntN(5)]
		a := randomFixed(rng, dt, n+16, rate)
		off := 8 * rng.IntN(3)
		s := array.NewSlice(a, int64(off), int64(off+n))
		a.Release()
		cols = append(cols, s)
		nullable = append(nullable, rate > 0 || rng.IntN(2) == 0)
	}
	return cols, nullable
}

var plainTypes = []arrow.DataType{arrow.PrimitiveTypes.Int16, arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int64,
	arrow.PrimitiveTypes.Float32, arrow.PrimitiveTypes.Float64, arrow.FixedWidthTypes.Date32,
	arrow.FixedWidthTypes.Time64us, &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"},
	&arrow.Decimal128Type{Precision: 12, Scale: 2}, &arrow.Decimal128Type{Precision: 1, Scale: 0},
	&arrow.Decimal128Type{Precision: 18, Scale: 4}, &arrow.Decimal128Type{Precision: 38, Scale: 10}}

// randomFixed makes n values of dt, nullRate of them NULL; floats include NaN, -0.0, +0.0 and
// extremes, integers their extremes.
func randomFixed(rng *rand.Rand, dt arrow.DataType, n int, nullRate float64) arrow.Array {
	b := array.NewBuilder(memory.DefaultAllocator, dt)
	defer b.Release()
	for range n {
		if rng.Float64() < nullRate {
			b.AppendNull()
			continue
		}
		k := rng.IntN(10)
		switch b := b.(type) {
		case *array.Int16Builder:
			b.Append([]int16{math.MinInt16, math.MaxInt16, 0, -1}[k%4] + int16(rng.IntN(3)) - 1)
		case *array.Time64Builder:
			b.Append(arrow.Time64(rng.Int64N(86400e6 + 1)))
		case *array.Int32Builder:
			b.Append([]int32{math.MinInt32, math.MaxInt32, 0, -1}[k%4] + int32(rng.IntN(3)) - 1)
		case *array.Date32Builder:
			b.Append(arrow.Date32(rng.IntN(1<<20) - 1<<19))
		case *array.Int64Builder:
			b.Append([]int64{math.MinInt64, math.MaxInt64, 0, -1}[k%4] + rng.Int64N(3) - 1)
		case *array.TimestampBuilder:
			b.Append(arrow.Timestamp(rng.Int64() - 1<<62))
		case *array.Float32Builder:
			b.Append([]float32{float32(math.NaN()), float32(math.Copysign(0, -1)), 0, math.MaxFloat32, -math.MaxFloat32}[k%5] + float32(rng.NormFloat64())*float32(k/5))
		case *array.Decimal128Builder:
			p := b.Type().(*arrow.Decimal128Type).Precision
			switch {
			case p <= 18:
				bound := int64(math.Pow10(int(p)))
				b.Append(decimal128.FromI64([]int64{bound - 1, -bound + 1, 0, -1}[k%4] + rng.Int64N(3) - 1 + int64(k/4)*rng.Int64N(bound/2)))
			default: // up to 38 digits: |hi| below 10^38 / 2^64
				b.Append(decimal128.New(rng.Int64N(10_000_000_000_000_000)-5_000_000_000_000_000, rng.Uint64()))
			}
		case *array.Float64Builder:
			b.Append([]float64{math.NaN(), math.Copysign(0, -1), 0, math.MaxFloat64, -math.Inf(1)}[k%5] + rng.NormFloat64()*float64(k/5))
		}
	}
	return b.NewArray()
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestGroupsOf: the device's first rows become groups numbered by their first rows, NULLs in
// none; a first row that is not its own first row, or comes after its row, is refused.
func TestGroupsOf(t *testing.T) {
	for _, tc := range []struct {
		first       []int32
		ids, firsts []int32
		bad         bool
	}{
		{first: nil, ids: []int32{}},
		{first: []int32{-1, -1}, ids: []int32{-1, -1}},
		{first: []int32{0, 1, 0, -1, 1, 5}, ids: []int32{0, 1, 0, -1, 1, 2}, firsts: []int32{0, 1, 5}},
		{first: []int32{0, 2, 2}, bad: true}, // row 1's first row after it
		{first: []int32{-1, 0}, bad: true},   // row 0 is NULL, not a first row
		{first: []int32{1, 1, 0}, bad: true}, // row 0's first row after it
		{first: []int32{0, 0, 1}, bad: true}, // row 1 is not its own first row
	} {
		ids, firsts, err := groupsOf(tc.first, len(tc.first))
		if tc.bad {
			if err == nil {
				t.Errorf("%v: no error", tc.first)
			}
			continue
		}
		if err != nil || !slices.Equal(ids, tc.ids) || !slices.Equal(firsts, tc.firsts) {
			t.Errorf("%v: ids %v, firsts %v, %v; want %v, %v", tc.first, ids, firsts, err, tc.ids, tc.firsts)
		}
	}
}

// TestPinnedChunks: the ChunkPool of pinned memory carves each slab into chunks of
// pqfile.ChunkBytes that do not overlap (every byte of a chunk written by one owner at a time,
// under the race detector, from several goroutines), hands chunks given back out again before
// it takes another slab, and takes a slab per 16 chunks in use (and one more per goroutine that
// found none free at the same time).
func TestPinnedChunks(t *testing.T) {
	var mu sync.Mutex
	slabs := 0
	c := &pinnedChunks{alloc: func(size int) []byte {
		mu.Lock()
		defer mu.Unlock()
		slabs++
		return make([]byte, size)
	}}
	const workers, held = 8, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for round := range 50 {
				var mine [][]byte
				for range held {
					b := c.Get()
					if len(b) != 0 || cap(b) != pqfile.ChunkBytes {
						t.Errorf("a chunk of length %d and capacity %d", len(b), cap(b))
						return
					}
					b = b[:cap(b)]
					for i := range b {
						b[i] = byte(w + round)
					}
					mine = append(mine, b)
				}
				for _, b := range mine {
					for i := range b {
						if b[i] != byte(w+round) {
							t.Errorf("worker %d: byte %d of its chunk overwritten", w, i)
							return
						}
					}
					c.Put(b[:len(b)%3])
				}
			}
		})
	}
	wg.Wait()
	// Lanes that find no chunk free at once each take a slab (outside the lock).
	if most := (workers*held+15)/16 + workers; slabs > most {
		t.Errorf("%d slabs for at most %d chunks in use at once", slabs, workers*held)
	}
	if got := len(c.free); got != slabs*16 {
		t.Errorf("%d chunks free of %d carved", got, slabs*16)
	}
}
