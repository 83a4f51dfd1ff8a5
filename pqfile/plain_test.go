package pqfile

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// plainTestTypes are the types PlainPages takes: those plainRun copies and those (int16,
// decimal) it leaves to the loop over single values.
var plainTestTypes = []arrow.DataType{
	arrow.PrimitiveTypes.Int16, arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int64,
	arrow.PrimitiveTypes.Float32, arrow.PrimitiveTypes.Float64, arrow.FixedWidthTypes.Date32,
	arrow.FixedWidthTypes.Time64us, arrow.FixedWidthTypes.Timestamp_us, &arrow.Decimal128Type{Precision: 12, Scale: 2},
}

// randomPlainArray is n values of t, NULL with probability nullRate, drawn so that extremes,
// repeats, NaN payloads, both zeros and both infinities occur.
func randomPlainArray(rng *rand.Rand, t arrow.DataType, n int, nullRate float64) arrow.Array {
	b := array.NewBuilder(memory.DefaultAllocator, t)
	defer b.Release()
	i64 := func() int64 {
		switch rng.IntN(6) {
		case 0:
			return math.MinInt64
		case 1:
			return math.MaxInt64
		case 2:
			return int64(rng.IntN(7))
		}
		return int64(rng.Uint64())
	}
	f64 := func() float64 {
		switch rng.IntN(10) {
		case 0:
			return math.Float64frombits(0x7ff8000000000000 | rng.Uint64N(1<<51)) // NaN payloads
		case 1:
			return math.Copysign(0, -1)
		case 2:
			return 0
		case 3:
			return math.Inf(1 - 2*rng.IntN(2))
		}
		return rng.NormFloat64() * 1e6
	}
	for range n {
		if rng.Float64() < nullRate {
			b.AppendNull()
			continue
		}
		switch b := b.(type) {
		case *array.Int16Builder:
			b.Append(int16(i64()))
		case *array.Int32Builder:
			b.Append(int32(i64()))
		case *array.Int64Builder:
			b.Append(i64())
		case *array.Float32Builder:
			f := f64()
			if math.IsNaN(f) && rng.IntN(2) == 0 {
				b.Append(math.Float32frombits(0x7fc00000 | uint32(rng.Uint64N(1<<22))))
				continue
			}
			b.Append(float32(f))
		case *array.Float64Builder:
			b.Append(f64())
		case *array.Date32Builder:
			b.Append(arrow.Date32(int32(i64())))
		case *array.Time64Builder:
			b.Append(arrow.Time64(rng.Int64N(86400e6)))
		case *array.TimestampBuilder:
			b.Append(arrow.Timestamp(i64()))
		case *array.Decimal128Builder:
			b.Append(decimal128.FromI64(rng.Int64N(1e11) - 5e10))
		}
	}
	return b.NewArray()
}

// TestPlainRunsMatchValues: PlainPages and PlainFragment give the same pages, bytes and
// statistics whether runs of values without NULLs go through plainRun (copied, extremes in one
// pass) or through the loop over single values (the reference, plainRuns false), for every
// type, whole arrays and slices, with and without NULLs, pages of a few rows to all of them.
func TestPlainRunsMatchValues(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 19))
	t.Cleanup(func() { plainRuns = true })
	for _, typ := range plainTestTypes {
		for _, n := range []int{0, 1, 2, 7, 100, 5003} {
			for _, nullRate := range []float64{0, 0.001, 0.3} {
				whole := randomPlainArray(rng, typ, n, nullRate)
				arrays := []arrow.Array{whole}
				if n > 2 {
					off := rng.IntN(n / 2)
					arrays = append(arrays, array.NewSlice(whole, int64(off), int64(off+rng.IntN(n-off))))
				}
				for _, a := range arrays {
					for _, pageRows := range []int{1, 3, 64, 1 << 20} {
						for _, nullable := range []bool{false, true} {
							if !nullable && a.NullN() > 0 {
								continue
							}
							got, gotStats, err := run(true, func() ([]RawPage, any, error) {
								p, s, err := PlainPages(a, nullable, pageRows)
								return p, s, err
							})
							want, wantStats, wantErr := run(false, func() ([]RawPage, any, error) {
								p, s, err := PlainPages(a, nullable, pageRows)
								return p, s, err
							})
							if (err != nil) != (wantErr != nil) || !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotStats, wantStats) {
								t.Fatalf("%s, %d rows (offset %d), NULL rate %v, pages of %d, nullable %v: PlainPages differs from the reference (errors %v, %v)",
									typ, a.Len(), a.Data().Offset(), nullRate, pageRows, nullable, err, wantErr)
							}
						}
					}
					gotFrag, gotStats, err := runFragment(true, a)
					wantFrag, wantStats, wantErr := runFragment(false, a)
					if (err != nil) != (wantErr != nil) || string(gotFrag) != string(wantFrag) || !reflect.DeepEqual(gotStats, wantStats) {
						t.Fatalf("%s, %d rows (offset %d), NULL rate %v: PlainFragment differs from the reference (errors %v, %v)",
							typ, a.Len(), a.Data().Offset(), nullRate, err, wantErr)
					}
					if a != whole {
						a.Release()
					}
				}
				whole.Release()
			}
		}
	}
}

// run calls f with plainRuns set to runs.
func run(runs bool, f func() ([]RawPage, any, error)) ([]RawPage, any, error) {
	plainRuns = runs
	defer func() { plainRuns = true }()
	return f()
}

// runFragment is PlainFragment(a) with plainRuns set to runs.
func runFragment(runs bool, a arrow.Array) ([]byte, any, error) {
	plainRuns = runs
	defer func() { plainRuns = true }()
	values, stats, err := PlainFragment(a)
	return values, stats, err
}

// BenchmarkPlainFragment: PlainFragment of lineorder-like batches without NULLs (int32 and
// int64 keys, dates, timestamps, float64), through plainRun and through the loop over single
// values; bytes are the batches' values.
func BenchmarkPlainFragment(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	var cols []arrow.Array
	var bytes int64
	for _, typ := range []arrow.DataType{arrow.PrimitiveTypes.Int32, arrow.PrimitiveTypes.Int64,
		arrow.FixedWidthTypes.Date32, arrow.FixedWidthTypes.Timestamp_us, arrow.PrimitiveTypes.Float64} {
		a := randomPlainArray(rng, typ, benchBatchRows, 0)
		defer a.Release()
		cols = append(cols, a)
		bytes += int64(PlainWidth(typ) * benchBatchRows)
	}
	for _, runs := range []bool{true, false} {
		name := map[bool]string{true: "runs", false: "values"}[runs]
		b.Run(name, func(b *testing.B) {
			plainRuns = runs
			defer func() { plainRuns = true }()
			b.SetBytes(bytes)
			for b.Loop() {
				for _, a := range cols {
					if _, _, err := PlainFragment(a); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
