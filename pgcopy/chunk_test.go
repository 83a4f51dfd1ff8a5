package pgcopy

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
)

// frame lays tuples out as a Framed chunk holds them: each behind a CopyData header.
func frame(tuples ...[]byte) (data []byte, starts []uint32) {
	for _, tp := range tuples {
		data = binary.BigEndian.AppendUint32(append(data, 'd'), uint32(4+len(tp)))
		starts = append(starts, uint32(len(data)))
		data = append(data, tp...)
	}
	return data, starts
}

func TestCompact(t *testing.T) {
	tuples := [][]byte{{0, 1, 0, 0, 0, 1, 'a'}, {0, 1, 0xff, 0xff, 0xff, 0xff}, {0, 1, 0, 0, 0, 3, 'x', 'y', 'z'}}
	data, starts := frame(tuples...)
	for _, tc := range []struct {
		name   string
		data   []byte
		starts []uint32
		want   [][]byte // nil: an error
	}{
		{"three tuples", data, starts, tuples},
		{"one tuple", data[:starts[1]-5], starts[:1], tuples[:1]},
		{"no rows", nil, nil, [][]byte{}},
		{"bytes without starts", data, nil, nil},
		{"start inside the first header", data, []uint32{3, starts[1], starts[2]}, nil},
		{"starts out of order", data, []uint32{starts[1], starts[0], starts[2]}, nil},
		{"starts too close", data, []uint32{starts[0], starts[0] + 2, starts[2]}, nil},
		{"start past the data", data, []uint32{starts[0], starts[1], uint32(len(data)) + 1}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Chunk{Data: tc.data, RowStarts: tc.starts, Framed: true, Source: "s", StreamOffset: 19, FirstRow: 7}
			got, err := c.Compact()
			if tc.want == nil {
				var de *DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("Compact: %v, want a *DecodeError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantData := bytes.Join(tc.want, nil)
			var wantStarts []uint32
			at := 0
			for _, tp := range tc.want {
				wantStarts = append(wantStarts, uint32(at))
				at += len(tp)
			}
			if got.Framed || !bytes.Equal(got.Data, wantData) || !slices.Equal(got.RowStarts, wantStarts) ||
				got.Source != "s" || got.StreamOffset != 19 || got.FirstRow != 7 {
				t.Errorf("Compact: %+v, want data %v starts %v", got, wantData, wantStarts)
			}
			if !c.Framed || !bytes.Equal(c.Data, tc.data) {
				t.Errorf("Compact changed its chunk")
			}
		})
	}
	plain := &Chunk{Data: []byte{1, 2}, RowStarts: []uint32{0}}
	if got, err := plain.Compact(); err != nil || got != plain {
		t.Errorf("Compact of a chunk that is not framed: %v, %v", got, err)
	}
}
