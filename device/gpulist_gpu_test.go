//go:build cgo && linux

package device

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgparquet/pgparquet/gpuparse"
	"github.com/pgparquet/pgparquet/internal/copytest"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// sameOutcome decodes c with both decoders and reports any difference: the same error text,
// or the same arrays bit for bit. valid: c is valid, and the CPU decoder must accept it.
func sameOutcome(gpu *gpuDecoder, cpu *gpuparse.CPUDecoder, cols []pgarrow.Column, c *pgcopy.Chunk, valid bool) error {
	ctx := context.Background()
	want, werr := cpu.Decode(ctx, c)
	got, gerr := gpu.Decode(ctx, c)
	if valid && werr != nil {
		return fmt.Errorf("the CPU decoder rejects a valid chunk: %v", werr)
	}
	if want != nil {
		defer want.Release()
	}
	if got != nil {
		defer got.Release()
	}
	if werr != nil || gerr != nil {
		if werr == nil || gerr == nil || werr.Error() != gerr.Error() {
			return fmt.Errorf("CPU error %v, GPU error %v", werr, gerr)
		}
		return nil
	}
	var errs []string
	for i := range cols {
		if err := copytest.SameArrays(want.Column(i), got.Column(i)); err != nil {
			errs = append(errs, fmt.Sprintf("column %s (%s): %v", cols[i].Name, cols[i].PGType, err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// TestGPUListsMatchCPU decodes chunks of one-dimensional arrays of every element type (and two
// the GPU leaves to the CPU) with both decoders: valid random chunks (NULL arrays and elements
// at rates 0 to 1, empty arrays) must give the same arrays bit for bit without falling back;
// malformed arrays (copytest.MalformedArrays) and randomly corrupted ones must give the CPU
// decoder's result or exact error, through the fallback.
func TestGPUListsMatchCPU(t *testing.T) {
	cols := copytest.ListColumns()
	_, gpu, cpu := gpuAndCPUFor(t, cols)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 17))
	for _, rates := range [][2]float64{{0, 0}, {0.1, 0.2}, {0.5, 0.5}, {1, 0}, {0, 1}} {
		for _, rows := range []int{0, 1, 2, 31, 32, 33, 1000, 5000} {
			c := copytest.RandomListChunk(rng, rows, rates[0], rates[1])
			if err := sameOutcome(gpu, cpu, cols, c, true); err != nil {
				t.Errorf("rows=%d NULL rates %v: %v", rows, rates, err)
			}
		}
	}
	if n := gpu.fallbacks.Load(); n != 0 {
		t.Errorf("%d valid chunks fell back to the CPU", n)
	}

	for _, m := range copytest.MalformedArrays() {
		before := gpu.fallbacks.Load()
		if err := sameOutcome(gpu, cpu, cols, m.Chunk(cols), false); err != nil {
			t.Errorf("%s: %v", m.Name, err)
		}
		if gpu.fallbacks.Load() != before+1 {
			t.Errorf("%s: the GPU did not hand the chunk to the CPU decoder", m.Name)
		}
	}

	// Arrays corrupted at random (a byte, or an int32 set to a value that matters in the
	// format): the same result or error.
	words := []uint32{0, 1, 2, 3, 4, 8, 0xffffffff, 0xfffffffe, 0x7fffffff, 0x80000000, pgtype.Int4OID, pgtype.TextOID}
	before := gpu.fallbacks.Load()
	for i := range 300 {
		c := copytest.RandomListChunk(rng, 1+rng.IntN(40), 0.1, 0.2)
		pos := listFieldPositions(c, len(cols))
		for range 1 + rng.IntN(3) {
			ci := rng.IntN(len(cols))
			at := int(pos[ci][rng.IntN(len(pos[ci]))])
			l := int(int32(binary.BigEndian.Uint32(c.Data[at:])))
			if l <= 0 {
				continue
			}
			body := c.Data[at+4 : at+4+l]
			if rng.IntN(2) == 0 || l < 4 {
				body[rng.IntN(l)] = byte(rng.Uint32())
			} else {
				binary.BigEndian.PutUint32(body[4*rng.IntN(l/4):], words[rng.IntN(len(words))])
			}
		}
		if err := sameOutcome(gpu, cpu, cols, c, false); err != nil {
			t.Errorf("mutation %d: %v", i, err)
		}
	}
	t.Logf("mutations: %d of 300 chunks fell back to the CPU", gpu.fallbacks.Load()-before)
}

// listFieldPositions is, per column, the chunk offset of each row's field length word, for
// valid chunk c of ncols columns.
func listFieldPositions(c *pgcopy.Chunk, ncols int) [][]int32 {
	pos := make([][]int32, ncols)
	for _, s := range c.RowStarts {
		p := int(s) + 2
		for ci := range ncols {
			pos[ci] = append(pos[ci], int32(p))
			l := int(int32(binary.BigEndian.Uint32(c.Data[p:])))
			p += 4 + max(l, 0)
		}
	}
	return pos
}

// TestGPUListThroughput times the decode of chunks shaped like a table with tags text[] and
// vals int[] (and an int8 key): the CPU decoder, the GPU decoder with the lists decoded on the
// GPU, and the GPU decoder leaving them to the CPU ($PGPARQUET_GPU_LISTS=off), one goroutine
// each; wall time and process CPU time per chunk.
func TestGPUListThroughput(t *testing.T) {
	lib := cudaLib(t)
	text := &pgarrow.TypeDesc{OID: pgtype.TextOID, Typmod: -1, SendOID: pgtype.TextOID}
	int4 := &pgarrow.TypeDesc{OID: pgtype.Int4OID, Typmod: -1, SendOID: pgtype.Int4OID}
	cols := []pgarrow.Column{
		pgarrow.PlanColumn("id", pgtype.Int8OID, -1, "bigint"),
		pgarrow.PlanType("tags", &pgarrow.TypeDesc{OID: 1009, Class: pgarrow.ClassArray, Dims: 1, Elem: text}, "text[]", pgarrow.PlanOptions{}),
		pgarrow.PlanType("vals", &pgarrow.TypeDesc{OID: 1007, Class: pgarrow.ClassArray, Dims: 1, Elem: int4}, "integer[]", pgarrow.PlanOptions{}),
	}
	rng := rand.New(rand.NewPCG(3, 4))
	const rows = 200000
	tuples := make([][]byte, rows)
	for r := range tuples {
		tags := make([][]byte, rng.IntN(6))
		for k := range tags {
			tags[k] = fmt.Appendf(nil, "tag-%d", rng.IntN(1000))
		}
		vals := make([][]byte, rng.IntN(11))
		for k := range vals {
			if rng.IntN(20) != 0 {
				vals[k] = copytest.Int32(rng.Int32N(100000))
			}
		}
		tuples[r] = copytest.Tuple(copytest.Int64(int64(r)),
			copytest.Array(pgtype.TextOID, []int32{int32(len(tags))}, []int32{1}, tags...),
			copytest.Array(pgtype.Int4OID, []int32{int32(len(vals))}, []int32{1}, vals...))
	}
	timeDecoders(t, lib, cols, tuples, listsEnv, "lists")
}

// timeDecoders times the decode of one chunk of tuples (cols), in pinned memory, by the CPU
// decoder, the GPU decoder, and the GPU decoder with env set to "off" (what leaves what, the
// GPU decodes of what, to the CPU), one goroutine each, for 2 s each: wall time and process
// CPU time per chunk, and the GPU's kernels alone. Both GPU decoders must give the CPU's
// arrays without falling back.
func timeDecoders(t *testing.T, lib *library, cols []pgarrow.Column, tuples [][]byte, env, what string) {
	data, starts := copytest.RowStarts(tuples...)
	pinnedMem := newPinnedAllocator(lib, nil)
	defer pinnedMem.freeAll()
	recv, ok := pinnedMem.tryAllocate(len(data))
	if !ok {
		t.Fatal("no pinned memory")
	}
	c := &pgcopy.Chunk{Data: append(recv[:0], data...), RowStarts: starts, Source: what}
	cpu := gpuparse.NewCPUDecoder(cols, memory.DefaultAllocator)
	open := func(setting string) *gpuDecoder {
		t.Setenv(env, setting)
		g, err := lib.newDecoder(cols, gpuparse.NewCPUDecoder(cols, memory.DefaultAllocator), pinnedMem)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		return g
	}
	onGPU, onCPU := open(""), open("off")
	cpuTime := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for _, m := range []struct {
		name string
		dec  gpuparse.Decoder
	}{{"CPU decoder", cpu}, {"GPU decoder, " + what + " on the GPU", onGPU}, {"GPU decoder, " + what + " on the CPU", onCPU}} {
		n := 0
		start, cpu0 := time.Now(), cpuTime()
		for time.Since(start) < 2*time.Second {
			rec, err := m.dec.Decode(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			rec.Release()
			n++
		}
		wall, used := time.Since(start), cpuTime()-cpu0
		t.Logf("%-32s %7.2f ms wall, %7.2f ms CPU per chunk of %d rows (%.1f MB), %.2f GB/s", m.name,
			float64(wall.Microseconds())/1e3/float64(n), float64(used.Microseconds())/1e3/float64(n), len(tuples),
			float64(len(data))/1e6, float64(len(data))*float64(n)/wall.Seconds()/1e9)
	}
	secs, err := onGPU.kernelSeconds(c, 20)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("GPU kernels only (%s on the GPU): %.3f ms per chunk", what, secs*1e3)
	if onGPU.fallbacks.Load() != 0 || onCPU.fallbacks.Load() != 0 {
		t.Errorf("fallbacks: %d and %d", onGPU.fallbacks.Load(), onCPU.fallbacks.Load())
	}
	if err := sameOutcome(onGPU, cpu, cols, c, true); err != nil {
		t.Error(err)
	}
}
