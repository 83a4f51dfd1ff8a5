package device

import (
	"bytes"
	"encoding/binary"
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

// Copies of gpuparse's test encoders and random data (test files cannot be imported).

// tuple encodes one tuple; a nil field is NULL.
func tuple(fields ...[]byte) []byte {
	return appendFields(binary.BigEndian.AppendUint16(nil, uint16(len(fields))), fields...)
}

// rowStarts returns the tuple start offsets of concatenated tuples.
func rowStarts(tuples ...[]byte) (data []byte, starts []uint32) {
	for _, t := range tuples {
		starts = append(starts, uint32(len(data)))
		data = append(data, t...)
	}
	return data, starts
}

func wBool(v bool) []byte {
	if v {
		return []byte{1}
	}
	return []byte{0}
}

func wI16(v int16) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }

func wI32(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

func wI64(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

func wF32bits(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func wF64bits(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func wText(s string) []byte { return append([]byte{}, s...) }

func wJSONB(s string) []byte { return append([]byte{1}, s...) }

// wNumericRaw encodes a numeric from its wire parts.
func wNumericRaw(ndigits, weight int16, sign uint16, dscale int16, digits ...uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(ndigits))
	b = binary.BigEndian.AppendUint16(b, uint16(weight))
	b = binary.BigEndian.AppendUint16(b, sign)
	b = binary.BigEndian.AppendUint16(b, uint16(dscale))
	for _, d := range digits {
		b = binary.BigEndian.AppendUint16(b, d)
	}
	return b
}

// wNumeric encodes a decimal literal ("-12.50", "NaN", "Infinity",
// "-Infinity") as numeric_send would: dscale is the number of fraction digits
// written, leading and trailing zero base-10000 digits are stripped, and zero
// has weight 0 and no digits.
func wNumeric(s string) []byte {
	switch s {
	case "NaN":
		return wNumericRaw(0, 0, numericNaN, 0)
	case "Infinity":
		return wNumericRaw(0, 0, numericPInf, 0)
	case "-Infinity":
		return wNumericRaw(0, 0, numericNInf, 0)
	}
	sign := uint16(numericPos)
	if strings.HasPrefix(s, "-") {
		sign, s = numericNeg, s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	dscale := len(frac)
	// Pad the integer part on the left and the fraction on the right to
	// whole base-10000 digits.
	for len(intPart)%4 != 0 {
		intPart = "0" + intPart
	}
	for len(frac)%4 != 0 {
		frac += "0"
	}
	all := intPart + frac
	weight := len(intPart)/4 - 1
	var digits []uint16
	for i := 0; i < len(all); i += 4 {
		var d uint16
		for _, ch := range all[i : i+4] {
			d = d*10 + uint16(ch-'0')
		}
		digits = append(digits, d)
	}
	for len(digits) > 0 && digits[0] == 0 {
		digits = digits[1:]
		weight--
	}
	for len(digits) > 0 && digits[len(digits)-1] == 0 {
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 {
		weight, sign = 0, numericPos
	}
	return wNumericRaw(int16(len(digits)), int16(weight), sign, int16(dscale), digits...)
}

// wArray encodes an array as array_send does: dims and lower bounds, then the elements (nil =
// NULL) in row-major order.
func wArray(elemOID uint32, dims, lbs []int32, elems ...[]byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(dims)))
	hasNull := uint32(0)
	for _, e := range elems {
		if e == nil {
			hasNull = 1
		}
	}
	b = binary.BigEndian.AppendUint32(b, hasNull)
	b = binary.BigEndian.AppendUint32(b, elemOID)
	for i := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(dims[i]))
		b = binary.BigEndian.AppendUint32(b, uint32(lbs[i]))
	}
	return appendFields(b, elems...)
}

// appendFields appends length-prefixed fields (a nil field is NULL), as tuples, arrays and
// composites all encode them.
func appendFields(b []byte, fields ...[]byte) []byte {
	for _, f := range fields {
		if f == nil {
			b = binary.BigEndian.AppendUint32(b, 0xffffffff)
			continue
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

func wInterval(us int64, days, months int32) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(us))
	b = binary.BigEndian.AppendUint32(b, uint32(days))
	return binary.BigEndian.AppendUint32(b, uint32(months))
}

// numTypmod is atttypmod of numeric(p,s).
func numTypmod(p, s int32) int32 { return (p<<16 | s&0x7ff) + 4 }

func numCol(name string, p, s int32) pgarrow.Column {
	return pgarrow.PlanColumn(name, pgtype.NumericOID, numTypmod(p, s), "numeric("+itoa(p)+","+itoa(s)+")")
}

func itoa(v int32) string {
	if v < 0 {
		return "-" + itoa(-v)
	}
	if v < 10 {
		return string(rune('0' + v))
	}
	return itoa(v/10) + string(rune('0'+v%10))
}

// lineorderChunk builds a chunk of n tuples shaped like the SSB lineorder
// table: int4 ×5, date, bpchar(15), bpchar(1), int4, int8 ×2, int4, int8,
// numeric(12,2), int4, timestamp, varchar(10). It is deterministic.
func lineorderChunk(n int) (cols []pgarrow.Column, data []byte, starts []uint32) {
	cols = lineorderColumns()
	rng := rand.New(rand.NewPCG(1, 2))
	priorities := []string{"1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"}
	modes := []string{"AIR", "MAIL", "RAIL", "SHIP", "TRUCK", "REG AIR", "FOB"}
	for i := range n {
		starts = append(starts, uint32(len(data)))
		prio := priorities[rng.IntN(len(priorities))]
		prio += strings.Repeat(" ", 15-len(prio))
		cost := fmt.Sprintf("%d.%02d", 1+rng.IntN(99999), rng.IntN(100))
		data = append(data, tuple(
			wI32(int32(i/4+1)), wI32(int32(i%7+1)), wI32(rng.Int32N(3000000)), wI32(rng.Int32N(1400000)), wI32(rng.Int32N(200000)),
			wI32(int32(-2922+rng.IntN(2557))),
			wText(prio), wText("0"),
			wI32(int32(1+rng.IntN(50))),
			wI64(rng.Int64N(10000000)), wI64(rng.Int64N(50000000)),
			wI32(int32(rng.IntN(11))),
			wI64(rng.Int64N(10000000)),
			wNumeric(cost),
			wI32(int32(rng.IntN(9))),
			wI64((-2922+rng.Int64N(2557))*86400000000),
			wText(modes[rng.IntN(len(modes))]),
		)...)
	}
	return cols, data, starts
}

func lineorderColumns() []pgarrow.Column {
	int4 := func(name string) pgarrow.Column { return pgarrow.PlanColumn(name, pgtype.Int4OID, -1, "integer") }
	int8 := func(name string) pgarrow.Column { return pgarrow.PlanColumn(name, pgtype.Int8OID, -1, "bigint") }
	return []pgarrow.Column{
		int4("lo_orderkey"), int4("lo_linenumber"), int4("lo_custkey"), int4("lo_partkey"), int4("lo_suppkey"),
		pgarrow.PlanColumn("lo_orderdate", pgtype.DateOID, -1, "date"),
		pgarrow.PlanColumn("lo_orderpriority", pgtype.BPCharOID, 19, "character(15)"),
		pgarrow.PlanColumn("lo_shippriority", pgtype.BPCharOID, 5, "character(1)"),
		int4("lo_quantity"),
		int8("lo_extendedprice"), int8("lo_ordtotalprice"),
		int4("lo_discount"),
		int8("lo_revenue"),
		numCol("lo_supplycost", 12, 2),
		int4("lo_tax"),
		pgarrow.PlanColumn("lo_commitdate", pgtype.TimestampOID, -1, "timestamp without time zone"),
		pgarrow.PlanColumn("lo_shipmode", pgtype.VarcharOID, 14, "character varying(10)"),
	}
}

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

// Numeric wire signs.
const (
	numericPos  = 0x0000
	numericNeg  = 0x4000
	numericNaN  = 0xC000
	numericPInf = 0xD000
	numericNInf = 0xF000
)
