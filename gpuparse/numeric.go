package gpuparse

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
)

// numeric wire format (numeric_send): uint16 ndigits, int16 weight, uint16
// sign, int16 dscale, then ndigits int16 base-10000 digits, most significant
// first. The value is sum(digit[i] * 10000^(weight-i)); dscale is the number
// of decimal digits numeric_out prints after the point.
const (
	numericHeaderLen  = 8
	numericPos        = 0x0000
	numericNeg        = 0x4000
	numericNaN        = 0xC000
	numericPInf       = 0xD000
	numericNInf       = 0xF000
	numericDscaleMask = 0x3FFF
	nbase             = 10000
)

// pow10u64 is a read-only table of 10^i for i in 0..19 (10^19 still fits in
// a uint64).
var pow10u64 = [20]uint64{
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
	10000000000, 100000000000, 1000000000000, 10000000000000, 100000000000000,
	1000000000000000, 10000000000000000, 100000000000000000, 1000000000000000000,
	10000000000000000000,
}

// numHeader is the fixed part of a numeric field.
type numHeader struct {
	ndigits int
	weight  int
	sign    uint16
	dscale  int
}

// parseNumericHeader reads and checks the fixed part of a numeric field body
// the way numeric_recv does (apart from the digits, which the caller checks
// while converting them). On error it returns the offset within body of the
// offending item and what was wrong.
func parseNumericHeader(body []byte) (h numHeader, badOff int, msg string) {
	if len(body) < numericHeaderLen {
		return h, -4, fmt.Sprintf("numeric field length %d, need at least %d", len(body), numericHeaderLen)
	}
	h = readNumericHeader(body)
	if want := numericHeaderLen + 2*h.ndigits; len(body) != want {
		return h, -4, fmt.Sprintf("numeric field length %d, expected 8 + 2*ndigits = %d", len(body), want)
	}
	switch h.sign {
	case numericPos, numericNeg, numericNaN, numericPInf, numericNInf:
	default:
		return h, 4, fmt.Sprintf("numeric sign 0x%04x, expected 0x0000, 0x4000, 0xC000, 0xD000 or 0xF000", h.sign)
	}
	if h.dscale&^numericDscaleMask != 0 {
		return h, 6, fmt.Sprintf("numeric dscale %d, expected 0..%d", h.dscale, numericDscaleMask)
	}
	return h, 0, ""
}

// readNumericHeader reads the fixed part of a numeric field body of at least
// numericHeaderLen bytes, unchecked (parseNumericHeader checks it).
func readNumericHeader(body []byte) numHeader {
	_ = body[numericHeaderLen-1]
	return numHeader{
		// numeric_send writes ndigits, an int, as 16 bits: a value of up to 131072 digits
		// before the point and 16383 after has more than 32767 base-10000 digits, which only
		// an unsigned read gets right.
		ndigits: int(binary.BigEndian.Uint16(body)),
		weight:  int(int16(binary.BigEndian.Uint16(body[2:]))),
		sign:    binary.BigEndian.Uint16(body[4:]),
		dscale:  int(int16(binary.BigEndian.Uint16(body[6:]))),
	}
}

// digitAt returns base-10000 digit i of the digits part of a numeric body.
func digitAt(digits []byte, i int) uint16 {
	return binary.BigEndian.Uint16(digits[2*i:])
}

// checkDigits returns the index of the first digit outside 0..9999, or -1.
func checkDigits(digits []byte) int {
	for i := 0; i+1 < len(digits); i += 2 {
		if binary.BigEndian.Uint16(digits[i:]) >= nbase {
			return i / 2
		}
	}
	return -1
}

// decResult says whether a numeric converted to a decimal.
type decResult uint8

const (
	decOK          decResult = iota
	decTooBig                // |value| * 10^scale >= 10^precision
	decBeyondScale           // a non-zero digit below 10^-scale
	decBadDigit              // a base-10000 digit outside 0..9999
)

// numericUnscaled converts the digits of a finite numeric to the magnitude of
// its unscaled integer at the given scale (value * 10^scale), as 4 64-bit
// words, least significant first. limit is 10^prec in the same form. On
// decBadDigit, bad is the index of the offending digit.
//
// It never rounds: a non-zero digit below the scale is decBeyondScale. Values
// below 10^18 after scaling (the common case) take a uint64 path; the rest
// are accumulated in 256 bits with overflow checks.
func numericUnscaled(digits []byte, weight, scale, prec int, limit *[4]uint64) (mag [4]uint64, res decResult, bad int) {
	n := len(digits) / 2
	i := 0
	for i < n && digitAt(digits, i) == 0 {
		i++
	}
	if i == n {
		return mag, decOK, 0
	}
	first := i
	// pe is the decimal exponent, in the scaled value, of the unit of digit i.
	pe := 4*(weight-i) + scale
	if pe <= 14 {
		// digit first is < 10^4, so the scaled value is < 10^(pe+4) <= 10^18.
		var acc uint64
		for ; i < n && pe >= 0; i, pe = i+1, pe-4 {
			d := digitAt(digits, i)
			if d >= nbase {
				return mag, decBadDigit, i
			}
			acc = acc*nbase + uint64(d)
		}
		if i > first {
			acc *= pow10u64[pe+4]
		}
		if i < n {
			d := digitAt(digits, i)
			if d >= nbase {
				return mag, decBadDigit, i
			}
			if r, ok := fracDigit(d, pe); ok {
				acc += r
			} else {
				return mag, decBeyondScale, i
			}
			if j, r := checkZeroTail(digits, i+1); r != decOK {
				return mag, r, j
			}
		}
		if prec <= 18 && acc >= pow10u64[prec] {
			return mag, decTooBig, 0
		}
		mag[0] = acc
		return mag, decOK, 0
	}
	if d := digitAt(digits, i); d >= nbase {
		return mag, decBadDigit, i
	}
	if pe >= prec {
		// The leading digit is non-zero, so the scaled value is >= 10^pe.
		return mag, decTooBig, 0
	}
	for ; i < n && pe >= 0; i, pe = i+1, pe-4 {
		d := digitAt(digits, i)
		if d >= nbase {
			return mag, decBadDigit, i
		}
		if !mulAdd(&mag, nbase, uint64(d)) {
			return mag, decTooBig, 0
		}
	}
	if !mulPow10(&mag, pe+4) {
		return mag, decTooBig, 0
	}
	if i < n {
		d := digitAt(digits, i)
		if d >= nbase {
			return mag, decBadDigit, i
		}
		r, ok := fracDigit(d, pe)
		if !ok {
			return mag, decBeyondScale, i
		}
		if !mulAdd(&mag, 1, r) {
			return mag, decTooBig, 0
		}
		if j, r := checkZeroTail(digits, i+1); r != decOK {
			return mag, r, j
		}
	}
	if !less256(&mag, limit) {
		return mag, decTooBig, 0
	}
	return mag, decOK, 0
}

// decimalFast converts a numeric field body (header checked by walk) to its
// unscaled int64 at the given scale in the common case: a finite value of at
// most 4 base-10000 digits whose scaled value is below 10^18 and has no
// digits below the scale. It returns false for everything else (including
// every error), which numericUnscaled then handles or reports.
func decimalFast(body []byte, scale, prec int) (int64, bool) {
	n := int(binary.BigEndian.Uint16(body))
	weight := int(int16(binary.BigEndian.Uint16(body[2:])))
	sign := binary.BigEndian.Uint16(body[4:])
	if sign&^numericNeg != 0 || n > 4 || len(body) < numericHeaderLen+2*n {
		return 0, false
	}
	if n == 0 {
		return 0, true
	}
	pe := 4*weight + scale // decimal exponent of the unit of the first digit
	last := pe - 4*(n-1)   // and of the last one
	if pe > 14 || last < -3 {
		return 0, false
	}
	var acc uint64 // < 10^16: at most 4 digits
	for i := range n {
		d := uint64(binary.BigEndian.Uint16(body[numericHeaderLen+2*i:]))
		if d >= nbase {
			return 0, false
		}
		acc = acc*nbase + d
	}
	if last >= 0 {
		acc *= pow10u64[last] // < 10^(pe+4) <= 10^18
	} else {
		div := pow10u64[-last]
		if acc%div != 0 {
			return 0, false
		}
		acc /= div
	}
	if prec <= 18 && acc >= pow10u64[prec] {
		return 0, false
	}
	if sign == numericNeg {
		return -int64(acc), true
	}
	return int64(acc), true
}

// fracDigit returns the contribution of a digit whose unit has the negative
// decimal exponent pe in the scaled value: d / 10^-pe, which must be exact.
func fracDigit(d uint16, pe int) (uint64, bool) {
	if pe < -3 {
		return 0, d == 0
	}
	div := pow10u64[-pe]
	if uint64(d)%div != 0 {
		return 0, false
	}
	return uint64(d) / div, true
}

// checkZeroTail checks that the digits from index i on, all below the scale,
// are zero.
func checkZeroTail(digits []byte, i int) (int, decResult) {
	for n := len(digits) / 2; i < n; i++ {
		switch d := digitAt(digits, i); {
		case d >= nbase:
			return i, decBadDigit
		case d != 0:
			return i, decBeyondScale
		}
	}
	return 0, decOK
}

// mulAdd sets x = x*m + a and reports whether the result fits in 256 bits.
func mulAdd(x *[4]uint64, m, a uint64) bool {
	carry := a
	for k := range x {
		hi, lo := bits.Mul64(x[k], m)
		lo, c := bits.Add64(lo, carry, 0)
		x[k] = lo
		carry = hi + c
	}
	return carry == 0
}

// mulPow10 sets x = x * 10^e (e >= 0) and reports whether it fits in 256 bits.
func mulPow10(x *[4]uint64, e int) bool {
	for e > 0 {
		k := min(e, 19)
		if !mulAdd(x, pow10u64[k], 0) {
			return false
		}
		e -= k
	}
	return true
}

// less256 reports whether a < b as unsigned 256-bit integers.
func less256(a, b *[4]uint64) bool {
	for k := 3; k >= 0; k-- {
		if a[k] != b[k] {
			return a[k] < b[k]
		}
	}
	return false
}

// pow10x256 returns 10^e (e <= 76) as 4 words, least significant first.
func pow10x256(e int) [4]uint64 {
	x := [4]uint64{1}
	mulPow10(&x, e)
	return x
}

// negate256 sets x to its two's complement.
func negate256(x *[4]uint64) {
	var c uint64 = 1
	for k := range x {
		x[k], c = bits.Add64(^x[k], 0, c)
	}
}

// decLen is the number of decimal digits numeric_out prints for the leading
// base-10000 digit (leading zeros suppressed, at least one; 4 for any d >= 1000).
func decLen(d uint16) int {
	n := 1
	if d >= 10 {
		n++
	}
	if d >= 100 {
		n++
	}
	if d >= 1000 {
		n++
	}
	return n
}

// numericTextLen is the exact length of the text writeNumericText writes for a
// numeric with this header and these digits (valid or not).
func numericTextLen(h numHeader, digits []byte) int {
	switch h.sign {
	case numericNaN:
		return len("NaN")
	case numericPInf:
		return len("Infinity")
	case numericNInf:
		return len("-Infinity")
	}
	n := 0
	if h.sign == numericNeg {
		n++
	}
	if h.weight < 0 {
		n++
	} else {
		var lead uint16
		if len(digits) >= 2 {
			lead = digitAt(digits, 0)
		}
		n += 4*h.weight + decLen(lead)
	}
	if h.dscale > 0 {
		n += 1 + h.dscale
	}
	return n
}

// ascii4Tab is a read-only table of the four ASCII decimal digits of each
// base-10000 digit, leading zeros included, in the order
// binary.LittleEndian.PutUint32 writes them (40 KB).
var ascii4Tab = func() (t [nbase]uint32) {
	d := 0
	for a := range uint32(10) {
		for b := range uint32(10) {
			for c := range uint32(10) {
				for e := range uint32(10) {
					t[d] = '0' | '0'<<8 | '0'<<16 | '0'<<24 | a | b<<8 | c<<16 | e<<24
					d++
				}
			}
		}
	}
	return t
}()

// zeros4 is ascii4Tab[0].
const zeros4 = 0x30303030

// writeNumericText writes the text PostgreSQL's numeric_out prints for the
// numeric (get_str_from_var) into dst, which must be exactly
// numericTextLen(h, digits) bytes long: a '-' for negative values, the
// integer part without leading zeros ("0" if the weight is negative), and, if
// dscale > 0, a point and exactly dscale fraction digits (zeros kept, digits
// beyond dscale dropped as numeric_out drops them). It returns the number of
// bytes written, and the index of the first digit outside 0..9999, or -1; all
// digits are checked, printed or not, NaN's and the infinities' included.
// When there is a bad digit, what dst holds is unspecified.
func writeNumericText(dst []byte, h numHeader, digits []byte) (n, bad int) {
	nd := len(digits) / 2
	p := 0
	d := 0 // index of the next digit to print; those before 0 and from nd on are zeros
	switch h.sign {
	case numericNaN:
		p = copy(dst, "NaN")
	case numericPInf:
		p = copy(dst, "Infinity")
	case numericNInf:
		p = copy(dst, "-Infinity")
	default:
		if h.sign == numericNeg {
			dst[p] = '-'
			p++
		}
		if h.weight < 0 {
			dst[p] = '0'
			p++
			d = h.weight + 1
		} else {
			var lead uint16
			if nd > 0 {
				if lead = digitAt(digits, 0); lead >= nbase {
					return p, 0
				}
			}
			// The last k digits of lead, then 4-k bytes of padding that the
			// rest of the text overwrites when there is room for them.
			k := decLen(lead)
			v := ascii4Tab[lead] >> (32 - 8*k)
			if len(dst)-p >= 4 {
				binary.LittleEndian.PutUint32(dst[p:p+4], v)
				p += k
			} else {
				for ; k > 0; k-- {
					dst[p] = byte(v)
					v >>= 8
					p++
				}
			}
			for d = 1; d < min(h.weight+1, nd); d++ {
				g := digitAt(digits, d)
				if g >= nbase {
					return p, d
				}
				binary.LittleEndian.PutUint32(dst[p:p+4], ascii4Tab[g])
				p += 4
			}
			for ; d <= h.weight; d++ {
				binary.LittleEndian.PutUint32(dst[p:p+4], zeros4)
				p += 4
			}
		}
		if h.dscale > 0 {
			dst[p] = '.'
			p++
			end := d + h.dscale/4 // the last digit printed whole, plus one
			for ; d < end && d < 0; d++ {
				binary.LittleEndian.PutUint32(dst[p:p+4], zeros4)
				p += 4
			}
			for last := min(end, nd); d < last; d++ {
				g := digitAt(digits, d)
				if g >= nbase {
					return p, d
				}
				binary.LittleEndian.PutUint32(dst[p:p+4], ascii4Tab[g])
				p += 4
			}
			for ; d < end; d++ {
				binary.LittleEndian.PutUint32(dst[p:p+4], zeros4)
				p += 4
			}
			if r := h.dscale % 4; r > 0 {
				var g uint16
				if d >= 0 && d < nd {
					if g = digitAt(digits, d); g >= nbase {
						return p, d
					}
				}
				v := ascii4Tab[g]
				for range r {
					dst[p] = byte(v)
					v >>= 8
					p++
				}
				d++
			}
		}
	}
	for d = max(d, 0); d < nd; d++ {
		if digitAt(digits, d) >= nbase {
			return p, d
		}
	}
	return p, -1
}

// appendNumericText appends writeNumericText's text of a numeric with valid
// digits.
func appendNumericText(b []byte, h numHeader, digits []byte) []byte {
	n := numericTextLen(h, digits)
	b = slices.Grow(b, n)
	writeNumericText(b[len(b):len(b)+n], h, digits)
	return b[:len(b)+n]
}
