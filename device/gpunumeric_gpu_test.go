//go:build cgo && linux

package device

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgparquet/pgparquet/internal/copytest"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// TestGPUNumericTextMatchesCPU decodes chunks with two numeric text columns (and a string and a
// list column, which share the GPU's scan) with both decoders: random numerics of every shape
// (copytest.RandomNumeric: NaN, ±Infinity, zero and negative zero with a dscale, weights up to
// ±32767, dscale up to 1000 and 16383, leading and trailing zero digits), NULL at rates 0 to 1,
// 0 to 20000 rows, must give the same arrays byte for byte without falling back; malformed
// numerics (copytest.BadNumerics, random corruptions) and chunks whose text does not fit one
// Arrow array or the GPU's int32 scan must give the CPU decoder's result or exact error,
// through the fallback.
func TestGPUNumericTextMatchesCPU(t *testing.T) {
	cols := copytest.NumericTextColumns()
	_, gpu, cpu := gpuAndCPUFor(t, cols)
	if !gpu.numText[1] || !gpu.numText[4] {
		t.Fatalf("numeric text columns not on the GPU: %v", gpu.numText)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 23))
	for _, nullRate := range []float64{0, 0.1, 0.5, 1} {
		for _, rows := range []int{0, 1, 2, 31, 32, 33, 1000, 5000, 20000} {
			c := copytest.RandomNumericChunk(rng, rows, nullRate)
			if err := sameOutcome(gpu, cpu, cols, c, true); err != nil {
				t.Errorf("rows=%d NULL rate %v: %v", rows, nullRate, err)
			}
		}
	}
	if n := gpu.fallbacks.Load(); n != 0 {
		t.Errorf("%d valid chunks fell back to the CPU", n)
	}

	// Malformed numerics, in either column, between two good rows.
	good := copytest.Numeric("-12.50")
	names := make([]string, 0, len(copytest.BadNumerics()))
	for name := range copytest.BadNumerics() {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, ci := range []int{1, 4} {
			fields := make([][]byte, len(cols))
			fields[0], fields[ci] = copytest.Int64(1), good
			row0 := copytest.Tuple(fields...)
			fields[ci] = copytest.BadNumerics()[name]
			data, starts := copytest.RowStarts(row0, copytest.Tuple(fields...), row0)
			before := gpu.fallbacks.Load()
			c := &pgcopy.Chunk{Data: data, RowStarts: starts, Source: name, StreamOffset: 7, FirstRow: 3}
			if err := sameOutcome(gpu, cpu, cols, c, false); err != nil {
				t.Errorf("%s in %s: %v", name, cols[ci].Name, err)
			}
			if gpu.fallbacks.Load() != before+1 {
				t.Errorf("%s in %s: the GPU did not hand the chunk to the CPU decoder", name, cols[ci].Name)
			}
		}
	}

	// Numerics corrupted at random (a byte of the body): the same result or error.
	before := gpu.fallbacks.Load()
	for i := range 300 {
		c := copytest.RandomNumericChunk(rng, 1+rng.IntN(40), 0.1)
		pos := listFieldPositions(c, len(cols))
		for range 1 + rng.IntN(3) {
			ci := []int{1, 4}[rng.IntN(2)]
			at := int(pos[ci][rng.IntN(len(pos[ci]))])
			l := int(int32(binary.BigEndian.Uint32(c.Data[at:])))
			if l <= 0 {
				continue
			}
			c.Data[at+4+rng.IntN(l)] = byte(rng.Uint32())
		}
		if err := sameOutcome(gpu, cpu, cols, c, false); err != nil {
			t.Errorf("mutation %d: %v", i, err)
		}
	}
	t.Logf("mutations: %d of 300 chunks fell back to the CPU", gpu.fallbacks.Load()-before)

	// Text longer than one Arrow array addresses (the CPU decoder's error), and two columns whose
	// text together overflows the GPU's int32 scan (the CPU decoder's result): 1e131068 is
	// 131069 bytes of text from 10 bytes of field.
	huge := copytest.NumericRaw(1, 32767, 0, 0, 1)
	for _, tc := range []struct {
		name   string
		rows   int
		in     []int
		isGood bool
	}{{"one column past 2 GiB", 16500, []int{1}, false}, {"two columns past 2 GiB together", 9000, []int{1, 4}, true}} {
		tuples := make([][]byte, tc.rows)
		for r := range tuples {
			fields := make([][]byte, len(cols))
			fields[0] = copytest.Int64(int64(r))
			for _, ci := range tc.in {
				fields[ci] = huge
			}
			tuples[r] = copytest.Tuple(fields...)
		}
		data, starts := copytest.RowStarts(tuples...)
		before := gpu.fallbacks.Load()
		if err := sameOutcome(gpu, cpu, cols, &pgcopy.Chunk{Data: data, RowStarts: starts, Source: tc.name}, tc.isGood); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if gpu.fallbacks.Load() != before+1 {
			t.Errorf("%s: the GPU did not hand the chunk to the CPU decoder", tc.name)
		}
	}
}

// TestGPUNumericTextThroughput times the decode of chunks shaped like a table with an int8 key
// and one numeric column without a typmod (everyday values: up to 9 integer digits, 0 to 6
// fraction digits, a few NULLs): the CPU decoder, the GPU decoder with the numeric text decoded
// on the GPU, and the GPU decoder leaving it to the CPU ($PGPARQUET_GPU_NUMERIC_TEXT=off), one
// goroutine each; wall time and process CPU time per chunk.
func TestGPUNumericTextThroughput(t *testing.T) {
	lib := cudaLib(t)
	cols := []pgarrow.Column{
		pgarrow.PlanColumn("id", pgtype.Int8OID, -1, "bigint"),
		pgarrow.PlanColumn("amount", pgtype.NumericOID, -1, "numeric"),
	}
	rng := rand.New(rand.NewPCG(5, 6))
	const rows = 200000
	tuples := make([][]byte, rows)
	for r := range tuples {
		var v []byte
		if rng.IntN(50) != 0 {
			lit := fmt.Sprint(rng.Int64N(1000000000) - 500000000)
			if s := rng.IntN(7); s > 0 {
				lit += fmt.Sprintf(".%0*d", s, rng.Int64N(1000000)%int64([]int{1, 10, 100, 1000, 10000, 100000, 1000000}[s]))
			}
			v = copytest.Numeric(lit)
		}
		tuples[r] = copytest.Tuple(copytest.Int64(int64(r)), v)
	}
	timeDecoders(t, lib, cols, tuples, numericTextEnv, "numeric")
}
