package gpuparse

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// cudaLib loads the CUDA decoder named by $PGPARQUET_CUDA_LIB. Without it the GPU tests skip
// (CI has no GPU), unless $PGPARQUET_REQUIRE_GPU=1 (make test-gpu) makes that a failure.
func cudaLib(t testing.TB) *CUDALibrary {
	t.Helper()
	path := os.Getenv("PGPARQUET_CUDA_LIB")
	if path == "" {
		if os.Getenv("PGPARQUET_REQUIRE_GPU") == "1" {
			t.Fatal("PGPARQUET_REQUIRE_GPU=1 but PGPARQUET_CUDA_LIB is not set")
		}
		t.Skip("no GPU: set PGPARQUET_CUDA_LIB to libpgparquet_cuda.so on a GPU host (make test-gpu)")
	}
	lib, err := LoadCUDA(path)
	if err != nil {
		t.Fatal(err)
	}
	return lib
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

// gpuAndCPU returns the library, a CUDA decoder (closed when the test ends) and a CPU decoder,
// both for gpuTestColumns.
func gpuAndCPU(t *testing.T) (*CUDALibrary, *CUDADecoder, *CPUDecoder, []pgarrow.Column) {
	t.Helper()
	lib := cudaLib(t)
	cols := gpuTestColumns()
	gpu, err := lib.NewDecoder(cols)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gpu.Close() })
	return lib, gpu, NewCPUDecoder(cols, memory.DefaultAllocator), cols
}

// TestGPUMatchesCPU decodes fresh random chunks with both decoders and requires identical
// batches, bit for bit, including zero-row and one-row chunks.
func TestGPUMatchesCPU(t *testing.T) {
	_, gpu, cpu, cols := gpuAndCPU(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	ctx := context.Background()
	for _, rows := range []int{0, 1, 2, 31, 32, 33, 1000, 5000, 20000} {
		c := randomChunk(rng, rows)
		want, err := cpu.Decode(ctx, c)
		if err != nil {
			t.Fatalf("rows=%d: CPU: %v", rows, err)
		}
		got, err := gpu.Decode(ctx, c)
		if err != nil {
			t.Fatalf("rows=%d: GPU: %v", rows, err)
		}
		for i := range cols {
			if err := sameArrays(want.Column(i), got.Column(i)); err != nil {
				t.Errorf("rows=%d column %s (%s): %v", rows, cols[i].Name, cols[i].Kind, err)
			}
		}
		want.Release()
		got.Release()
	}
	// Every chunk above holds NULLs, NaN and infinities in the numeric text column only, so
	// none needed the CPU fallback; a chunk with NaN in a decimal column does.
	if n := gpu.Fallbacks(); n != 0 {
		t.Errorf("%d chunks fell back to the CPU", n)
	}
	badFields := make([][]byte, len(cols))
	badFields[0], badFields[14] = wI64(1), wNumeric("NaN") // n12
	data, starts := rowStarts(tuple(badFields...))
	c := &pgcopy.Chunk{Data: data, RowStarts: starts, Source: "bad"}
	_, cerr := cpu.Decode(ctx, c)
	_, gerr := gpu.Decode(ctx, c)
	if cerr == nil || gerr == nil || cerr.Error() != gerr.Error() {
		t.Errorf("NaN in decimal: CPU %v, GPU %v; want the same error", cerr, gerr)
	}
	if gpu.Fallbacks() != 1 {
		t.Errorf("fallbacks = %d, want 1", gpu.Fallbacks())
	}
	// Row starts that do not match the tuples (a server that batched rows, or a receiver bug)
	// and missing row starts: the CPU decoder decides, so results and errors are the same.
	c = randomChunk(rng, 100)
	var everyOther []uint32
	for i, s := range c.RowStarts {
		if i%2 == 0 {
			everyOther = append(everyOther, s)
		}
	}
	shifted := append([]uint32(nil), c.RowStarts...)
	shifted[50] += 2
	for _, tc := range []struct {
		name   string
		starts []uint32
	}{{"no row starts", nil}, {"two rows per message", everyOther}, {"a wrong row start", shifted}} {
		before := gpu.Fallbacks()
		in := &pgcopy.Chunk{Data: c.Data, RowStarts: tc.starts, Source: tc.name}
		want, werr := cpu.Decode(ctx, in)
		got, gerr := gpu.Decode(ctx, in)
		switch {
		case (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()):
			t.Errorf("%s: CPU error %v, GPU error %v", tc.name, werr, gerr)
		case werr == nil:
			for i := range cols {
				if err := sameArrays(want.Column(i), got.Column(i)); err != nil {
					t.Errorf("%s: column %s: %v", tc.name, cols[i].Name, err)
				}
			}
			want.Release()
			got.Release()
		}
		if gpu.Fallbacks() != before+1 {
			t.Errorf("%s: the GPU did not hand the chunk to the CPU decoder", tc.name)
		}
	}
}

// TestGPUCUDAErrorsFallBack injects device failures (one while decoding, one while copying the
// results back): each such chunk is reported and decoded on the CPU, so every batch still equals
// the CPU decoder's and no row is lost or duplicated.
func TestGPUCUDAErrorsFallBack(t *testing.T) {
	lib, gpu, cpu, cols := gpuAndCPU(t)
	var mu sync.Mutex
	var reported []string
	gpu.OnCUDAError = func(err error) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, err.Error())
	}
	if !lib.injectFaults(1, 1) {
		t.Fatal("the CUDA library has no pgpq_inject_faults")
	}
	defer lib.injectFaults(0, 0)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	ctx := context.Background()
	for i := range 4 {
		c := randomChunk(rng, 300)
		want, err := cpu.Decode(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := gpu.Decode(ctx, c)
		if err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		for ci := range cols {
			if err := sameArrays(want.Column(ci), got.Column(ci)); err != nil {
				t.Errorf("chunk %d column %s: %v", i, cols[ci].Name, err)
			}
		}
		want.Release()
		got.Release()
	}
	if len(reported) != 2 || !strings.Contains(reported[0], "pgpq_scan") || !strings.Contains(reported[1], "pgpq_finish") ||
		!strings.Contains(reported[0], "decoding it on the CPU") {
		t.Errorf("reported %q, want a scan failure then a finish failure", reported)
	}
	if gpu.Fallbacks() != 2 {
		t.Errorf("fallbacks = %d, want 2", gpu.Fallbacks())
	}
}

// TestGPUThroughput reports decode throughput of lineorder-shaped chunks (COPY bytes per
// second) for the GPU decoder, transfers included, and for the CPU decoder on all cores.
func TestGPUThroughput(t *testing.T) {
	lib := cudaLib(t)
	cols, data, starts := lineorderChunk(4 << 20 / 174)
	gpu, err := lib.NewDecoder(cols)
	if err != nil {
		t.Fatal(err)
	}
	defer gpu.Close()
	pinned := append(gpu.PinnedBuffer(len(data)), data...)
	ctx := context.Background()
	measure := func(name string, dec Decoder, input []byte, workers int, dur time.Duration) {
		var mu sync.Mutex
		var total int64
		var wg sync.WaitGroup
		start := time.Now()
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var n int64
				for time.Since(start) < dur {
					rec, err := dec.Decode(ctx, &pgcopy.Chunk{Data: input, RowStarts: starts, Source: "bench"})
					if err != nil {
						t.Error(err)
						return
					}
					rec.Release()
					n += int64(len(input))
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}()
		}
		wg.Wait()
		secs := time.Since(start).Seconds()
		t.Logf("%-40s %8.2f GB/s (%d workers)", name, float64(total)/secs/1e9, workers)
	}
	for _, rows := range []int{4 << 20 / 174, 16 << 20 / 174, 64 << 20 / 174} {
		_, big, bigStarts := lineorderChunk(rows)
		secs, err := gpu.KernelSeconds(&pgcopy.Chunk{Data: big, RowStarts: bigStarts}, 20)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%-40s %8.2f GB/s (%d MB chunk)", "GPU kernels only (walk + decode)", float64(len(big))/secs/1e9, len(big)>>20)
	}
	measure("GPU decode, pinned input, transfers", gpu, pinned, 8, 3*time.Second)
	measure("GPU decode, pinned input, transfers", gpu, pinned, 16, 3*time.Second)
	measure("GPU decode, Go heap input, transfers", gpu, data, 16, 3*time.Second)
	measure("CPU decode, 1 core", NewCPUDecoder(cols, memory.DefaultAllocator), data, 1, 3*time.Second)
	measure("CPU decode, all cores", NewCPUDecoder(cols, memory.DefaultAllocator), data, runtime.NumCPU(), 3*time.Second)
	if gpu.Fallbacks() != 0 {
		t.Errorf("%d fallbacks", gpu.Fallbacks())
	}
}
