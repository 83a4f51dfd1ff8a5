package gpuparse

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgparquet/pgparquet/internal/copytest"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// genericDecoder is NewCPUDecoder without the fast list path: every list column goes through
// tree.go's builders, the reference the fast path must match.
func genericDecoder(cols []pgarrow.Column, mem memory.Allocator) *CPUDecoder {
	d := NewCPUDecoder(cols, mem)
	for i := range d.plans {
		d.plans[i].list = nil
	}
	return d
}

// sameOutcome says whether two decodes of the same input agree: the same error, or the same
// arrays bit for bit.
func sameOutcome(a []arrow.Array, aerr error, b []arrow.Array, berr error) error {
	if aerr != nil || berr != nil {
		var ad, bd *pgcopy.DecodeError
		if errors.As(aerr, &ad) && errors.As(berr, &bd) && reflect.DeepEqual(*ad, *bd) {
			return nil
		}
		if aerr != nil && berr != nil && !errors.As(aerr, &ad) && !errors.As(berr, &bd) && aerr.Error() == berr.Error() {
			return nil
		}
		return fmt.Errorf("errors differ:\n  %v\n  %v", aerr, berr)
	}
	if len(a) != len(b) {
		return fmt.Errorf("%d columns vs %d", len(a), len(b))
	}
	for i := range a {
		if err := copytest.SameData(a[i].Data(), b[i].Data()); err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return nil
}

func releaseAll(arrs []arrow.Array) {
	for _, a := range arrs {
		if a != nil {
			a.Release()
		}
	}
}

// decodeColumns runs Decode and returns its columns.
func decodeColumns(dec *CPUDecoder, c *pgcopy.Chunk) ([]arrow.Array, error) {
	rec, err := dec.Decode(context.Background(), c)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	arrs := rec.Columns()
	for _, a := range arrs {
		a.Retain()
	}
	return arrs, nil
}

// listColumns and randomListChunk are copytest's, which the GPU tests share: one-dimensional
// array columns of every element type of the fast list path (and two it leaves to the tree
// path), then a two-dimensional int4 array and an array of a type without native decoding
// (exported as text[]); rows of them with valid random values.
func listColumns() []pgarrow.Column { return copytest.ListColumns() }

func randomListChunk(rng *rand.Rand, rows int, nullArr, nullElem float64) *pgcopy.Chunk {
	return copytest.RandomListChunk(rng, rows, nullArr, nullElem)
}

// checkListPaths decodes c with the fast and the tree path, by Decode and by DecodeColumnsAt,
// and reports any difference in output or error.
func checkListPaths(t *testing.T, cols []pgarrow.Column, c *pgcopy.Chunk) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	fast, tree := NewCPUDecoder(cols, mem), genericDecoder(cols, mem)
	want, werr := decodeColumns(tree, c)
	defer releaseAll(want)
	got, gerr := decodeColumns(fast, c)
	defer releaseAll(got)
	if err := sameOutcome(got, gerr, want, werr); err != nil {
		t.Fatalf("Decode: fast and tree paths differ: %v", err)
	}
	n, _, ok := countTuples(c.Data, len(cols))
	if !ok {
		return
	}
	pos := fieldPositions(c, len(cols))
	all := make([]int, len(cols))
	for i := range all {
		all[i] = i
		pos[i] = pos[i][:n:n]
	}
	fgot, fgerr := fast.DecodeColumnsAt(c, all, pos)
	defer releaseAll(fgot)
	fwant, fwerr := tree.DecodeColumnsAt(c, all, pos)
	defer releaseAll(fwant)
	if err := sameOutcome(fgot, fgerr, fwant, fwerr); err != nil {
		t.Fatalf("DecodeColumnsAt: fast and tree paths differ: %v", err)
	}
	if werr == nil && fgerr == nil {
		if err := sameOutcome(fgot, nil, want, nil); err != nil {
			t.Fatalf("DecodeColumnsAt and Decode differ: %v", err)
		}
	}
}

// TestFlatListMatchesTree: the fast list path decodes random arrays of every element type it
// serves exactly as the tree path does, at NULL rates from 0 to 1, through Decode and
// DecodeColumnsAt.
func TestFlatListMatchesTree(t *testing.T) {
	cols := listColumns()
	for i, p := range NewCPUDecoder(cols, nil).plans {
		tree := cols[i].Dims != 1 || cols[i].Children[0].Kind == pgarrow.KindInterval || cols[i].Children[0].Kind == pgarrow.KindUUID
		if (p.list == nil) != tree {
			t.Errorf("column %s (%s): fast path %v", cols[i].Name, cols[i].Children[0].Kind, p.list != nil)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, rows := range []int{0, 1, 2, 9, 300} {
		for _, rates := range [][2]float64{{0, 0}, {0.3, 0.2}, {1, 0}, {0, 1}, {rng.Float64(), rng.Float64()}} {
			t.Run(fmt.Sprintf("rows=%d/null=%v", rows, rates), func(t *testing.T) {
				checkListPaths(t, cols, randomListChunk(rng, rows, rates[0], rates[1]))
			})
		}
	}
}

// poisonAllocator hands out memory filled with 0xa5, as an allocator that reuses memory
// without zeroing it (the GPU decoder's pinned one) may.
type poisonAllocator struct{ memory.Allocator }

func (p poisonAllocator) Allocate(size int) []byte {
	b := p.Allocator.Allocate(size)
	for i := range b {
		b[i] = 0xa5
	}
	return b
}

func (p poisonAllocator) Reallocate(size int, b []byte) []byte {
	nb := p.Allocate(size)
	copy(nb, b)
	p.Free(b)
	return nb
}

// TestFlatListPoisonedMemory: the fast path writes every byte the arrays use, NULL slots
// included, so memory that comes dirty from the allocator gives the same arrays as Go's zeroed
// memory.
func TestFlatListPoisonedMemory(t *testing.T) {
	cols := listColumns()
	rng := rand.New(rand.NewPCG(9, 10))
	c := randomListChunk(rng, 200, 0.2, 0.3)
	mem := memory.NewCheckedAllocator(poisonAllocator{memory.NewGoAllocator()})
	defer mem.AssertSize(t, 0)
	dirty := NewCPUDecoder(cols, mem)
	got, err := decodeColumns(dirty, c)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseAll(got)
	want, err := decodeColumns(NewCPUDecoder(cols, memory.NewGoAllocator()), c)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseAll(want)
	for i, p := range dirty.plans {
		if p.list == nil {
			continue
		}
		if err := copytest.SameData(got[i].Data(), want[i].Data()); err != nil {
			t.Errorf("column %s (%s): %v", cols[i].Name, cols[i].Children[0].Kind, err)
		}
	}
}

// TestFlatListErrors: malformed arrays (copytest.MalformedArrays) give the tree path's error,
// in their row and column, through Decode and DecodeColumnsAt.
func TestFlatListErrors(t *testing.T) {
	cols := listColumns()
	for _, m := range copytest.MalformedArrays() {
		t.Run(m.Name, func(t *testing.T) {
			c := m.Chunk(cols)
			_, err := NewCPUDecoder(cols, nil).Decode(context.Background(), c)
			var de *pgcopy.DecodeError
			if !errors.As(err, &de) || de.Row != 4 || de.Column != m.Col {
				t.Errorf("got %v, want an error in row 4, column %s", err, m.Col)
			}
			checkListPaths(t, cols, c)
		})
	}
}

// TestFlatListMutations: arrays corrupted at random (a byte, or an int32 set to a value that
// matters in the format) decode as the tree path decodes them, error or not.
func TestFlatListMutations(t *testing.T) {
	cols := listColumns()
	rng := rand.New(rand.NewPCG(7, 8))
	words := []uint32{0, 1, 2, 3, 4, 8, 0xffffffff, 0xfffffffe, 0x7fffffff, 0x80000000, pgtype.Int4OID, pgtype.TextOID}
	for i := range 300 {
		c := randomListChunk(rng, 1+rng.IntN(4), 0.1, 0.2)
		pos := fieldPositions(c, len(cols))
		data := c.Data
		for range 1 + rng.IntN(3) {
			ci := rng.IntN(len(cols))
			at := int(pos[ci][rng.IntN(len(pos[ci]))])
			l := int(int32(binary.BigEndian.Uint32(data[at:])))
			if l <= 0 {
				continue
			}
			body := data[at+4 : at+4+l]
			if rng.IntN(2) == 0 || l < 4 {
				body[rng.IntN(l)] = byte(rng.Uint32())
			} else {
				binary.BigEndian.PutUint32(body[4*rng.IntN(l/4):], words[rng.IntN(len(words))])
			}
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkListPaths(t, cols, c) })
	}
}

// flatListFuzzColumns are the columns FuzzFlatList decodes: the common array types.
func flatListFuzzColumns() []pgarrow.Column {
	all := listColumns()
	return []pgarrow.Column{all[2], all[15], all[0], all[9], all[10], all[17]} // int4, text, bool, date, timestamp, bytea
}

// flatListFuzzSeeds are the committed seeds of FuzzFlatList.
func flatListFuzzSeeds() map[string][]byte {
	one := []int32{1}
	row := func(i int32) []byte {
		return copytest.Tuple(
			copytest.Array(pgtype.Int4OID, []int32{3}, one, copytest.Int32(i), nil, copytest.Int32(-i)),
			copytest.Array(pgtype.TextOID, []int32{2}, one, copytest.Text("a7"), copytest.Text("")),
			copytest.Array(pgtype.BoolOID, []int32{2}, one, copytest.Bool(true), nil),
			copytest.Array(pgtype.DateOID, one, one, copytest.Int32(math.MaxInt32)),
			copytest.Array(pgtype.TimestampOID, one, one, copytest.Int64(int64(i))),
			copytest.Array(pgtype.ByteaOID, one, one, []byte{0, 1}),
		)
	}
	empty := copytest.Tuple(copytest.Array(pgtype.Int4OID, nil, nil), copytest.Array(pgtype.TextOID, []int32{0}, one), nil, nil, nil, nil)
	bad := copytest.Tuple(copytest.Array(pgtype.Int4OID, []int32{1}, []int32{0}, copytest.Int32(1)), nil, nil, nil, nil, nil)
	return map[string][]byte{
		"list_rows":        append(row(1), row(2)...),
		"list_empty_nulls": append(empty, copytest.Tuple(nil, nil, nil, nil, nil, nil)...),
		"list_lower_bound": bad,
		"list_truncated":   row(3)[:50],
	}
}

// FuzzFlatList decodes arbitrary chunks of one-dimensional arrays with the fast and the tree
// path, which must agree: the same error, or the same arrays bit for bit.
func FuzzFlatList(f *testing.F) {
	for _, data := range flatListFuzzSeeds() {
		f.Add(data)
	}
	cols := flatListFuzzColumns()
	f.Fuzz(func(t *testing.T, data []byte) {
		checkListPaths(t, cols, &pgcopy.Chunk{Data: data, StreamOffset: 19, Source: "fuzz"})
	})
}
