package gpuparse

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgparquet/pgparquet/internal/copytest"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// fuzzColumns is the fixed column list FuzzCPUDecode decodes with: one of
// each decoding family.
func fuzzColumns() []pgarrow.Column {
	return []pgarrow.Column{
		pgarrow.PlanColumn("i4", pgtype.Int4OID, -1, "integer"),
		pgarrow.PlanColumn("s", pgtype.TextOID, -1, "text"),
		copytest.NumericColumn("n12", 12, 2),
		pgarrow.PlanColumn("n", pgtype.NumericOID, -1, "numeric"),
		pgarrow.PlanColumn("b", pgtype.BoolOID, -1, "boolean"),
		pgarrow.PlanColumn("f8", pgtype.Float8OID, -1, "double precision"),
		pgarrow.PlanColumn("d", pgtype.DateOID, -1, "date"),
		pgarrow.PlanColumn("ts", pgtype.TimestamptzOID, -1, "timestamp with time zone"),
		pgarrow.PlanColumn("u", pgtype.UUIDOID, -1, "uuid"),
		pgarrow.PlanColumn("jb", pgtype.JSONBOID, -1, "jsonb"),
		copytest.NumericColumn("n50", 50, 10),
		pgarrow.PlanColumn("by", pgtype.ByteaOID, -1, "bytea"),
	}
}

// fuzzTuple is a valid tuple for fuzzColumns, varied by i.
func fuzzTuple(i int) []byte {
	s := copytest.Itoa(int32(i))
	return copytest.Tuple(copytest.Int32(int32(i)), copytest.Text("t"+s), copytest.Numeric(s+".25"), copytest.Numeric("-"+s+".500"), copytest.Bool(i%2 == 1),
		copytest.Float64Bits(uint64(i)<<52), copytest.Int32(int32(i)), copytest.Int64(int64(i)), make([]byte, 16), copytest.JSONB(`{"k":`+s+`}`),
		copytest.Numeric(s+"12345678901234567890.0123456789"), []byte{byte(i)})
}

// countTuples is an independent walker: the number of tuples in data if it
// is a valid framing of ncols-field tuples, else ok = false.
func countTuples(data []byte, ncols int) (n int, starts []uint32, ok bool) {
	for p := 0; p < len(data); n++ {
		starts = append(starts, uint32(p))
		if len(data)-p < 2 || int(int16(binary.BigEndian.Uint16(data[p:]))) != ncols {
			return 0, nil, false
		}
		p += 2
		for range ncols {
			if len(data)-p < 4 {
				return 0, nil, false
			}
			l := int64(int32(binary.BigEndian.Uint32(data[p:])))
			p += 4
			if l == -1 {
				continue
			}
			if l < 0 || l > int64(len(data)-p) {
				return 0, nil, false
			}
			p += int(l)
		}
	}
	return n, starts, true
}

// fuzzSeeds are the inputs the committed seed corpus was written from.
func fuzzSeeds() map[string][]byte {
	cat := func(bs ...[]byte) (out []byte) {
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	nulls := copytest.Tuple(nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil)
	numText := func(n []byte) []byte { // a tuple with only the unconstrained numeric set
		return copytest.Tuple(nil, nil, nil, n, nil, nil, nil, nil, nil, nil, nil, nil)
	}
	t1 := fuzzTuple(1)
	return map[string][]byte{
		"empty":            {},
		"one_row":          t1,
		"three_rows":       cat(fuzzTuple(0), fuzzTuple(7), fuzzTuple(12345)),
		"all_null":         nulls,
		"nulls_and_rows":   cat(t1, nulls, fuzzTuple(2)),
		"specials":         copytest.Tuple(copytest.Int32(-1), copytest.Text(""), copytest.Numeric("0"), copytest.Numeric("NaN"), copytest.Bool(false), copytest.Float64Bits(0x7ff8000000000001), copytest.Int32(0x7fffffff), copytest.Int64(-1<<63), make([]byte, 16), copytest.JSONB(""), copytest.Numeric("-0.0000000001"), []byte{}),
		"truncated":        t1[:len(t1)-3],
		"trailer":          cat(t1, []byte{0xff, 0xff}),
		"bad_count":        cat(t1, []byte{0, 11}),
		"bad_numeric":      copytest.Tuple(copytest.Int32(1), copytest.Text("x"), copytest.NumericRaw(1, 0, 0xC000, 0, 1), copytest.NumericRaw(2, 30000, 0x4000, 100, 1, 10000), nil, nil, nil, nil, nil, nil, nil, nil),
		"decimal_overflow": copytest.Tuple(nil, nil, copytest.Numeric("123456789012.5"), nil, nil, nil, nil, nil, nil, nil, copytest.Numeric("1.00000000001"), nil),
		"bad_jsonb":        copytest.Tuple(nil, nil, nil, nil, nil, nil, nil, nil, nil, []byte{2, '{', '}'}, nil, nil),
		"bad_fixed_len":    copytest.Tuple(copytest.Int32(1), nil, nil, nil, []byte{1, 1}, nil, nil, nil, nil, nil, nil, nil),
		"date_overflow":    copytest.Tuple(nil, nil, nil, nil, nil, nil, copytest.Int32(0x7fffff00), copytest.Int64(0x7fffffffffffff00), nil, nil, nil, nil),
		"numeric_text": cat(numText(copytest.NumericRaw(3, -2, 0x4000, 13, 1, 2, 3)), numText(copytest.NumericRaw(2, 3, 0, 6, 12, 0)),
			numText(copytest.NumericRaw(3, 0, 0, 2, 7, 2345, 6789)), numText(copytest.NumericRaw(1, 0, 0, 0x3FFF, 5)), numText(copytest.NumericRaw(0, 0, 0x4000, 3))),
		"numeric_text_bad_digit": cat(numText(copytest.NumericRaw(2, 0, 0, 4, 1, 2)), numText(copytest.NumericRaw(3, 0, 0, 2, 1, 2345, 10000))),
	}
}

// TestWriteFuzzSeeds rewrites the seed_* files of testdata/fuzz from
// fuzzSeeds (and the other targets' seeds) when GPUPARSE_WRITE_SEEDS=1; otherwise it checks
// that the committed seeds exist.
func TestWriteFuzzSeeds(t *testing.T) {
	copytest.WriteFuzzSeeds(t, map[string]map[string][]byte{"FuzzCPUDecode": fuzzSeeds(), "FuzzCPUDecodeTree": treeFuzzSeeds(), "FuzzDecodeFields": fieldsFuzzSeeds(), "FuzzFlatList": flatListFuzzSeeds()})
}

// FuzzCPUDecode feeds arbitrary bytes as a Chunk for a fixed multi-type
// column list. The decoder must not panic or leak, must report failures as
// *DecodeError within the input, and on success must return exactly as many
// rows as an independent walker counts (and must succeed with the walker's
// row starts too).
func FuzzCPUDecode(f *testing.F) {
	for _, data := range fuzzSeeds() {
		f.Add(data)
	}
	cols := fuzzColumns()
	f.Fuzz(func(t *testing.T, data []byte) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		dec := NewCPUDecoder(cols, mem)
		n, starts, walkOK := countTuples(data, len(cols))
		runs := [][]uint32{nil}
		if walkOK && n > 0 {
			runs = append(runs, starts)
		}
		for _, rs := range runs {
			rec, err := dec.Decode(context.Background(), &pgcopy.Chunk{Data: data, RowStarts: rs, StreamOffset: 19, FirstRow: 1, Source: "fuzz"})
			if err != nil {
				var de *pgcopy.DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("error %T %v, want *DecodeError", err, err)
				}
				if de.Offset < 19 || de.Offset > 19+int64(len(data)) || de.Source != "fuzz" || de.Msg == "" {
					t.Fatalf("bad error position: %+v", *de)
				}
				continue
			}
			if !walkOK {
				rec.Release()
				t.Fatalf("decoder accepted input the walker rejects")
			}
			if rec.NumRows() != int64(n) {
				t.Fatalf("got %d rows, walker counts %d", rec.NumRows(), n)
			}
			for i := range cols {
				if rec.Column(i).Len() != n {
					t.Fatalf("column %d has %d values, want %d", i, rec.Column(i).Len(), n)
				}
			}
			rec.Release()
		}
	})
}
