package device

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgparquet/pgparquet/gpuparse"
	"github.com/pgparquet/pgparquet/internal/copytest"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// numericTextLenModel is cuda/pgcopy.cu's numeric_text_len, statement for statement: the
// length of numeric field body p's text, or -1 where the value must go to the CPU decoder. It
// lets CI (no GPU) check the kernels' arithmetic against the CPU decoder.
func numericTextLenModel(p []byte) int {
	be16 := func(b []byte) int { return int(binary.BigEndian.Uint16(b)) }
	if len(p) < 8 {
		return -1
	}
	nd := be16(p)
	if len(p) != 8+2*nd {
		return -1
	}
	weight := int(int16(be16(p[2:])))
	sign := be16(p[4:])
	dscale := be16(p[6:])
	if dscale&^0x3FFF != 0 {
		return -1
	}
	for i := range nd {
		if be16(p[8+2*i:]) >= 10000 {
			return -1
		}
	}
	switch sign {
	case 0xC000:
		return 3
	case 0xD000:
		return 8
	case 0xF000:
		return 9
	case 0x0000, 0x4000:
	default:
		return -1
	}
	n := bit(sign == 0x4000)
	if weight < 0 {
		n++
	} else {
		lead := 0
		if nd > 0 {
			lead = be16(p[8:])
		}
		n += 4*weight + decLenModel(lead)
	}
	if dscale > 0 {
		n += 1 + dscale
	}
	return n
}

// decLenModel is the kernel's dec_len.
func decLenModel(d int) int { return 1 + bit(d >= 10) + bit(d >= 100) + bit(d >= 1000) }

// numericTextModel is the text numtext_kernel writes for body b of text length n (accepted by
// numericTextLenModel), each character computed on its own as the kernel's lanes do.
func numericTextModel(b []byte, n int) []byte {
	be16 := func(b []byte) int { return int(binary.BigEndian.Uint16(b)) }
	nd, weight, sign := be16(b), int(int16(be16(b[2:]))), be16(b[4:])
	out := make([]byte, n)
	if sign >= 0xC000 {
		t := map[int]string{0xC000: "NaN", 0xD000: "Infinity"}[sign]
		if sign == 0xF000 {
			t = "-Infinity"
		}
		copy(out, t)
		return out
	}
	digitChar := func(idx, pos int) byte {
		g := 0
		if idx >= 0 && idx < nd {
			g = be16(b[8+2*idx:])
		}
		return byte('0' + g/[4]int{1000, 100, 10, 1}[pos]%10)
	}
	neg := bit(sign == 0x4000)
	intLen, skip := 1, 0
	if weight >= 0 {
		lead := 0
		if nd > 0 {
			lead = be16(b[8:])
		}
		kl := decLenModel(lead)
		intLen, skip = 4*weight+kl, 4-kl
	}
	for k := range out {
		q := k - neg
		switch {
		case q < 0:
			out[k] = '-'
		case q < intLen && weight < 0:
			out[k] = '0'
		case q < intLen:
			out[k] = digitChar((q+skip)>>2, (q+skip)&3)
		case q == intLen:
			out[k] = '.'
		default:
			f := q - intLen - 1
			out[k] = digitChar(weight+1+f>>2, f&3)
		}
	}
	return out
}

// TestNumericTextKernelModel checks the kernels' numeric text arithmetic (as modelled by
// numericTextLenModel and numericTextModel) against the CPU decoder: random numerics of every
// shape give the same text, byte for byte; malformed ones (copytest.BadNumerics, and random
// corruptions) are refused exactly where the CPU decoder refuses them.
func TestNumericTextKernelModel(t *testing.T) {
	cols := []pgarrow.Column{pgarrow.PlanColumn("n", pgtype.NumericOID, -1, "numeric")}
	cpu := gpuparse.NewCPUDecoder(cols, memory.DefaultAllocator)
	decode := func(bodies ...[]byte) ([]string, error) {
		tuples := make([][]byte, len(bodies))
		for i, b := range bodies {
			tuples[i] = copytest.Tuple(b)
		}
		data, starts := copytest.RowStarts(tuples...)
		rec, err := cpu.Decode(context.Background(), &pgcopy.Chunk{Data: data, RowStarts: starts, Source: "model"})
		if err != nil {
			return nil, err
		}
		defer rec.Release()
		col := rec.Column(0).(*array.String)
		out := make([]string, col.Len())
		for i := range out {
			out[i] = col.Value(i)
		}
		return out, nil
	}
	same := func(name string, body []byte) {
		t.Helper()
		want, err := decode(body)
		n := numericTextLenModel(body)
		switch {
		case err != nil && n >= 0:
			t.Errorf("%s (% x): the CPU decoder refuses it (%v), the kernel would write %d bytes", name, body, err, n)
		case err == nil && n < 0:
			t.Errorf("%s (% x): the CPU decoder writes %q, the kernel would refuse it", name, body, elide(want[0]))
		case err == nil && string(numericTextModel(body, n)) != want[0]:
			t.Errorf("%s (% x): the kernel would write %q, the CPU decoder %q", name, body, elide(string(numericTextModel(body, n))), elide(want[0]))
		}
	}
	for name, body := range copytest.BadNumerics() {
		same(name, body)
	}
	for _, lit := range []string{"0", "-0.00", "1", "-1", "9999", "10000", "0.0001", "-0.00012", "123456789.987654321", "NaN", "Infinity", "-Infinity"} {
		same(lit, copytest.Numeric(lit))
	}
	same("negative zero", copytest.NumericRaw(0, 0, 0x4000, 3))
	same("leading zero digit", copytest.NumericRaw(2, 1, 0, 2, 0, 5))
	same("max weight", copytest.NumericRaw(1, 32767, 0, 5, 7))
	same("min weight", copytest.NumericRaw(1, -32768, 0x4000, 16383, 7))

	rng := rand.New(rand.NewPCG(5, 6))
	bodies := make([][]byte, 20000)
	for i := range bodies {
		bodies[i] = copytest.RandomNumeric(rng)
	}
	texts, err := decode(bodies...)
	if err != nil {
		t.Fatalf("the CPU decoder refuses RandomNumeric's values: %v", err)
	}
	for i, b := range bodies {
		n := numericTextLenModel(b)
		if n < 0 || string(numericTextModel(b, n)) != texts[i] {
			t.Fatalf("value %d (% x): the kernel would write %d bytes %q, the CPU decoder %q", i, b, n, elide(string(numericTextModel(b, max(n, 0)))), elide(texts[i]))
		}
	}
	// Random corruptions: a byte, a truncation or an extra byte.
	for i := range 3000 {
		b := bytes.Clone(bodies[rng.IntN(len(bodies))])
		switch rng.IntN(4) {
		case 0:
			b = b[:rng.IntN(len(b)+1)]
		case 1:
			b = append(b, byte(rng.Uint32()))
		default:
			b[rng.IntN(len(b))] = byte(rng.Uint32())
		}
		same("corruption "+copytest.Itoa(int32(i)), b)
	}
}

// TestGPUNumericTextColumns: the CUDA decoder takes every numeric text column, and none when
// $PGPARQUET_GPU_NUMERIC_TEXT=off.
func TestGPUNumericTextColumns(t *testing.T) {
	cols := copytest.RandomColumns()
	for _, tc := range []struct {
		env string
		on  bool
	}{{"", true}, {"on", true}, {"off", false}} {
		t.Setenv(numericTextEnv, tc.env)
		got := gpuNumericTextColumns(cols, gpuNumericText())
		for i, c := range cols {
			if want := tc.on && c.Kind == pgarrow.KindNumericString; got[i] != want {
				t.Errorf("%s=%q: %s (%s) on the GPU %v, want %v", numericTextEnv, tc.env, c.Name, c.Kind, got[i], want)
			}
		}
	}
}

// bit is 1 for true, 0 for false.
func bit(b bool) int {
	if b {
		return 1
	}
	return 0
}

// elide shortens long texts in messages.
func elide(s string) string {
	if len(s) > 80 {
		return s[:40] + "..." + s[len(s)-40:]
	}
	return s
}
