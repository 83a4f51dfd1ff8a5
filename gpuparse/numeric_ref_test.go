package gpuparse

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgparquet/pgparquet/internal/copytest"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// The reference conversion numeric text decoding is checked against: a
// straightforward digit-by-digit parseNumericHeader, checkDigits,
// numericTextLen and appendNumericText.

// refCheckDigits returns the index of the first digit outside 0..9999, or -1.
func refCheckDigits(digits []byte) int {
	for i := 0; i+1 < len(digits); i += 2 {
		if binary.BigEndian.Uint16(digits[i:]) >= nbase {
			return i / 2
		}
	}
	return -1
}

// refDecLen is the number of decimal digits numeric_out prints for the leading
// base-10000 digit (leading zeros suppressed, at least one).
func refDecLen(d uint16) int {
	switch {
	case d >= 1000:
		return 4
	case d >= 100:
		return 3
	case d >= 10:
		return 2
	}
	return 1
}

// refNumericTextLen is the length of the text refAppendNumericText writes.
func refNumericTextLen(h numHeader, digits []byte) int {
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
		if h.ndigits > 0 {
			lead = digitAt(digits, 0)
		}
		n += 4*h.weight + refDecLen(lead)
	}
	if h.dscale > 0 {
		n += 1 + h.dscale
	}
	return n
}

// refAppendNumericText appends numeric_out's text of a numeric with valid
// digits, one decimal digit at a time.
func refAppendNumericText(b []byte, h numHeader, digits []byte) []byte {
	switch h.sign {
	case numericNaN:
		return append(b, "NaN"...)
	case numericPInf:
		return append(b, "Infinity"...)
	case numericNInf:
		return append(b, "-Infinity"...)
	}
	if h.sign == numericNeg {
		b = append(b, '-')
	}
	digit := func(d int) uint16 {
		if d < 0 || d >= h.ndigits {
			return 0
		}
		return digitAt(digits, d)
	}
	var d int
	if h.weight < 0 {
		d = h.weight + 1
		b = append(b, '0')
	} else {
		for d = 0; d <= h.weight; d++ {
			dig := digit(d)
			if d == 0 {
				var tmp [4]byte
				k := refDecLen(dig)
				for j := k - 1; j >= 0; j-- {
					tmp[j] = byte('0' + dig%10)
					dig /= 10
				}
				b = append(b, tmp[:k]...)
				continue
			}
			b = append(b, byte('0'+dig/1000), byte('0'+dig/100%10), byte('0'+dig/10%10), byte('0'+dig%10))
		}
	}
	if h.dscale > 0 {
		b = append(b, '.')
		for i := 0; i < h.dscale; d, i = d+1, i+4 {
			dig := digit(d)
			g := [4]byte{byte('0' + dig/1000), byte('0' + dig/100%10), byte('0' + dig/10%10), byte('0' + dig%10)}
			b = append(b, g[:min(4, h.dscale-i)]...)
		}
	}
	return b
}

// refParseNumericHeader reads and checks the fixed part of a numeric field
// body, as parseNumericHeader must.
func refParseNumericHeader(body []byte) (h numHeader, badOff int, msg string) {
	if len(body) < numericHeaderLen {
		return h, -4, fmt.Sprintf("numeric field length %d, need at least %d", len(body), numericHeaderLen)
	}
	h.ndigits = int(binary.BigEndian.Uint16(body))
	h.weight = int(int16(binary.BigEndian.Uint16(body[2:])))
	h.sign = binary.BigEndian.Uint16(body[4:])
	h.dscale = int(int16(binary.BigEndian.Uint16(body[6:])))
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

// randNumericBody is a random numeric field body: mostly well formed, with
// every sign, weights and dscales around the digits and at the format's
// extremes, leading and trailing zero digits, and, in some, digits above
// 9999, a bad sign or dscale, or a length that does not match ndigits.
func randNumericBody(rng *rand.Rand) []byte {
	signs := []uint16{numericPos, numericNeg, numericPos, numericNeg, numericNaN, numericPInf, numericNInf}
	sign := signs[rng.IntN(len(signs))]
	nd := rng.IntN(41)
	weight := rng.IntN(61) - 20
	dscale := rng.IntN(60)
	switch rng.IntN(200) {
	case 0:
		weight = []int{-32768, -32767, 32767, 32766, -100, 100}[rng.IntN(6)]
	case 1:
		dscale = numericDscaleMask - rng.IntN(4)
	case 2:
		dscale = 4*(weight+nd) + rng.IntN(9) - 4 // around the last digit
	}
	ds := randDigits(rng, nd, false)
	if nd > 0 && rng.IntN(3) == 0 { // trailing zero digits, as numeric_send strips
		for i := nd - 1 - rng.IntN(nd); i < nd; i++ {
			ds[i] = 0
		}
	}
	if rng.IntN(8) == 0 { // digits outside 0..9999
		for range 1 + rng.IntN(2) {
			if nd > 0 {
				ds[rng.IntN(nd)] = []uint16{10000, 10001, 0xffff, 0x8000, uint16(nbase + rng.IntN(0x10000-nbase))}[rng.IntN(5)]
			}
		}
	}
	switch rng.IntN(100) {
	case 0:
		sign = uint16(rng.Uint32())
	case 1:
		dscale = int(int16(rng.Uint32()))
	}
	body := copytest.NumericRaw(int16(nd), int16(weight), sign, int16(dscale), ds...)
	switch rng.IntN(100) {
	case 0:
		body = body[:rng.IntN(len(body)+1)]
	case 1:
		body = append(body, byte(rng.Uint32()))
	case 2:
		binary.BigEndian.PutUint16(body, uint16(rng.IntN(0x10000)))
	}
	return body
}

// TestNumericTextMatchesReference checks numericTextLen and writeNumericText
// against the reference conversion on random headers and digits, valid or
// not: the same length, the same text, and the same first bad digit; nothing
// is written outside dst.
func TestNumericTextMatchesReference(t *testing.T) {
	n := 2_000_000
	if testing.Short() {
		n = 100_000
	}
	rng := rand.New(rand.NewPCG(11, 12))
	var buf []byte
	for range n {
		body := randNumericBody(rng)
		h, _, msg := parseNumericHeader(body)
		if msg != "" {
			continue
		}
		digits := body[numericHeaderLen:]
		want := refNumericTextLen(h, digits)
		if got := numericTextLen(h, digits); got != want {
			t.Fatalf("%+v %x: numericTextLen %d, want %d", h, digits, got, want)
		}
		buf = slices.Grow(buf[:0], want+8)[:want+8]
		for i := range buf {
			buf[i] = 0xAA
		}
		w, bad := writeNumericText(buf[4:4+want], h, digits)
		if wantBad := refCheckDigits(digits); bad != wantBad {
			t.Fatalf("%+v %x: bad digit %d, want %d", h, digits, bad, wantBad)
		}
		for _, i := range []int{0, 1, 2, 3, want + 4, want + 5, want + 6, want + 7} {
			if buf[i] != 0xAA {
				t.Fatalf("%+v %x: wrote outside dst at %d", h, digits, i-4)
			}
		}
		if bad >= 0 {
			continue
		}
		if w != want {
			t.Fatalf("%+v %x: wrote %d bytes, want %d", h, digits, w, want)
		}
		if got, ref := buf[4:4+want], refAppendNumericText(nil, h, digits); !bytes.Equal(got, ref) {
			t.Fatalf("%+v %x: got %q, want %q", h, digits, got, ref)
		}
		if got := appendNumericText([]byte("x"), h, digits); string(got[1:]) != string(buf[4:4+want]) || got[0] != 'x' {
			t.Fatalf("%+v %x: appendNumericText %q, want x%q", h, digits, got, buf[4:4+want])
		}
	}
}

// TestDecodeNumericTextMatchesReference decodes chunks of random numeric
// values, some malformed, as an unconstrained numeric column through Decode
// and DecodeColumnAt, and checks the result against the reference: the first
// header error in row order (the first pass), else the first bad digit (the
// second pass), each at the same offset with the same message, else every
// value's reference text.
func TestDecodeNumericTextMatchesReference(t *testing.T) {
	cols := []pgarrow.Column{pgarrow.PlanColumn("c", pgtype.NumericOID, -1, "numeric")}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dec := NewCPUDecoder(cols, mem)
	n := 20000
	if testing.Short() {
		n = 2000
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for range n {
		rows := 1 + rng.IntN(8)
		var tuples [][]byte
		var want []*string
		var headerErr, digitErr string
		const base = 1000 // StreamOffset
		at := 0
		for row := range rows {
			var body []byte
			if rng.IntN(7) != 0 {
				body = randNumericBody(rng)
			}
			tuples = append(tuples, copytest.Tuple(body))
			start := at + fieldCountLen + fieldLenLen // offset of the value in the chunk
			at += len(tuples[row])
			if body == nil {
				want = append(want, nil)
				continue
			}
			h, badOff, msg := refParseNumericHeader(body)
			if msg != "" {
				if headerErr == "" {
					headerErr = fmt.Sprintf("%d %d %s", base+start+badOff, row, msg)
				}
				want = append(want, nil)
				continue
			}
			digits := body[numericHeaderLen:]
			if bad := refCheckDigits(digits); bad >= 0 {
				if digitErr == "" {
					digitErr = fmt.Sprintf("%d %d numeric digit %d at index %d, expected 0..9999", base+start+numericHeaderLen+2*bad, row, digitAt(digits, bad), bad)
				}
				want = append(want, nil)
				continue
			}
			s := string(refAppendNumericText(nil, h, digits))
			want = append(want, &s)
		}
		data, starts := copytest.RowStarts(tuples...)
		c := &pgcopy.Chunk{Data: data, RowStarts: starts, StreamOffset: base, Source: "t"}
		wantErr := headerErr
		if wantErr == "" {
			wantErr = digitErr
		}
		check := func(path string, arr arrow.Array, err error) {
			t.Helper()
			if err != nil {
				var de *pgcopy.DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("%s: %v", path, err)
				}
				if got := fmt.Sprintf("%d %d %s", de.Offset, de.Row, de.Msg); got != wantErr {
					t.Fatalf("%s: error %q, want %q", path, got, wantErr)
				}
				return
			}
			if wantErr != "" {
				t.Fatalf("%s: no error, want %q", path, wantErr)
			}
			a := arr.(*array.String)
			for row, w := range want {
				switch {
				case w == nil && a.IsValid(row), w != nil && (a.IsNull(row) || a.Value(row) != *w):
					t.Fatalf("%s: row %d: got %q (valid %v), want %v", path, row, a.Value(row), a.IsValid(row), w)
				}
			}
		}
		rec, err := dec.Decode(context.Background(), c)
		if err == nil {
			check("Decode", rec.Column(0), nil)
			rec.Release()
		} else {
			check("Decode", nil, err)
		}
		arr, err := dec.DecodeColumnAt(c, 0, fieldPositions(c, 1)[0])
		check("DecodeColumnAt", arr, err)
		if arr != nil {
			arr.Release()
		}
	}
}
