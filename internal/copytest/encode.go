package copytest

import (
	"encoding/binary"
	"strings"
)

// Tuple encodes one tuple; a nil field is NULL.
func Tuple(fields ...[]byte) []byte {
	return AppendFields(binary.BigEndian.AppendUint16(nil, uint16(len(fields))), fields...)
}

// RowStarts concatenates tuples and returns the data and the tuple start
// offsets.
func RowStarts(tuples ...[]byte) (data []byte, starts []uint32) {
	for _, t := range tuples {
		starts = append(starts, uint32(len(data)))
		data = append(data, t...)
	}
	return data, starts
}

// Bool encodes a boolean as boolsend does.
func Bool(v bool) []byte {
	if v {
		return []byte{1}
	}
	return []byte{0}
}

// Int16 encodes an int2 as int2send does.
func Int16(v int16) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }

// Int32 encodes an int4 (or a date, as days) as int4send does.
func Int32(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

// Int64 encodes an int8 (or a timestamp, as microseconds) as int8send does.
func Int64(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

// Float32Bits encodes a float4 from its IEEE 754 bits.
func Float32Bits(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// Float64Bits encodes a float8 from its IEEE 754 bits.
func Float64Bits(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// Text encodes a text, varchar, bpchar, json or enum value: its bytes.
func Text(s string) []byte { return append([]byte{}, s...) }

// JSONB encodes a jsonb value as jsonb_send does: version 1, then the text.
func JSONB(s string) []byte { return append([]byte{1}, s...) }

// NumericRaw encodes a numeric from its wire parts.
func NumericRaw(ndigits, weight int16, sign uint16, dscale int16, digits ...uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(ndigits))
	b = binary.BigEndian.AppendUint16(b, uint16(weight))
	b = binary.BigEndian.AppendUint16(b, sign)
	b = binary.BigEndian.AppendUint16(b, uint16(dscale))
	for _, d := range digits {
		b = binary.BigEndian.AppendUint16(b, d)
	}
	return b
}

// Numeric encodes a decimal literal ("-12.50", "NaN", "Infinity",
// "-Infinity") as numeric_send would: dscale is the number of fraction digits
// written, leading and trailing zero base-10000 digits are stripped, and zero
// has weight 0 and no digits.
func Numeric(s string) []byte {
	switch s {
	case "NaN":
		return NumericRaw(0, 0, numericNaN, 0)
	case "Infinity":
		return NumericRaw(0, 0, numericPInf, 0)
	case "-Infinity":
		return NumericRaw(0, 0, numericNInf, 0)
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
	return NumericRaw(int16(len(digits)), int16(weight), sign, int16(dscale), digits...)
}

// Array encodes an array as array_send does: dims and lower bounds, then the elements (nil =
// NULL) in row-major order.
func Array(elemOID uint32, dims, lbs []int32, elems ...[]byte) []byte {
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
	return AppendFields(b, elems...)
}

// AppendFields appends length-prefixed fields (a nil field is NULL), as tuples, arrays and
// composites all encode them.
func AppendFields(b []byte, fields ...[]byte) []byte {
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

// Interval encodes an interval as interval_send does: microseconds, days, months.
func Interval(us int64, days, months int32) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(us))
	b = binary.BigEndian.AppendUint32(b, uint32(days))
	return binary.BigEndian.AppendUint32(b, uint32(months))
}

// Numeric wire signs.
const (
	numericPos  = 0x0000
	numericNeg  = 0x4000
	numericNaN  = 0xC000
	numericPInf = 0xD000
	numericNInf = 0xF000
)
