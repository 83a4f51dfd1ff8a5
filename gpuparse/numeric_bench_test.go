package gpuparse

import (
	"context"
	"encoding/binary"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgparquet/pgparquet/internal/copytest"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// ratioValue is the text of (g%1000)/7.0 as PostgreSQL prints it, truncated
// rather than rounded: 20 fraction digits below 1, 16 from 1 on.
func ratioValue(g int) string {
	num := int64(g % 1000)
	dscale := 16
	if num < 7 {
		dscale = 20
	}
	q := new(big.Int).Quo(new(big.Int).Mul(big.NewInt(num), pow10big(dscale)), big.NewInt(7))
	s := q.String()
	for len(s) <= dscale {
		s = "0" + s
	}
	return s[:len(s)-dscale] + "." + s[len(s)-dscale:]
}

// numericTextChunk is rows tuples of one unconstrained numeric column shaped
// like the benchmark's ratio column: (g%1000)/7.0, 1 in 7 NULL, and 1 in 50
// one of a few unusual values (specials, negative, zero, large or small
// weight).
func numericTextChunk(rows int) ([]pgarrow.Column, *pgcopy.Chunk) {
	cols := []pgarrow.Column{pgarrow.PlanColumn("ratio", pgtype.NumericOID, -1, "numeric")}
	odd := [][]byte{
		copytest.Numeric("NaN"), copytest.Numeric("Infinity"), copytest.Numeric("-Infinity"),
		copytest.Numeric("-12.3456789012345678"), copytest.Numeric("0"), copytest.Numeric("0.00000000000000000000"),
		copytest.Numeric("123456789012345678901234567890.0123456789"), copytest.Numeric("0.000000000000000012345"),
		copytest.Numeric("-0.5"), copytest.Numeric("100000000"),
	}
	rng := rand.New(rand.NewPCG(9, 10))
	tuples := make([][]byte, rows)
	for g := range tuples {
		var f []byte
		switch {
		case g%7 == 3:
		case rng.IntN(50) == 0:
			f = odd[rng.IntN(len(odd))]
		default:
			f = copytest.Numeric(ratioValue(g))
		}
		tuples[g] = copytest.Tuple(f)
	}
	data, starts := copytest.RowStarts(tuples...)
	return cols, &pgcopy.Chunk{Data: data, RowStarts: starts, Source: "bench"}
}

// BenchmarkNumericText decodes 100k rows of an unconstrained numeric column
// into its text form.
func BenchmarkNumericText(b *testing.B) {
	cols, c := numericTextChunk(100000)
	dec := NewCPUDecoder(cols, memory.NewGoAllocator())
	ctx := context.Background()
	b.SetBytes(int64(len(c.Data)))
	b.ReportAllocs()
	for b.Loop() {
		rec, err := dec.Decode(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		rec.Release()
	}
	b.ReportMetric(float64(len(c.RowStarts))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkPutNumericText converts the non-NULL values of a 4096-row chunk
// (small enough to stay in cache) to text one after another, with the
// reference conversion (check the digits, then append) and with the second
// pass's putNumericText.
func BenchmarkPutNumericText(b *testing.B) {
	cols, c := numericTextChunk(4096)
	type value struct{ start, end int }
	var vals []value
	total := 0
	for _, st := range c.RowStarts {
		start := int(st) + fieldCountLen + fieldLenLen
		if l := int(int32(binary.BigEndian.Uint32(c.Data[start-fieldLenLen:]))); l >= 0 {
			vals = append(vals, value{start, start + l})
			h, _, _ := parseNumericHeader(c.Data[start : start+l])
			total += refNumericTextLen(h, c.Data[start+numericHeaderLen:start+l])
		}
	}
	out := make([]byte, total)
	b.Run("ref", func(b *testing.B) {
		for b.Loop() {
			pos := 0
			for _, v := range vals {
				body := c.Data[v.start:v.end]
				h, _, _ := parseNumericHeader(body)
				digits := body[numericHeaderLen:]
				if refCheckDigits(digits) >= 0 {
					b.Fatal("bad digit")
				}
				n := refNumericTextLen(h, digits)
				pos += len(refAppendNumericText(out[pos:pos:pos+n], h, digits))
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(vals)), "ns/value")
	})
	b.Run("new", func(b *testing.B) {
		d := NewCPUDecoder(cols, nil)
		s := &colState{colPlan: d.plans[0], dataB: out}
		for b.Loop() {
			s.dpos = 0
			for row, v := range vals {
				if e := d.putNumericText(c, s, 0, row, v.start, c.Data[v.start:v.end]); e != nil {
					b.Fatal(e)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(vals)), "ns/value")
	})
}

// BenchmarkAppendNumericText converts one typical ratio value to text, with
// the reference conversion and with appendNumericText.
func BenchmarkAppendNumericText(b *testing.B) {
	body := copytest.Numeric(ratioValue(100))
	h, _, _ := parseNumericHeader(body)
	digits := body[numericHeaderLen:]
	buf := make([]byte, 0, 64)
	b.Run("ref", func(b *testing.B) {
		for b.Loop() {
			buf = refAppendNumericText(buf[:0], h, digits)
		}
	})
	b.Run("new", func(b *testing.B) {
		for b.Loop() {
			buf = appendNumericText(buf[:0], h, digits)
		}
	})
}
