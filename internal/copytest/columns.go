package copytest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// NumTypmod is atttypmod of numeric(p,s).
func NumTypmod(p, s int32) int32 { return (p<<16 | s&0x7ff) + 4 }

// NumericColumn plans a numeric(p,s) column named name as a decimal where one holds it:
// decimal256 above 38 digits (pgarrow.PlanOptions.WideDecimal), which the default mapping
// exports as text.
func NumericColumn(name string, p, s int32) pgarrow.Column {
	typ := "numeric(" + Itoa(p) + "," + Itoa(s) + ")"
	return pgarrow.PlanType(name, &pgarrow.TypeDesc{OID: pgtype.NumericOID, Typmod: NumTypmod(p, s), PGType: typ}, typ, pgarrow.PlanOptions{WideDecimal: true})
}

// Itoa formats v in decimal, for column names and numeric literals.
func Itoa(v int32) string {
	if v < 0 {
		return "-" + Itoa(-v)
	}
	if v < 10 {
		return string(rune('0' + v))
	}
	return Itoa(v/10) + string(rune('0'+v%10))
}

// LineorderChunk builds a chunk of n tuples shaped like the SSB lineorder
// table: int4 ×5, date, bpchar(15), bpchar(1), int4, int8 ×2, int4, int8,
// numeric(12,2), int4, timestamp, varchar(10). It is deterministic.
func LineorderChunk(n int) (cols []pgarrow.Column, data []byte, starts []uint32) {
	cols = LineorderColumns()
	rng := rand.New(rand.NewPCG(1, 2))
	priorities := []string{"1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"}
	modes := []string{"AIR", "MAIL", "RAIL", "SHIP", "TRUCK", "REG AIR", "FOB"}
	for i := range n {
		starts = append(starts, uint32(len(data)))
		prio := priorities[rng.IntN(len(priorities))]
		prio += strings.Repeat(" ", 15-len(prio))
		cost := fmt.Sprintf("%d.%02d", 1+rng.IntN(99999), rng.IntN(100))
		data = append(data, Tuple(
			Int32(int32(i/4+1)), Int32(int32(i%7+1)), Int32(rng.Int32N(3000000)), Int32(rng.Int32N(1400000)), Int32(rng.Int32N(200000)),
			Int32(int32(-2922+rng.IntN(2557))),
			Text(prio), Text("0"),
			Int32(int32(1+rng.IntN(50))),
			Int64(rng.Int64N(10000000)), Int64(rng.Int64N(50000000)),
			Int32(int32(rng.IntN(11))),
			Int64(rng.Int64N(10000000)),
			Numeric(cost),
			Int32(int32(rng.IntN(9))),
			Int64((-2922+rng.Int64N(2557))*86400000000),
			Text(modes[rng.IntN(len(modes))]),
		)...)
	}
	return cols, data, starts
}

// LineorderColumns are the columns of the chunks LineorderChunk builds.
func LineorderColumns() []pgarrow.Column {
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
		NumericColumn("lo_supplycost", 12, 2),
		int4("lo_tax"),
		pgarrow.PlanColumn("lo_commitdate", pgtype.TimestampOID, -1, "timestamp without time zone"),
		pgarrow.PlanColumn("lo_shipmode", pgtype.VarcharOID, 14, "character varying(10)"),
	}
}

// RandomColumns has every kind the GPU decodes, plus kinds it leaves to the CPU, then
// one-dimensional arrays (RandomListColumns).
func RandomColumns() []pgarrow.Column {
	return append([]pgarrow.Column{
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
		NumericColumn("n12", 12, 2),
		NumericColumn("n38", 38, 10),
		NumericColumn("n50", 50, 5),                                   // decimal256: CPU
		pgarrow.PlanColumn("nfree", pgtype.NumericOID, -1, "numeric"), // numeric text
		pgarrow.PlanColumn("allnull", pgtype.Int4OID, -1, "integer"),
		// Tree kinds: CPU, from the field positions the GPU found.
		pgarrow.PlanType("a2", &pgarrow.TypeDesc{OID: 1007, Class: pgarrow.ClassArray, Dims: 2, Elem: &pgarrow.TypeDesc{OID: pgtype.Int4OID, Typmod: -1, SendOID: pgtype.Int4OID}}, "integer[]", pgarrow.PlanOptions{}),
		pgarrow.PlanColumn("iv", pgtype.IntervalOID, -1, "interval"),
		pgarrow.PlanType("e", &pgarrow.TypeDesc{OID: 99998, Class: pgarrow.ClassEnum}, "mood", pgarrow.PlanOptions{}),
	}, RandomListColumns()...)
}

// RandomListColumns are the one-dimensional array columns at the end of RandomColumns: int2[],
// int4[], float8[], date[], timestamptz[], bool[], text[], bytea[], money[], then an int4[]
// always NULL ("anull") and a text[] always NULL or empty ("aempty").
func RandomListColumns() []pgarrow.Column {
	list := func(name string, oid uint32, typ string) pgarrow.Column {
		elem := &pgarrow.TypeDesc{OID: oid, Typmod: -1, SendOID: oid}
		if oid == pgarrow.MoneyOID {
			elem.MoneyScale = 2
		}
		return pgarrow.PlanType(name, &pgarrow.TypeDesc{OID: 200000 + oid, Class: pgarrow.ClassArray, Dims: 1, Elem: elem}, typ, pgarrow.PlanOptions{})
	}
	return []pgarrow.Column{
		list("ai2", pgtype.Int2OID, "smallint[]"),
		list("ai4", pgtype.Int4OID, "integer[]"),
		list("af8", pgtype.Float8OID, "double precision[]"),
		list("adt", pgtype.DateOID, "date[]"),
		list("atz", pgtype.TimestamptzOID, "timestamp with time zone[]"),
		list("abool", pgtype.BoolOID, "boolean[]"),
		list("atxt", pgtype.TextOID, "text[]"),
		list("aby", pgtype.ByteaOID, "bytea[]"),
		list("amoney", pgarrow.MoneyOID, "money[]"),
		list("anull", pgtype.Int4OID, "integer[]"),
		list("aempty", pgtype.TextOID, "text[]"),
	}
}

// RandomChunk encodes rows random tuples for RandomColumns: NULLs at random rates (one
// column always NULL), empty and long strings, special floats, infinities, numerics of many
// shapes (RandomNumeric in the numeric text column); arrays NULL, empty (without dimension or
// of size 0) or of up to 99 elements, NULL at another random rate, one array column always
// NULL and one always NULL or empty. Every value is valid for the columns, so both decoders
// must succeed.
func RandomChunk(rng *rand.Rand, rows int) *pgcopy.Chunk {
	nullRate := rng.Float64() * 0.5
	elemNullRate := []float64{0, 0.1, 0.5, 1}[rng.IntN(4)]
	lists := RandomListColumns()
	i64 := func(rng *rand.Rand) []byte {
		if rng.IntN(4) == 0 {
			return Int64([]int64{math.MaxInt64, math.MinInt64, 0, -1}[rng.IntN(4)])
		}
		return Int64(rng.Int64N(1<<60) - 1<<59)
	}
	listGens := []func(*rand.Rand) []byte{
		func(rng *rand.Rand) []byte { return Int16(int16(rng.Uint32())) },
		func(rng *rand.Rand) []byte { return Int32(int32(rng.Uint32())) },
		func(rng *rand.Rand) []byte {
			if rng.IntN(4) == 0 {
				return Float64Bits([]uint64{math.Float64bits(math.NaN()), 0x7ff0000000000001, 1 << 63}[rng.IntN(3)])
			}
			return Float64Bits(rng.Uint64())
		},
		func(rng *rand.Rand) []byte {
			if rng.IntN(4) == 0 {
				return Int32([]int32{math.MaxInt32, math.MinInt32, math.MaxInt32 - pgEpochDays - 1}[rng.IntN(3)])
			}
			return Int32(int32(rng.IntN(2000000) - 1000000))
		},
		i64,
		func(rng *rand.Rand) []byte { return Bool(rng.IntN(2) == 0) },
		listString,
		listString,
		func(rng *rand.Rand) []byte { return Int64(rng.Int64()) },
	}
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
		f = append(f, Int64(int64(i)))
		add := func(v []byte) {
			if null() {
				v = nil
			}
			f = append(f, v)
		}
		add(Bool(rng.IntN(2) == 0))
		add(Int16(int16(rng.Uint32())))
		add(Int32(int32(rng.Uint32())))
		add(Float32Bits(rng.Uint32()))
		if rng.IntN(4) == 0 {
			add(Float64Bits(f64[rng.IntN(len(f64))]))
		} else {
			add(Float64Bits(rng.Uint64()))
		}
		add(Text(str()))
		add([]byte(str()))
		u := make([]byte, 16)
		for k := range u {
			u[k] = byte(rng.Uint32())
		}
		add(u)
		add(Text(`{"k": "` + str() + `"}`))
		add(JSONB(`{"k": ` + fmt.Sprint(rng.Int64()) + `}`))
		switch rng.IntN(20) {
		case 0:
			add(Int32(math.MaxInt32))
		case 1:
			add(Int32(math.MinInt32))
		default:
			add(Int32(int32(rng.IntN(2000000) - 1000000)))
		}
		for range 2 {
			switch rng.IntN(20) {
			case 0:
				add(Int64(math.MaxInt64))
			case 1:
				add(Int64(math.MinInt64))
			default:
				add(Int64(rng.Int64N(1<<60) - 1<<59))
			}
		}
		add(Numeric(numeric(10, 2)))
		add(Numeric(numeric(28, 10)))
		add(Numeric(numeric(45, 5)))
		switch rng.IntN(10) {
		case 0:
			add(Numeric("NaN"))
		case 1:
			add(Numeric("-Infinity"))
		case 2, 3:
			add(RandomNumeric(rng))
		default:
			add(Numeric(numeric(30, 20)))
		}
		f = append(f, nil)
		if rng.IntN(3) == 0 {
			add(Array(pgtype.Int4OID, nil, nil))
		} else {
			add(Array(pgtype.Int4OID, []int32{2, 2}, []int32{1, 1}, Int32(rng.Int32()), nil, Int32(-1), Int32(int32(i))))
		}
		add(Interval(rng.Int64(), rng.Int32(), rng.Int32()))
		add(Text([]string{"sad", "ok", "happy", ""}[rng.IntN(4)]))
		for k, gen := range listGens {
			add(RandomArray(rng, lists[k], gen, elemNullRate))
		}
		f = append(f, nil) // anull
		switch rng.IntN(3) {
		case 0:
			f = append(f, nil)
		case 1:
			f = append(f, Array(pgtype.TextOID, nil, nil))
		default:
			f = append(f, Array(pgtype.TextOID, []int32{0}, []int32{1}))
		}
		tuples = append(tuples, Tuple(f...))
	}
	data, starts := RowStarts(tuples...)
	return &pgcopy.Chunk{Data: data, RowStarts: starts, Source: "random", StreamOffset: 19}
}
