package device

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/compress"

	"github.com/pgparquet/pgparquet/pqfile"
)

// TestPageEncoderCPU: without a GPU, PageEncoder is the CPU twin: pqfile.PlainPages's pages,
// compressed with the codec, and its chunk statistics; and statMerge, which merges the GPU's
// page statistics into the chunk's, gives exactly PlainPages's chunk statistics.
func TestPageEncoderCPU(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	enc, err := Start(ModeOff, "", nil).PageEncoder(compress.Codecs.Snappy)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	for _, n := range []int{0, 1, 9, 1000, 30000} {
		cols, nullable := randomBatch(rng, n)
		for _, pageRows := range []int{1, 7, 4096, 1 << 17} {
			if n/pageRows > 2000 {
				continue
			}
			got, err := enc.Encode(cols, nullable, pageRows)
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range cols {
				raw, stats, err := pqfile.PlainPages(a, nullable[i], pageRows)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got[i].Stats, stats) {
					t.Fatalf("%s, %d rows: chunk statistics %+v, want %+v", a.DataType(), n, got[i].Stats, stats)
				}
				if err := sameEncoded(got[i], pqfile.Encoded{Stats: stats, Pages: enc.cpu.Compress([][]pqfile.RawPage{raw})[0]}, compress.Codecs.Snappy); err != nil {
					t.Fatalf("%s, %d rows: %v", a.DataType(), n, err)
				}
				var m statMerge
				c, err := encColOf(a, nullable[i], pageRows)
				if err != nil {
					t.Fatal(err)
				}
				m.init(c)
				for _, p := range raw {
					m.add(p.Stats)
				}
				if !reflect.DeepEqual(m.st, stats) {
					t.Fatalf("%s, %d rows, pages of %d: merged page statistics %+v, want %+v", a.DataType(), n, pageRows, m.st, stats)
				}
			}
		}
		for _, a := range cols {
			a.Release()
		}
	}
	if g, c := enc.Counts(); g != 0 || c == 0 {
		t.Fatalf("%d column batches on the GPU, %d on the CPU", g, c)
	}
}

// sameEncoded compares column chunk parts: statistics and page headers equal, page bytes
// equal (uncompressed) or equal once decompressed.
func sameEncoded(g, c pqfile.Encoded, codec compress.Compression) error {
	if !reflect.DeepEqual(g.Stats, c.Stats) {
		return fmt.Errorf("chunk statistics %+v, the CPU twin's %+v", g.Stats, c.Stats)
	}
	if len(g.Pages) != len(c.Pages) {
		return fmt.Errorf("%d pages, the CPU twin %d", len(g.Pages), len(c.Pages))
	}
	cod, err := compress.GetCodec(codec)
	if err != nil {
		return err
	}
	for p := range g.Pages {
		gp, cp := g.Pages[p], c.Pages[p]
		if gp.UncompressedSize != cp.UncompressedSize || gp.NumValues != cp.NumValues || gp.Encoding != cp.Encoding || !reflect.DeepEqual(gp.Stats, cp.Stats) {
			return fmt.Errorf("page %d: %d bytes, %d values, %v, %+v; the CPU twin %d, %d, %v, %+v", p, gp.UncompressedSize, gp.NumValues, gp.Encoding, gp.Stats,
				cp.UncompressedSize, cp.NumValues, cp.Encoding, cp.Stats)
		}
		gd, cd := gp.Data, cp.Data
		if codec != compress.Codecs.Uncompressed {
			gd = cod.Decode(make([]byte, gp.UncompressedSize), gp.Data)
			cd = cod.Decode(make([]byte, cp.UncompressedSize), cp.Data)
		}
		if !bytes.Equal(gd, cd) {
			return fmt.Errorf("page %d differs at byte %d", p, firstDiff(gd, cd))
		}
	}
	return nil
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
