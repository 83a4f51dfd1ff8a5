package copytest

import (
	"bytes"
	"math/rand/v2"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// RandomNumeric encodes a random numeric that the CPU decoder accepts, of every shape the wire
// format allows, not only those numeric_send writes: NaN and ±Infinity (now and then with
// digits, a weight and a dscale, which numeric_out ignores), zero and negative zero with a
// dscale, one to 300 base-10000 digits (leading digits of 1 to 4 decimal digits, now and then a
// leading zero digit, trailing zero digits), weights from -32768 to 32767 (the extremes
// rarely: their text is up to 150 KB), dscale from 0 to 1000 (now and then 16383), shorter or
// longer than the digits.
func RandomNumeric(rng *rand.Rand) []byte {
	dscale := func() int16 {
		switch rng.IntN(8) {
		case 0:
			return 0
		case 1:
			return int16(rng.IntN(1001))
		case 2:
			if rng.IntN(100) == 0 {
				return 16383
			}
			return int16(rng.IntN(40))
		default:
			return int16(rng.IntN(21))
		}
	}
	digits := func(n int) []uint16 {
		d := make([]uint16, n)
		for i := range d {
			switch rng.IntN(6) {
			case 0:
				d[i] = 0
			case 1:
				d[i] = uint16(rng.IntN(10))
			case 2:
				d[i] = 9999
			default:
				d[i] = uint16(rng.IntN(10000))
			}
		}
		if n > 0 {
			// The leading digit decides how many decimal digits the integer part starts with.
			d[0] = uint16([]int{1 + rng.IntN(9), 10 + rng.IntN(90), 100 + rng.IntN(900), 1000 + rng.IntN(9000)}[rng.IntN(4)])
			if rng.IntN(20) == 0 {
				d[0] = 0
			}
		}
		if n > 1 && rng.IntN(4) == 0 { // trailing zero digits
			for i := n - 1 - rng.IntN(n-1); i < n; i++ {
				d[i] = 0
			}
		}
		return d
	}
	sign := []uint16{numericPos, numericNeg}[rng.IntN(2)]
	raw := func(weight int, sign uint16, dscale int16, d []uint16) []byte {
		return NumericRaw(int16(len(d)), int16(weight), sign, dscale, d...)
	}
	switch rng.IntN(20) {
	case 0: // NaN, Infinity, -Infinity
		s := []uint16{numericNaN, numericPInf, numericNInf}[rng.IntN(3)]
		if rng.IntN(4) == 0 {
			return raw(rng.IntN(20)-10, s, dscale(), digits(rng.IntN(4)))
		}
		return raw(0, s, 0, nil)
	case 1: // zero, negative zero, with or without digits that are all zero
		return raw(rng.IntN(7)-3, sign, dscale(), make([]uint16, rng.IntN(3)))
	case 2: // extreme weights
		w := []int{32767, -32768, 32766, -32767, 2000 + rng.IntN(3000), -2000 - rng.IntN(3000)}[rng.IntN(6)]
		if w > 0 && rng.IntN(10) != 0 {
			w = 100 + rng.IntN(400) // keep most texts short
		}
		return raw(w, sign, dscale(), digits(1+rng.IntN(5)))
	case 3: // many digits
		n := 20 + rng.IntN(281)
		return raw(rng.IntN(2*n)-n, sign, dscale(), digits(n))
	default: // everyday values: a few digits around the point
		n := 1 + rng.IntN(8)
		return raw(rng.IntN(n+12)-n-6, sign, dscale(), digits(n))
	}
}

// BadNumerics are numeric fields the CPU decoder rejects (numeric_recv would too), by name:
// wrong lengths, signs and dscales, and digits outside 0..9999 wherever they are, printed or not.
func BadNumerics() map[string][]byte {
	return map[string][]byte{
		"empty":                      {},
		"7 bytes":                    Numeric("1")[:7],
		"header without its digit":   NumericRaw(1, 0, numericPos, 0),
		"one byte too many":          append(Numeric("1.5"), 0),
		"one digit too few":          Numeric("12345.5")[:12],
		"ndigits 65535":              NumericRaw(-1, 0, numericPos, 0, 1, 2),
		"sign 0x8000":                NumericRaw(1, 0, 0x8000, 0, 1),
		"sign 0x4001":                NumericRaw(1, 0, 0x4001, 0, 1),
		"sign 0xC001":                NumericRaw(0, 0, 0xC001, 0),
		"dscale 16384":               NumericRaw(1, 0, numericPos, 16384, 1),
		"dscale -1":                  NumericRaw(1, 0, numericPos, -1, 1),
		"lead digit 10000":           NumericRaw(1, 0, numericPos, 0, 10000),
		"digit 65535":                NumericRaw(2, 1, numericNeg, 0, 1, 65535),
		"bad digit past dscale":      NumericRaw(3, 0, numericPos, 2, 1, 2, 10000),
		"bad digit before the point": NumericRaw(2, -3, numericPos, 4, 12, 10000),
		"bad digit in NaN":           NumericRaw(1, 0, numericNaN, 0, 10000),
		"bad digit in -Infinity":     NumericRaw(2, 0, numericNInf, 0, 1, 20000),
	}
}

// NumericTextColumns are the columns of RandomNumericChunk: an int8 key, two numeric columns
// without a typmod (exported as text, pgarrow.KindNumericString), a text column and an int4[]
// column between them (numeric text shares the GPU's scan with strings and lists).
func NumericTextColumns() []pgarrow.Column {
	int4 := &pgarrow.TypeDesc{OID: pgtype.Int4OID, Typmod: -1, SendOID: pgtype.Int4OID}
	return []pgarrow.Column{
		pgarrow.PlanColumn("id", pgtype.Int8OID, -1, "bigint"),
		pgarrow.PlanColumn("n1", pgtype.NumericOID, -1, "numeric"),
		pgarrow.PlanColumn("t", pgtype.TextOID, -1, "text"),
		pgarrow.PlanType("ai4", &pgarrow.TypeDesc{OID: 1007, Class: pgarrow.ClassArray, Dims: 1, Elem: int4}, "integer[]", pgarrow.PlanOptions{}),
		pgarrow.PlanColumn("n2", pgtype.NumericOID, -1, "numeric"),
	}
}

// RandomNumericChunk encodes rows tuples for NumericTextColumns: numerics from RandomNumeric
// (n2: everyday ones from Numeric), NULL at rate nullRate, short strings and arrays.
func RandomNumericChunk(rng *rand.Rand, rows int, nullRate float64) *pgcopy.Chunk {
	tuples := make([][]byte, rows)
	null := func(v []byte) []byte {
		if rng.Float64() < nullRate {
			return nil
		}
		return v
	}
	for r := range tuples {
		var lit bytes.Buffer
		if rng.IntN(3) == 0 {
			lit.WriteByte('-')
		}
		lit.WriteString(Itoa(rng.Int32N(1000000)))
		if rng.IntN(2) == 0 {
			lit.WriteByte('.')
			lit.WriteString(Itoa(rng.Int32N(10)))
			for range rng.IntN(4) {
				lit.WriteByte('0')
			}
		}
		tuples[r] = Tuple(Int64(int64(r)), null(RandomNumeric(rng)), null(Text(Itoa(rng.Int32()))),
			null(Array(pgtype.Int4OID, []int32{2}, []int32{1}, Int32(rng.Int32()), nil)), null(Numeric(lit.String())))
	}
	data, starts := RowStarts(tuples...)
	return &pgcopy.Chunk{Data: data, RowStarts: starts, Source: "numeric", StreamOffset: 11}
}
