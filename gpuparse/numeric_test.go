package gpuparse

import (
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/pgparquet/pgparquet/internal/copytest"
)

// refNumeric is an independent math/big model of a numeric's value:
// mag * 10^exp, from the base-10000 digits.
func refNumeric(digits []uint16, weight int) (mag *big.Int, exp int) {
	mag = new(big.Int)
	for _, d := range digits {
		mag.Mul(mag, big.NewInt(nbase))
		mag.Add(mag, big.NewInt(int64(d)))
	}
	return mag, 4 * (weight - (len(digits) - 1))
}

func pow10big(e int) *big.Int { return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(e)), nil) }

func randDigits(rng *rand.Rand, n int, canonical bool) []uint16 {
	ds := make([]uint16, n)
	for i := range ds {
		switch rng.IntN(4) {
		case 0:
			ds[i] = 0
		case 1:
			ds[i] = 9999
		default:
			ds[i] = uint16(rng.IntN(nbase))
		}
	}
	if canonical && n > 0 && ds[0] == 0 {
		ds[0] = uint16(1 + rng.IntN(nbase-1))
	}
	return ds
}

func digitBytes(ds []uint16) []byte {
	return copytest.NumericRaw(int16(len(ds)), 0, 0, 0, ds...)[numericHeaderLen:]
}

// TestNumericUnscaledRandom checks numericUnscaled, fast and wide paths,
// against math/big on random digits, weights, scales and precisions.
func TestNumericUnscaledRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := range 200000 {
		ds := randDigits(rng, rng.IntN(14), false)
		weight := rng.IntN(24) - 6
		prec := 1 + rng.IntN(76)
		scale := rng.IntN(prec + 1)
		if iter%2 == 0 { // favour the int64 range
			prec = 1 + rng.IntN(20)
			scale = rng.IntN(prec + 1)
			weight = rng.IntN(8) - 3
			ds = ds[:min(len(ds), 6)]
		}
		limit := pow10x256(prec)
		mag, res, _ := numericUnscaled(digitBytes(ds), weight, scale, prec, &limit)

		m, e := refNumeric(ds, weight)
		e += scale
		var want *big.Int
		beyond := false
		if e >= 0 {
			want = new(big.Int).Mul(m, pow10big(e))
		} else {
			q, r := new(big.Int).QuoRem(m, pow10big(-e), new(big.Int))
			want, beyond = q, r.Sign() != 0
		}
		tooBig := want.Cmp(pow10big(prec)) >= 0
		switch {
		case beyond && tooBig:
			if res != decBeyondScale && res != decTooBig {
				t.Fatalf("%v w=%d p=%d s=%d: got %v, want beyond scale or too big", ds, weight, prec, scale, res)
			}
		case beyond:
			if res != decBeyondScale {
				t.Fatalf("%v w=%d p=%d s=%d: got %v, want beyond scale", ds, weight, prec, scale, res)
			}
		case tooBig:
			if res != decTooBig {
				t.Fatalf("%v w=%d p=%d s=%d: got %v, want too big", ds, weight, prec, scale, res)
			}
		default:
			got := new(big.Int)
			for k := 3; k >= 0; k-- {
				got.Lsh(got, 64)
				got.Or(got, new(big.Int).SetUint64(mag[k]))
			}
			if res != decOK || got.Cmp(want) != 0 {
				t.Fatalf("%v w=%d p=%d s=%d: got %v %v, want %v", ds, weight, prec, scale, res, got, want)
			}
		}
	}
}

// refNumericText formats a canonical numeric (first digit non-zero, or zero
// with weight 0) the way numeric_out does, from math/big: the value truncated
// to dscale fraction digits.
func refNumericText(ds []uint16, weight int, neg bool, dscale int) string {
	m, e := refNumeric(ds, weight)
	var tr *big.Int
	if e+dscale >= 0 {
		tr = new(big.Int).Mul(m, pow10big(e+dscale))
	} else {
		tr = new(big.Int).Quo(m, pow10big(-(e + dscale)))
	}
	s := tr.String()
	if len(s) < dscale+1 {
		s = strings.Repeat("0", dscale+1-len(s)) + s
	}
	if dscale > 0 {
		s = s[:len(s)-dscale] + "." + s[len(s)-dscale:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

func TestNumericTextRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 100000 {
		ds := randDigits(rng, rng.IntN(10), true)
		weight := rng.IntN(16) - 8
		if len(ds) == 0 {
			weight = 0
		}
		neg := rng.IntN(2) == 0
		dscale := rng.IntN(40)
		h := numHeader{ndigits: len(ds), weight: weight, sign: numericPos, dscale: dscale}
		if neg {
			h.sign = numericNeg
		}
		got := string(appendNumericText(nil, h, digitBytes(ds)))
		if want := refNumericText(ds, weight, neg, dscale); got != want {
			t.Fatalf("%v w=%d neg=%v dscale=%d: got %q, want %q", ds, weight, neg, dscale, got, want)
		}
		if n := numericTextLen(h, digitBytes(ds)); n != len(got) {
			t.Fatalf("%v w=%d dscale=%d: numericTextLen %d, text %q", ds, weight, dscale, n, got)
		}
	}
}

// TestNumericTextLenNonCanonical checks that numericTextLen matches the text
// for arbitrary (non-canonical but valid) digits, which the decoder relies
// on to size its buffers.
func TestNumericTextLenNonCanonical(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	signs := []uint16{numericPos, numericNeg, numericNaN, numericPInf, numericNInf}
	for range 100000 {
		ds := randDigits(rng, rng.IntN(10), false)
		h := numHeader{ndigits: len(ds), weight: rng.IntN(40) - 20, sign: signs[rng.IntN(len(signs))], dscale: rng.IntN(30)}
		got := appendNumericText(nil, h, digitBytes(ds))
		if n := numericTextLen(h, digitBytes(ds)); n != len(got) {
			t.Fatalf("%+v %v: numericTextLen %d, text %q", h, ds, n, got)
		}
	}
}
