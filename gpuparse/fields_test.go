package gpuparse

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgparquet/pgparquet/internal/copytest"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// fieldPositions walks a well-formed chunk and returns, per column, the chunk offset of each
// row's field length word: what the CUDA decoder hands DecodeColumnAt.
func fieldPositions(c *pgcopy.Chunk, ncols int) [][]int32 {
	out := make([][]int32, ncols)
	for p := 0; p < len(c.Data); {
		p += fieldCountLen
		for ci := range ncols {
			out[ci] = append(out[ci], int32(p))
			l := int(int32(binary.BigEndian.Uint32(c.Data[p:])))
			p += fieldLenLen + max(l, 0)
		}
	}
	return out
}

// TestDecodeFieldsMatchesDecode is the CPU twin of the GPU path for columns without a kernel:
// decoding such a column from its field positions gives Decode's column bit for bit, alone
// (DecodeColumnAt) and with every other such column at once (DecodeColumnsAt).
func TestDecodeFieldsMatchesDecode(t *testing.T) {
	cols := copytest.RandomColumns()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	dec := NewCPUDecoder(cols, mem)
	rng := rand.New(rand.NewPCG(3, 4))
	cpuCols := 0
	for _, rows := range []int{0, 1, 33, 2000} {
		c := copytest.RandomChunk(rng, rows)
		want, err := dec.Decode(context.Background(), c)
		if err != nil {
			t.Fatalf("rows=%d: %v", rows, err)
		}
		pos := fieldPositions(c, len(cols))
		for ci, col := range cols {
			if col.Kind.Info().GPU {
				continue
			}
			cpuCols++
			got, err := dec.DecodeColumnAt(c, ci, pos[ci][:rows:rows])
			if err != nil {
				t.Fatalf("rows=%d column %s: %v", rows, col.Name, err)
			}
			if err := copytest.SameArrays(want.Column(ci), got); err != nil {
				t.Errorf("rows=%d column %s (%s): %v", rows, col.Name, col.Kind, err)
			}
			got.Release()
		}
		// Every such column at once (DecodeColumnsAt, row by row): the same columns.
		var all []int
		var starts [][]int32
		for ci, col := range cols {
			if !col.Kind.Info().GPU {
				starts = append(starts, make([]int32, rows))
				if rows > 0 {
					copy(starts[len(all)], pos[ci])
				}
				all = append(all, ci)
			}
		}
		got, err := dec.DecodeColumnsAt(c, all, starts)
		if err != nil {
			t.Fatalf("rows=%d, every column without a kernel: %v", rows, err)
		}
		for k, ci := range all {
			if err := copytest.SameArrays(want.Column(ci), got[k]); err != nil {
				t.Errorf("rows=%d column %s (%s), with the others: %v", rows, cols[ci].Name, cols[ci].Kind, err)
			}
			got[k].Release()
		}
		want.Release()
	}
	if cpuCols == 0 {
		t.Fatal("copytest.RandomColumns has no column without a GPU kernel")
	}
}

// TestDecodeFieldsErrors: bad positions and bad values give Decode's error where the column
// holds the chunk's only error, and a plain *DecodeError for positions no walk would give.
func TestDecodeFieldsErrors(t *testing.T) {
	iv := pgarrow.PlanColumn("iv", pgtype.IntervalOID, -1, "interval")
	num := pgarrow.PlanColumn("n", pgtype.NumericOID, -1, "numeric")
	cols := []pgarrow.Column{iv, num}
	dec := NewCPUDecoder(cols, memory.DefaultAllocator)
	good := copytest.Tuple(copytest.Interval(1, 2, 3), copytest.Numeric("1.5"))
	badDigit := copytest.Tuple(copytest.Interval(1, 2, 3), copytest.NumericRaw(1, 0, 0, 0, 10000))
	shortInterval := copytest.Tuple(copytest.Interval(1, 2, 3)[:12], copytest.Numeric("2"))
	for _, tc := range []struct {
		name   string
		tuples [][]byte
		col    int
	}{
		{"numeric digit", [][]byte{good, badDigit}, 1},
		{"interval length", [][]byte{good, shortInterval}, 0},
	} {
		data, starts := copytest.RowStarts(tc.tuples...)
		c := &pgcopy.Chunk{Data: data, RowStarts: starts, Source: tc.name, StreamOffset: 100, FirstRow: 7}
		_, want := dec.Decode(context.Background(), c)
		_, got := dec.DecodeColumnAt(c, tc.col, fieldPositions(c, len(cols))[tc.col])
		var de *pgcopy.DecodeError
		if want == nil || got == nil || !errors.As(got, &de) || want.Error() != got.Error() {
			t.Errorf("%s: Decode error %v, DecodeColumnAt error %v", tc.name, want, got)
		}
	}
	data, _ := copytest.RowStarts(good)
	c := &pgcopy.Chunk{Data: data, Source: "positions"}
	for _, p := range []int32{-1, int32(len(data)) - 2, 0} {
		_, err := dec.DecodeColumnAt(c, 0, []int32{p})
		var de *pgcopy.DecodeError
		if !errors.As(err, &de) {
			t.Errorf("position %d: error %v, want a *DecodeError", p, err)
		}
	}
}

// fieldsFuzzColumns are the kinds DecodeColumnAt serves: those without a GPU kernel.
func fieldsFuzzColumns() []pgarrow.Column {
	return []pgarrow.Column{
		pgarrow.PlanColumn("n", pgtype.NumericOID, -1, "numeric"),
		copytest.NumericColumn("n50", 50, 10),
		pgarrow.PlanColumn("iv", pgtype.IntervalOID, -1, "interval"),
		pgarrow.PlanType("a", &pgarrow.TypeDesc{OID: 1007, Class: pgarrow.ClassArray, Dims: 1, Elem: &pgarrow.TypeDesc{OID: pgtype.Int4OID, Typmod: -1, SendOID: pgtype.Int4OID}}, "integer[]", pgarrow.PlanOptions{}),
		pgarrow.PlanType("e", &pgarrow.TypeDesc{OID: 99998, Class: pgarrow.ClassEnum}, "mood", pgarrow.PlanOptions{}),
	}
}

// fieldsFuzzInput packs a FuzzDecodeFields input: the column, the field positions, the chunk.
func fieldsFuzzInput(col byte, positions []int32, data []byte) []byte {
	b := []byte{col}
	b = binary.BigEndian.AppendUint16(b, uint16(len(positions)))
	for _, p := range positions {
		b = binary.BigEndian.AppendUint32(b, uint32(p))
	}
	return append(b, data...)
}

// fieldsFuzzSeeds are valid and broken inputs of FuzzDecodeFields (committed as its corpus).
func fieldsFuzzSeeds() map[string][]byte {
	cols := fieldsFuzzColumns()
	data, _ := copytest.RowStarts(
		copytest.Tuple(copytest.Numeric("1.5"), copytest.Numeric("-12.25"), copytest.Interval(1, 2, 3), copytest.Array(pgtype.Int4OID, []int32{2}, []int32{1}, copytest.Int32(7), nil), copytest.Text("ok")),
		copytest.Tuple(nil, nil, nil, nil, nil),
		copytest.Tuple(copytest.Numeric("NaN"), copytest.Numeric("0"), copytest.Interval(-1, 0, 0), copytest.Array(pgtype.Int4OID, nil, nil), copytest.Text("")),
	)
	pos := fieldPositions(&pgcopy.Chunk{Data: data}, len(cols))
	out := map[string][]byte{}
	for ci := range cols {
		out["col"+copytest.Itoa(int32(ci))] = fieldsFuzzInput(byte(ci), pos[ci], data)
	}
	out["shifted"] = fieldsFuzzInput(2, []int32{pos[2][0] + 1, pos[2][1], pos[2][2]}, data)
	out["outside"] = fieldsFuzzInput(0, []int32{-5, int32(len(data)), 1 << 30}, data)
	out["no_rows"] = fieldsFuzzInput(3, nil, data)
	return out
}

// FuzzDecodeFields feeds DecodeColumnAt arbitrary chunks and field positions (what the CUDA
// decoder hands it). It must not panic or leak, must fail with a *DecodeError inside the chunk,
// on success must return one value per position, and must give what the tree path gives for
// lists (the same error, or the same array bit for bit).
func FuzzDecodeFields(f *testing.F) {
	for _, in := range fieldsFuzzSeeds() {
		f.Add(in)
	}
	cols := fieldsFuzzColumns()
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 3 {
			return
		}
		ci := int(in[0]) % len(cols)
		n := int(binary.BigEndian.Uint16(in[1:]))
		in = in[3:]
		if len(in) < 4*n {
			return
		}
		positions := make([]int32, n)
		for i := range positions {
			positions[i] = int32(binary.BigEndian.Uint32(in[4*i:]))
		}
		data := in[4*n:]
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		dec := NewCPUDecoder(cols, mem)
		c := &pgcopy.Chunk{Data: data, StreamOffset: 19, Source: "fuzz"}
		arr, err := dec.DecodeColumnAt(c, ci, positions)
		tarr, terr := genericDecoder(cols, mem).DecodeColumnAt(c, ci, positions)
		if tarr != nil {
			defer tarr.Release()
		}
		if e := sameOutcome([]arrow.Array{arr}, err, []arrow.Array{tarr}, terr); e != nil {
			if arr != nil {
				arr.Release()
			}
			t.Fatalf("fast and tree paths differ: %v", e)
		}
		if err != nil {
			var de *pgcopy.DecodeError
			if !errors.As(err, &de) || strings.Contains(err.Error(), "internal error") {
				t.Fatalf("error %T %v, want a *DecodeError", err, err)
			}
			if de.Offset < 19 || de.Offset > 19+int64(len(data)) || de.Msg == "" {
				t.Fatalf("bad error position: %+v", *de)
			}
			return
		}
		if arr.Len() != n {
			t.Fatalf("%d values for %d positions", arr.Len(), n)
		}
		arr.Release()
	})
}
