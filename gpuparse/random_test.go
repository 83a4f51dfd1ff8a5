package gpuparse

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// gpuTestColumns has every kind the GPU decodes, plus kinds it leaves to the CPU.
func gpuTestColumns() []pgarrow.Column {
	return []pgarrow.Column{
		pgarrow.PlanColumn("id", pgtype.Int8OID, -1, "bigint"),
		pgarrow.PlanColumn("b", pgtype.BoolOID, -1, "boolean"),
		pgarrow.PlanColumn("i2", pgtype.Int2OID, -1, "smallint"),
		pgarrow.PlanColumn("i4", pgtype.Int4OID, -1, "integer"),
		pgarrow.PlanColumn("f4", pgtype.Float4OID, -1, "real"),
		pgarrow.PlanColumn("f8", pgtype.Float8OID, -1, "double precision"),
		pgarrow.PlanColumn("t", pgtype.TextOID, -1, "text"),
		pgarrow.PlanColumn("by", pgtype.ByteaOID, -1, "bytea"),
		pgarrow.PlanColumn("u", pgtype.UUIDOID, -1, "uuid"),
		pgarrow.PlanColumn("j", pgtype.JSONOID, -1, "json"),
		pgarrow.PlanColumn("jb", pgtype.JSONBOID, -1, "jsonb"),
		pgarrow.PlanColumn("d", pgtype.DateOID, -1, "date"),
		pgarrow.PlanColumn("ts", pgtype.TimestampOID, -1, "timestamp without time zone"),
		pgarrow.PlanColumn("tz", pgtype.TimestamptzOID, -1, "timestamp with time zone"),
		numCol("n12", 12, 2),
		numCol("n38", 38, 10),
		numCol("n50", 50, 5), // decimal256: CPU
		pgarrow.PlanColumn("nfree", pgtype.NumericOID, -1, "numeric"), // numeric text: CPU
		pgarrow.PlanColumn("allnull", pgtype.Int4OID, -1, "integer"),
		// Tree kinds: CPU, from the field positions the GPU found.
		pgarrow.PlanType("a2", &pgarrow.TypeDesc{OID: 1007, Class: pgarrow.ClassArray, Dims: 2, Elem: &pgarrow.TypeDesc{OID: pgtype.Int4OID, Typmod: -1, SendOID: pgtype.Int4OID}}, "integer[]", pgarrow.PlanOptions{}),
		pgarrow.PlanColumn("iv", pgtype.IntervalOID, -1, "interval"),
		pgarrow.PlanType("e", &pgarrow.TypeDesc{OID: 99998, Class: pgarrow.ClassEnum}, "mood", pgarrow.PlanOptions{}),
	}
}

// randomChunk encodes rows random tuples for gpuTestColumns: NULLs at random rates (one
// column always NULL), empty and long strings, special floats, infinities, numerics of many
// shapes. Every value is valid for the columns, so both decoders must succeed.
func randomChunk(rng *rand.Rand, rows int) *pgcopy.Chunk {
	nullRate := rng.Float64() * 0.5
	null := func() bool { return rng.Float64() < nullRate }
	str := func() string {
		switch rng.IntN(10) {
		case 0:
			return ""
		case 1:
			return strings.Repeat("long é 😀 ", 1000+rng.IntN(10000))
		default:
			return fmt.Sprintf("s%d\t%x", rng.Int64(), rng.Uint64())
		}
	}
	f64 := []uint64{math.Float64bits(math.NaN()), 0x7ff0000000000001, math.Float64bits(math.Inf(1)), math.Float64bits(math.Inf(-1)), 1 << 63, 1}
	numeric := func(intDigits, scale int) string {
		var b strings.Builder
		if rng.IntN(2) == 0 {
			b.WriteByte('-')
		}
		n := rng.IntN(intDigits + 1)
		b.WriteByte(byte('1' + rng.IntN(9)))
		for range max(n-1, 0) {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
		if scale > 0 {
			b.WriteByte('.')
			for range rng.IntN(scale + 1) {
				b.WriteByte(byte('0' + rng.IntN(10)))
			}
		}
		s := strings.TrimSuffix(b.String(), ".")
		return s
	}
	var tuples [][]byte
	for i := range rows {
		f := make([][]byte, 0, 22)
		f = append(f, wI64(int64(i)))
		add := func(v []byte) {
			if null() {
				v = nil
			}
			f = append(f, v)
		}
		add(wBool(rng.IntN(2) == 0))
		add(wI16(int16(rng.Uint32())))
		add(wI32(int32(rng.Uint32())))
		add(wF32bits(rng.Uint32()))
		if rng.IntN(4) == 0 {
			add(wF64bits(f64[rng.IntN(len(f64))]))
		} else {
			add(wF64bits(rng.Uint64()))
		}
		add(wText(str()))
		add([]byte(str()))
		u := make([]byte, 16)
		for k := range u {
			u[k] = byte(rng.Uint32())
		}
		add(u)
		add(wText(`{"k": "` + str() + `"}`))
		add(wJSONB(`{"k": ` + fmt.Sprint(rng.Int64()) + `}`))
		switch rng.IntN(20) {
		case 0:
			add(wI32(math.MaxInt32))
		case 1:
			add(wI32(math.MinInt32))
		default:
			add(wI32(int32(rng.IntN(2000000) - 1000000)))
		}
		for range 2 {
			switch rng.IntN(20) {
			case 0:
				add(wI64(math.MaxInt64))
			case 1:
				add(wI64(math.MinInt64))
			default:
				add(wI64(rng.Int64N(1<<60) - 1<<59))
			}
		}
		add(wNumeric(numeric(10, 2)))
		add(wNumeric(numeric(28, 10)))
		add(wNumeric(numeric(45, 5)))
		switch rng.IntN(10) {
		case 0:
			add(wNumeric("NaN"))
		case 1:
			add(wNumeric("-Infinity"))
		default:
			add(wNumeric(numeric(30, 20)))
		}
		f = append(f, nil)
		if rng.IntN(3) == 0 {
			add(wArray(pgtype.Int4OID, nil, nil))
		} else {
			add(wArray(pgtype.Int4OID, []int32{2, 2}, []int32{1, 1}, wI32(rng.Int32()), nil, wI32(-1), wI32(int32(i))))
		}
		add(wInterval(rng.Int64(), rng.Int32(), rng.Int32()))
		add(wText([]string{"sad", "ok", "happy", ""}[rng.IntN(4)]))
		tuples = append(tuples, tuple(f...))
	}
	data, starts := rowStarts(tuples...)
	return &pgcopy.Chunk{Data: data, RowStarts: starts, Source: "random", StreamOffset: 19}
}

// sameArrays compares two arrays bit for bit: type, length, null count, and every buffer's
// bytes over the length the array uses.
func sameArrays(a, b arrow.Array) error {
	if !arrow.TypeEqual(a.DataType(), b.DataType()) || a.Len() != b.Len() || a.NullN() != b.NullN() {
		return fmt.Errorf("type/len/nulls: %s %d %d vs %s %d %d", a.DataType(), a.Len(), a.NullN(), b.DataType(), b.Len(), b.NullN())
	}
	// array.Equal says NaN != NaN: floats are compared by their bits below.
	if a.DataType().ID() != arrow.FLOAT32 && a.DataType().ID() != arrow.FLOAT64 && !array.Equal(a, b) {
		return fmt.Errorf("values differ")
	}
	ab, bb := a.Data().Buffers(), b.Data().Buffers()
	if len(ab) != len(bb) {
		return fmt.Errorf("%d buffers vs %d", len(ab), len(bb))
	}
	for i := range ab {
		x, y := bufBytes(ab[i]), bufBytes(bb[i])
		if i == 0 { // validity: only the bits of rows count
			n := (a.Len() + 7) / 8
			x, y = x[:min(n, len(x))], y[:min(n, len(y))]
		}
		if !bytes.Equal(x, y) {
			return fmt.Errorf("buffer %d differs (%d vs %d bytes)", i, len(x), len(y))
		}
	}
	return nil
}

func bufBytes(b *memory.Buffer) []byte {
	if b == nil {
		return nil
	}
	return b.Bytes()
}
