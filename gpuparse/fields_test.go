package gpuparse

import (
	"context"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// fieldPositions walks a well-formed chunk and returns, per column, the chunk offset of each
// row's field length word: what the CUDA decoder hands decodeFields.
func fieldPositions(c *Chunk, ncols int) [][]int32 {
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
// decoding such a column from its field positions gives Decode's column bit for bit.
func TestDecodeFieldsMatchesDecode(t *testing.T) {
	cols := gpuTestColumns()
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	dec := NewCPUDecoder(cols, mem)
	rng := rand.New(rand.NewPCG(3, 4))
	cpuCols := 0
	for _, rows := range []int{0, 1, 33, 2000} {
		c := randomChunk(rng, rows)
		want, err := dec.Decode(context.Background(), c)
		if err != nil {
			t.Fatalf("rows=%d: %v", rows, err)
		}
		pos := fieldPositions(c, len(cols))
		for ci, col := range cols {
			if gpuKinds[col.Kind] {
				continue
			}
			cpuCols++
			got, err := dec.decodeFields(c, ci, pos[ci][:rows:rows])
			if err != nil {
				t.Fatalf("rows=%d column %s: %v", rows, col.Name, err)
			}
			if err := sameArrays(want.Column(ci), got); err != nil {
				t.Errorf("rows=%d column %s (%s): %v", rows, col.Name, col.Kind, err)
			}
			got.Release()
		}
		want.Release()
	}
	if cpuCols == 0 {
		t.Fatal("gpuTestColumns has no column without a GPU kernel")
	}
}

// TestDecodeFieldsErrors: bad positions and bad values give Decode's error where the column
// holds the chunk's only error, and a plain *DecodeError for positions no walk would give.
func TestDecodeFieldsErrors(t *testing.T) {
	iv := PlanColumn("iv", oidInterval, -1, "interval")
	num := PlanColumn("n", oidNumeric, -1, "numeric")
	cols := []Column{iv, num}
	dec := NewCPUDecoder(cols, memory.DefaultAllocator)
	good := tuple(wInterval(1, 2, 3), wNumeric("1.5"))
	badDigit := tuple(wInterval(1, 2, 3), wNumericRaw(1, 0, 0, 0, 10000))
	shortInterval := tuple(wInterval(1, 2, 3)[:12], wNumeric("2"))
	for _, tc := range []struct {
		name   string
		tuples [][]byte
		col    int
	}{
		{"numeric digit", [][]byte{good, badDigit}, 1},
		{"interval length", [][]byte{good, shortInterval}, 0},
	} {
		data, starts := rowStarts(tc.tuples...)
		c := &Chunk{Data: data, RowStarts: starts, Source: tc.name, StreamOffset: 100, FirstRow: 7}
		_, want := dec.Decode(context.Background(), c)
		_, got := dec.decodeFields(c, tc.col, fieldPositions(c, len(cols))[tc.col])
		var de *DecodeError
		if want == nil || got == nil || !errors.As(got, &de) || want.Error() != got.Error() {
			t.Errorf("%s: Decode error %v, decodeFields error %v", tc.name, want, got)
		}
	}
	data, _ := rowStarts(good)
	c := &Chunk{Data: data, Source: "positions"}
	for _, p := range []int32{-1, int32(len(data)) - 2, 0} {
		_, err := dec.decodeFields(c, 0, []int32{p})
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Errorf("position %d: error %v, want a *DecodeError", p, err)
		}
	}
}
