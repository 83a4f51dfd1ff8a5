package gpuparse

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgparquet/pgparquet/internal/copytest"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// decodeAll decodes data for cols and returns the rows as Go values, column
// by column. The batch is released before returning.
func decodeAll(t *testing.T, cols []pgarrow.Column, c *pgcopy.Chunk) [][]any {
	t.Helper()
	dec := NewCPUDecoder(cols, newAlloc(t))
	rec, err := dec.Decode(context.Background(), c)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	defer rec.Release()
	if !rec.Schema().Equal(pgarrow.ArrowSchema(cols)) {
		t.Fatalf("schema %v, want %v", rec.Schema(), pgarrow.ArrowSchema(cols))
	}
	out := make([][]any, rec.NumCols())
	for ci := range out {
		col := rec.Column(ci)
		if col.Len() != int(rec.NumRows()) {
			t.Fatalf("column %d has %d values, batch %d rows", ci, col.Len(), rec.NumRows())
		}
		for i := 0; i < col.Len(); i++ {
			out[ci] = append(out[ci], valueAt(col, i))
		}
	}
	return out
}

func TestDecodeKinds(t *testing.T) {
	uuid := [16]byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0, 1, 2, 3, 4, 5, 6, 0xff}
	const maxPGDate = 2145031948 // 5874897-12-31
	tests := []struct {
		name   string
		col    pgarrow.Column
		fields [][]byte // nil = NULL
		want   []any
	}{
		{"bool", pgarrow.PlanColumn("c", pgtype.BoolOID, -1, "boolean"),
			[][]byte{copytest.Bool(true), copytest.Bool(false), nil, {2}},
			[]any{true, false, nil, true}},
		{"int2", pgarrow.PlanColumn("c", pgtype.Int2OID, -1, "smallint"),
			[][]byte{copytest.Int16(math.MinInt16), copytest.Int16(math.MaxInt16), copytest.Int16(0), copytest.Int16(-1), nil},
			[]any{int16(math.MinInt16), int16(math.MaxInt16), int16(0), int16(-1), nil}},
		{"int4", pgarrow.PlanColumn("c", pgtype.Int4OID, -1, "integer"),
			[][]byte{copytest.Int32(math.MinInt32), copytest.Int32(math.MaxInt32), nil, copytest.Int32(42)},
			[]any{int32(math.MinInt32), int32(math.MaxInt32), nil, int32(42)}},
		{"int8", pgarrow.PlanColumn("c", pgtype.Int8OID, -1, "bigint"),
			[][]byte{copytest.Int64(math.MinInt64), copytest.Int64(math.MaxInt64), nil, copytest.Int64(-7)},
			[]any{int64(math.MinInt64), int64(math.MaxInt64), nil, int64(-7)}},
		{"float4 bits", pgarrow.PlanColumn("c", pgtype.Float4OID, -1, "real"),
			[][]byte{copytest.Float32Bits(0x7fc00001), copytest.Float32Bits(0x7f800001), copytest.Float32Bits(0xffc12345), copytest.Float32Bits(0x80000000), copytest.Float32Bits(0x7f800000), copytest.Float32Bits(0xff800000), copytest.Float32Bits(1), copytest.Float32Bits(0x007fffff), copytest.Float32Bits(0x7f7fffff), nil},
			[]any{uint32(0x7fc00001), uint32(0x7f800001), uint32(0xffc12345), uint32(0x80000000), uint32(0x7f800000), uint32(0xff800000), uint32(1), uint32(0x007fffff), uint32(0x7f7fffff), nil}},
		{"float8 bits", pgarrow.PlanColumn("c", pgtype.Float8OID, -1, "double precision"),
			[][]byte{copytest.Float64Bits(0x7ff8000000000001), copytest.Float64Bits(0x7ff0000000000001), copytest.Float64Bits(0x8000000000000000), copytest.Float64Bits(0x7ff0000000000000), copytest.Float64Bits(0xfff0000000000000), copytest.Float64Bits(1), copytest.Float64Bits(math.Float64bits(math.Pi)), nil},
			[]any{uint64(0x7ff8000000000001), uint64(0x7ff0000000000001), uint64(0x8000000000000000), uint64(0x7ff0000000000000), uint64(0xfff0000000000000), uint64(1), math.Float64bits(math.Pi), nil}},
		{"text", pgarrow.PlanColumn("c", pgtype.TextOID, -1, "text"),
			[][]byte{copytest.Text(""), copytest.Text("abc"), nil, copytest.Text("héllo ✓"), copytest.Text("nul\x00byte"), copytest.Text("")},
			[]any{"", "abc", nil, "héllo ✓", "nul\x00byte", ""}},
		{"bpchar keeps padding", pgarrow.PlanColumn("c", pgtype.BPCharOID, 19, "character(15)"),
			[][]byte{copytest.Text("1-URGENT       "), nil, copytest.Text("               ")},
			[]any{"1-URGENT       ", nil, "               "}},
		{"varchar", pgarrow.PlanColumn("c", pgtype.VarcharOID, 14, "character varying(10)"),
			[][]byte{copytest.Text("AIR"), copytest.Text("")},
			[]any{"AIR", ""}},
		{"name", pgarrow.PlanColumn("c", pgtype.NameOID, -1, "name"),
			[][]byte{copytest.Text("pg_class")},
			[]any{"pg_class"}},
		{"cast text", pgarrow.PlanColumn("c", 869, -1, "inet"),
			[][]byte{copytest.Text("1 day 02:00:00"), nil},
			[]any{"1 day 02:00:00", nil}},
		{"bytea", pgarrow.PlanColumn("c", pgtype.ByteaOID, -1, "bytea"),
			[][]byte{{}, {0, 1, 0xff}, nil},
			[]any{[]byte{}, []byte{0, 1, 0xff}, nil}},
		{"uuid", pgarrow.PlanColumn("c", pgtype.UUIDOID, -1, "uuid"),
			[][]byte{uuid[:], nil, make([]byte, 16)},
			[]any{uuid, nil, [16]byte{}}},
		{"json", pgarrow.PlanColumn("c", pgtype.JSONOID, -1, "json"),
			[][]byte{copytest.Text(`{"a": [1, 2]}`), nil, copytest.Text(`""`)},
			[]any{`{"a": [1, 2]}`, nil, `""`}},
		{"jsonb", pgarrow.PlanColumn("c", pgtype.JSONBOID, -1, "jsonb"),
			[][]byte{copytest.JSONB(`{"a": [1, 2]}`), nil, copytest.JSONB(``), copytest.JSONB(`null`)},
			[]any{`{"a": [1, 2]}`, nil, ``, `null`}},
		{"date", pgarrow.PlanColumn("c", pgtype.DateOID, -1, "date"),
			[][]byte{copytest.Int32(0), copytest.Int32(-10957), copytest.Int32(math.MaxInt32), copytest.Int32(math.MinInt32), copytest.Int32(maxPGDate), copytest.Int32(-2451545), copytest.Int32(math.MinInt32 + 1), copytest.Int32(math.MaxInt32 - 10958), nil},
			[]any{int32(10957), int32(0), int32(math.MaxInt32), int32(math.MinInt32), int32(maxPGDate + 10957), int32(-2451545 + 10957), int32(math.MinInt32 + 1 + 10957), int32(math.MaxInt32 - 1), nil}},
		{"timestamp", pgarrow.PlanColumn("c", pgtype.TimestampOID, -1, "timestamp without time zone"),
			[][]byte{copytest.Int64(0), copytest.Int64(-946684800000000), copytest.Int64(math.MaxInt64), copytest.Int64(math.MinInt64), copytest.Int64(math.MaxInt64 - 946684800000000 - 1), copytest.Int64(math.MinInt64 + 1), nil},
			[]any{int64(946684800000000), int64(0), int64(math.MaxInt64), int64(math.MinInt64), int64(math.MaxInt64 - 1), int64(math.MinInt64 + 1 + 946684800000000), nil}},
		{"timestamptz", pgarrow.PlanColumn("c", pgtype.TimestamptzOID, -1, "timestamp with time zone"),
			[][]byte{copytest.Int64(1), copytest.Int64(math.MaxInt64), copytest.Int64(math.MinInt64), nil},
			[]any{int64(946684800000001), int64(math.MaxInt64), int64(math.MinInt64), nil}},
		{"numeric(12,2)", copytest.NumericColumn("c", 12, 2),
			[][]byte{copytest.Numeric("0"), copytest.Numeric("0.00"), copytest.Numeric("1.5"), copytest.Numeric("-1.50"), copytest.Numeric("9999999999.99"), copytest.Numeric("-9999999999.99"), copytest.Numeric("0.01"), copytest.Numeric("12345.6"), copytest.Numeric("10000"), copytest.Numeric("-0.10"), nil},
			[]any{"0", "0", "150", "-150", "999999999999", "-999999999999", "1", "1234560", "1000000", "-10", nil}},
		{"numeric(1,0)", copytest.NumericColumn("c", 1, 0),
			[][]byte{copytest.Numeric("9"), copytest.Numeric("-9"), copytest.Numeric("0")},
			[]any{"9", "-9", "0"}},
		{"numeric(5,5)", copytest.NumericColumn("c", 5, 5),
			[][]byte{copytest.Numeric("0.12345"), copytest.Numeric("-0.00001"), copytest.Numeric("0.99999")},
			[]any{"12345", "-1", "99999"}},
		{"numeric(20,4) negative weight", copytest.NumericColumn("c", 20, 4),
			[][]byte{copytest.Numeric("0.0001"), copytest.Numeric("0.0010"), copytest.Numeric("-0.1"), copytest.Numeric("1234567890123456.7890")},
			[]any{"1", "10", "-1000", "12345678901234567890"}},
		{"numeric(18,0) int64 edge", copytest.NumericColumn("c", 18, 0),
			[][]byte{copytest.Numeric("999999999999999999"), copytest.Numeric("-999999999999999999"), copytest.Numeric("100000000000000000")},
			[]any{"999999999999999999", "-999999999999999999", "100000000000000000"}},
		{"numeric(38,0) wide", copytest.NumericColumn("c", 38, 0),
			[][]byte{copytest.Numeric(strings.Repeat("9", 38)), copytest.Numeric("-" + strings.Repeat("9", 38)), copytest.Numeric("1" + strings.Repeat("0", 37)), copytest.Numeric("18446744073709551616")},
			[]any{strings.Repeat("9", 38), "-" + strings.Repeat("9", 38), "1" + strings.Repeat("0", 37), "18446744073709551616"}},
		{"numeric(38,10) wide with fraction", copytest.NumericColumn("c", 38, 10),
			[][]byte{copytest.Numeric("1234567890123456789012345678.0123456789"), copytest.Numeric("-0.0000000001"), copytest.Numeric("1234567890123456789012345678.01")},
			[]any{"12345678901234567890123456780123456789", "-1", "12345678901234567890123456780100000000"}},
		{"numeric(12,2) non-canonical digits", copytest.NumericColumn("c", 12, 2),
			[][]byte{
				copytest.NumericRaw(4, 2, numericPos, 2, 0, 0, 12, 3400), // leading and trailing zero digits: 12.34
				copytest.NumericRaw(3, 0, numericNeg, 9, 5, 0, 0),        // dscale beyond digits: -5
				copytest.NumericRaw(0, 7, numericNeg, 0),                 // negative zero
			},
			[]any{"1234", "-500", "0"}},
		{"numeric(76,0) decimal256", copytest.NumericColumn("c", 76, 0),
			[][]byte{copytest.Numeric(strings.Repeat("9", 76)), copytest.Numeric("-" + strings.Repeat("9", 76)), copytest.Numeric("0"), copytest.Numeric("-1"), nil},
			[]any{strings.Repeat("9", 76), "-" + strings.Repeat("9", 76), "0", "-1", nil}},
		{"numeric(50,20) decimal256", copytest.NumericColumn("c", 50, 20),
			[][]byte{copytest.Numeric("123456789012345678901234567890.12345678901234567890"), copytest.Numeric("-0.00000000000000000001"), copytest.Numeric("1.5")},
			[]any{bigString("12345678901234567890123456789012345678901234567890"), "-1", "150000000000000000000"}},
		{"numeric text", pgarrow.PlanColumn("c", pgtype.NumericOID, -1, "numeric"),
			[][]byte{copytest.Numeric("0"), copytest.Numeric("0.00"), copytest.Numeric("-1.5000"), copytest.Numeric("10000"), copytest.Numeric("123456789012345678901234567890.123"), copytest.Numeric("0.0001"), copytest.Numeric("NaN"), copytest.Numeric("Infinity"), copytest.Numeric("-Infinity"), nil, copytest.Numeric("0.000000001"), copytest.Numeric("-0.5"), copytest.Numeric("99999999"), copytest.Numeric("1.50")},
			[]any{"0", "0.00", "-1.5000", "10000", "123456789012345678901234567890.123", "0.0001", "NaN", "Infinity", "-Infinity", nil, "0.000000001", "-0.5", "99999999", "1.50"}},
		{"numeric text raw", pgarrow.PlanColumn("c", pgtype.NumericOID, -1, "numeric"),
			[][]byte{
				copytest.NumericRaw(2, 0, numericPos, 2, 1, 2345), // dscale below the digits: truncated like numeric_out
				copytest.NumericRaw(1, 0, numericPos, 7, 1),       // dscale beyond the digits
				copytest.NumericRaw(1, 2, numericPos, 0, 5),       // weight beyond the digits
				copytest.NumericRaw(1, -3, numericPos, 12, 42),    // 0.000000000042
				copytest.NumericRaw(1, 1, numericNeg, 1, 12),      // -120000.0
				copytest.NumericRaw(0, 0, numericNeg, 0),          // PostgreSQL prints the sign of a negative zero
			},
			[]any{"1.23", "1.0000000", "500000000", "0.000000000042", "-120000.0", "-0"}},
		{"numeric(200,2) text", pgarrow.PlanColumn("c", pgtype.NumericOID, copytest.NumTypmod(200, 2), "numeric(200,2)"),
			[][]byte{copytest.Numeric("1.25")},
			[]any{"1.25"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tuples [][]byte
			for _, f := range tt.fields {
				tuples = append(tuples, copytest.Tuple(f))
			}
			data, starts := copytest.RowStarts(tuples...)
			// With and without the receiver's row starts.
			for _, rs := range [][]uint32{nil, starts} {
				got := decodeAll(t, []pgarrow.Column{tt.col}, &pgcopy.Chunk{Data: data, RowStarts: rs})
				if len(got[0]) != len(tt.want) {
					t.Fatalf("got %d rows, want %d", len(got[0]), len(tt.want))
				}
				for i := range tt.want {
					if !equalValue(got[0][i], tt.want[i]) {
						t.Errorf("row %d: got %#v, want %#v", i, got[0][i], tt.want[i])
					}
				}
			}
		})
	}
}

func equalValue(a, b any) bool {
	if ab, ok := a.([]byte); ok {
		bb, ok := b.([]byte)
		return ok && bytes.Equal(ab, bb)
	}
	return a == b
}

// TestDecodeMultiColumn decodes a multi-column chunk with NULLs scattered so
// that validity bitmaps cross byte boundaries.
func TestDecodeMultiColumn(t *testing.T) {
	cols := []pgarrow.Column{
		pgarrow.PlanColumn("id", pgtype.Int4OID, -1, "integer"),
		pgarrow.PlanColumn("name", pgtype.TextOID, -1, "text"),
		copytest.NumericColumn("price", 12, 2),
		pgarrow.PlanColumn("flag", pgtype.BoolOID, -1, "boolean"),
		pgarrow.PlanColumn("doc", pgtype.JSONBOID, -1, "jsonb"),
	}
	var tuples [][]byte
	var want [5][]any
	for i := range 37 {
		f := [][]byte{copytest.Int32(int32(i)), copytest.Text(strings.Repeat("x", i%5)), copytest.Numeric(copytest.Itoa(int32(i)) + ".25"), copytest.Bool(i%3 == 0), copytest.JSONB(`{"i":` + copytest.Itoa(int32(i)) + `}`)}
		w := []any{int32(i), strings.Repeat("x", i%5), copytest.Itoa(int32(i)*100 + 25), i%3 == 0, `{"i":` + copytest.Itoa(int32(i)) + `}`}
		for ci := range f {
			if (i+ci)%4 == 0 {
				f[ci], w[ci] = nil, nil
			}
			want[ci] = append(want[ci], w[ci])
		}
		tuples = append(tuples, copytest.Tuple(f...))
	}
	data, starts := copytest.RowStarts(tuples...)
	got := decodeAll(t, cols, &pgcopy.Chunk{Data: data, RowStarts: starts})
	for ci := range cols {
		for i := range want[ci] {
			if !equalValue(got[ci][i], want[ci][i]) {
				t.Errorf("column %s row %d: got %#v, want %#v", cols[ci].Name, i, got[ci][i], want[ci][i])
			}
		}
	}
}

func TestDecodeZeroRows(t *testing.T) {
	cols := []pgarrow.Column{pgarrow.PlanColumn("a", pgtype.Int4OID, -1, "integer"), pgarrow.PlanColumn("b", pgtype.TextOID, -1, "text"), copytest.NumericColumn("c", 40, 2), pgarrow.PlanColumn("d", pgtype.UUIDOID, -1, "uuid")}
	for _, c := range []*pgcopy.Chunk{{}, {Data: []byte{}, RowStarts: []uint32{}}} {
		dec := NewCPUDecoder(cols, newAlloc(t))
		rec, err := dec.Decode(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if rec.NumRows() != 0 || rec.NumCols() != int64(len(cols)) {
			t.Errorf("got %d rows, %d columns", rec.NumRows(), rec.NumCols())
		}
		if !rec.Schema().Equal(pgarrow.ArrowSchema(cols)) {
			t.Errorf("schema %v", rec.Schema())
		}
		for i := range cols {
			if rec.Column(i).Len() != 0 {
				t.Errorf("column %d has %d values", i, rec.Column(i).Len())
			}
		}
		rec.Release()
	}
}

// TestDecodeZeroColumns covers a table without columns: each tuple is just
// the field count 0.
func TestDecodeZeroColumns(t *testing.T) {
	dec := NewCPUDecoder(nil, newAlloc(t))
	rec, err := dec.Decode(context.Background(), &pgcopy.Chunk{Data: []byte{0, 0, 0, 0, 0, 0}})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if rec.NumRows() != 3 || rec.NumCols() != 0 {
		t.Errorf("got %d rows, %d columns, want 3, 0", rec.NumRows(), rec.NumCols())
	}
}

func TestDecodeMalformed(t *testing.T) {
	cols := []pgarrow.Column{
		pgarrow.PlanColumn("id", pgtype.Int4OID, -1, "integer"),
		pgarrow.PlanColumn("name", pgtype.TextOID, -1, "text"),
		copytest.NumericColumn("price", 12, 2),
	}
	good := copytest.Tuple(copytest.Int32(1), copytest.Text("ab"), copytest.Numeric("1.50")) // 32 bytes
	if len(good) != 32 {
		t.Fatalf("good tuple is %d bytes", len(good))
	}
	// withPrice is a tuple whose price field body is p.
	withPrice := func(p []byte) []byte { return copytest.Tuple(copytest.Int32(1), copytest.Text("ab"), p) }
	const priceBody = 2 + 8 + 6 + 4 // offset of the price body in a tuple
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	tests := []struct {
		name      string
		data      []byte
		rowStarts []uint32
		off       int64 // within the chunk
		row       int64 // within the chunk, -1 for none
		column    string
		msg       string
	}{
		{"trailing byte", cat(good, []byte{0}), nil, 32, 1, "", "truncated tuple: 1 byte left, need 2 for the field count"},
		{"wrong field count", copytest.Tuple(copytest.Int32(1), copytest.Text("ab")), nil, 0, 0, "", "field count 2, expected 3"},
		{"trailer inside chunk", cat(good, []byte{0xff, 0xff}), nil, 32, 1, "", "unexpected trailer"},
		{"truncated length", cat(good, []byte{0, 3, 0, 0}), nil, 34, 1, "id", "truncated tuple: 2 bytes left, need 4 for the field length"},
		{"trailing partial tuple", cat(good, []byte{0, 3, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0}), nil, 42, 1, "name", "truncated tuple: 3 bytes left"},
		{"length past end", []byte{0, 3, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 10, 'a'}, nil, 10, 0, "name", "field length 10 runs past the end of the chunk (1 bytes left)"},
		{"negative length", cat(good, []byte{0, 3, 0xff, 0xff, 0xff, 0xfe}), nil, 34, 1, "id", "field length -2, expected -1 (NULL) or >= 0"},
		{"int4 length 3", copytest.Tuple([]byte{0, 0, 1}, copytest.Text("ab"), copytest.Numeric("1")), nil, 2, 0, "id", "field length 3, expected 4"},
		{"numeric length mismatch", withPrice(copytest.Numeric("1.50")[:10]), nil, priceBody - 4, 0, "price", "numeric field length 10, expected 8 + 2*ndigits = 12"},
		{"numeric too short", withPrice([]byte{0, 0, 0, 0}), nil, priceBody - 4, 0, "price", "numeric field length 4, need at least 8"},
		{"numeric ndigits past the field", withPrice(copytest.NumericRaw(-1, 0, 0, 0)), nil, priceBody - 4, 0, "price", "numeric field length 8, expected 8 + 2*ndigits = 131078"},
		{"numeric bad sign", withPrice(copytest.NumericRaw(1, 0, 0x8000, 0, 1)), nil, priceBody + 4, 0, "price", "numeric sign 0x8000"},
		{"numeric bad dscale", withPrice(copytest.NumericRaw(1, 0, 0, 0x4000, 1)), nil, priceBody + 6, 0, "price", "numeric dscale 16384"},
		{"numeric bad digit", cat(good, withPrice(copytest.NumericRaw(2, 0, 0, 2, 1, 10000))), nil, 32 + priceBody + 10, 1, "price", "numeric digit 10000 at index 1, expected 0..9999"},
		{"numeric NaN", withPrice(copytest.Numeric("NaN")), nil, priceBody, 0, "price", "NaN does not fit decimal128(12,2); " + "export it exactly with --as-text price"},
		{"numeric Infinity", withPrice(copytest.Numeric("Infinity")), nil, priceBody, 0, "price", "Infinity does not fit decimal128(12,2)"},
		{"numeric -Infinity", withPrice(copytest.Numeric("-Infinity")), nil, priceBody, 0, "price", "-Infinity does not fit decimal128(12,2)"},
		{"numeric too big", withPrice(copytest.Numeric("12345678901.00")), nil, priceBody, 0, "price", "numeric 12345678901.00 needs more than 12 digits of precision: does not fit decimal128(12,2); " + "export it exactly with --as-text price"},
		{"numeric huge", withPrice(copytest.NumericRaw(1, 30000, 0, 0, 1)), nil, priceBody, 0, "price", "numeric of 120001 characters (weight 30000, dscale 0) needs more than 12 digits"},
		{"numeric beyond scale", withPrice(copytest.Numeric("1.234")), nil, priceBody, 0, "price", "numeric 1.234 has non-zero digits beyond scale 2"},
		{"numeric far beyond scale", withPrice(copytest.Numeric("0.00000001")), nil, priceBody, 0, "price", "has non-zero digits beyond scale 2"},
		{"error in second row", cat(good, copytest.Tuple(copytest.Int32(2), copytest.Text("ab"), []byte{1})), nil, 32 + priceBody - 4, 1, "price", "numeric field length 1, need at least 8"},
		{"row start inside a tuple", cat(good, good), []uint32{0, 31}, 32, 1, "", "the receiver recorded a row start at 31, inside the tuple that ends at chunk offset 32"},
		{"row start first", cat(good, good), []uint32{1, 32}, 0, 0, "", "tuple starts at chunk offset 0, but the receiver recorded a row start at 1"},
		{"row start past the tuples", cat(good, good), []uint32{0, 32, 64}, 64, 2, "", "chunk holds 2 tuples, but the receiver recorded a row start at 64, past the last one"},
	}
	const streamOff, firstRow = 1000, 50
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			de := decodeError(t, NewCPUDecoder(cols, newAlloc(t)), &pgcopy.Chunk{Data: tt.data, RowStarts: tt.rowStarts, StreamOffset: streamOff, FirstRow: firstRow, Source: "range 3 of public.t"})
			wantRow := int64(-1)
			if tt.row >= 0 {
				wantRow = firstRow + tt.row
			}
			if de.Offset != streamOff+tt.off || de.Row != wantRow || de.Column != tt.column || de.Source != "range 3 of public.t" || !strings.Contains(de.Msg, tt.msg) {
				t.Errorf("got %+v\nwant offset %d row %d column %q msg containing %q", *de, streamOff+tt.off, wantRow, tt.column, tt.msg)
			}
			if tt.column != "" && de.PGType == "" {
				t.Errorf("PGType not set: %+v", *de)
			}
		})
	}
}

// TestDecodeMalformedFixed checks the exact-length rule and the value range
// checks of each fixed-width and special kind.
func TestDecodeMalformedFixed(t *testing.T) {
	tests := []struct {
		name string
		col  pgarrow.Column
		body []byte
		off  int64
		msg  string
	}{
		{"bool", pgarrow.PlanColumn("c", pgtype.BoolOID, -1, "boolean"), []byte{1, 0}, 2, "field length 2, expected 1"},
		{"bool empty", pgarrow.PlanColumn("c", pgtype.BoolOID, -1, "boolean"), []byte{}, 2, "field length 0, expected 1"},
		{"int2", pgarrow.PlanColumn("c", pgtype.Int2OID, -1, "smallint"), copytest.Int32(1), 2, "field length 4, expected 2"},
		{"int8", pgarrow.PlanColumn("c", pgtype.Int8OID, -1, "bigint"), copytest.Int32(1), 2, "field length 4, expected 8"},
		{"float4", pgarrow.PlanColumn("c", pgtype.Float4OID, -1, "real"), copytest.Int64(1), 2, "field length 8, expected 4"},
		{"float8", pgarrow.PlanColumn("c", pgtype.Float8OID, -1, "double precision"), copytest.Int32(1), 2, "field length 4, expected 8"},
		{"date", pgarrow.PlanColumn("c", pgtype.DateOID, -1, "date"), copytest.Int64(1), 2, "field length 8, expected 4"},
		{"timestamp", pgarrow.PlanColumn("c", pgtype.TimestampOID, -1, "timestamp"), copytest.Int32(1), 2, "field length 4, expected 8"},
		{"timestamptz", pgarrow.PlanColumn("c", pgtype.TimestamptzOID, -1, "timestamptz"), make([]byte, 9), 2, "field length 9, expected 8"},
		{"uuid", pgarrow.PlanColumn("c", pgtype.UUIDOID, -1, "uuid"), make([]byte, 15), 2, "field length 15, expected 16"},
		{"jsonb empty", pgarrow.PlanColumn("c", pgtype.JSONBOID, -1, "jsonb"), []byte{}, 2, "jsonb field length 0"},
		{"jsonb version", pgarrow.PlanColumn("c", pgtype.JSONBOID, -1, "jsonb"), []byte{2, '{', '}'}, 6, "jsonb version 2, expected 1"},
		{"date overflow", pgarrow.PlanColumn("c", pgtype.DateOID, -1, "date"), copytest.Int32(math.MaxInt32 - 10957), 6, "out of range for date32"},
		{"date overflow max-1", pgarrow.PlanColumn("c", pgtype.DateOID, -1, "date"), copytest.Int32(math.MaxInt32 - 1), 6, "out of range for date32"},
		{"timestamp overflow", pgarrow.PlanColumn("c", pgtype.TimestampOID, -1, "timestamp"), copytest.Int64(math.MaxInt64 - 946684800000000), 6, "out of range for timestamp[us]"},
		{"timestamptz overflow", pgarrow.PlanColumn("c", pgtype.TimestamptzOID, -1, "timestamptz"), copytest.Int64(math.MaxInt64 - 1), 6, "out of range for timestamp[us]"},
		{"numeric text bad digit", pgarrow.PlanColumn("c", pgtype.NumericOID, -1, "numeric"), copytest.NumericRaw(1, 0, 0, 0, 0xffff), 14, "numeric digit 65535 at index 0"},
		{"decimal256 bad digit", copytest.NumericColumn("c", 60, 0), copytest.NumericRaw(1, 0, 0, 0, 10000), 14, "numeric digit 10000 at index 0"},
		{"decimal256 NaN", copytest.NumericColumn("c", 60, 0), copytest.Numeric("NaN"), 6, "NaN does not fit decimal256(60,0)"},
		{"decimal256 too big", copytest.NumericColumn("c", 60, 0), copytest.Numeric("1" + strings.Repeat("0", 60)), 6, "needs more than 60 digits"},
		{"decimal256 way too big", copytest.NumericColumn("c", 76, 0), copytest.NumericRaw(1, 20, 0, 0, 1), 6, "needs more than 76 digits"},
		{"decimal256 beyond scale", copytest.NumericColumn("c", 60, 2), copytest.Numeric("1.001"), 6, "beyond scale 2"},
		{"decimal bad digit after too big", copytest.NumericColumn("c", 12, 2), copytest.NumericRaw(2, 20, 0, 0, 1, 20000), 16, "numeric digit 20000 at index 1"},
		{"decimal bad digit after beyond scale", copytest.NumericColumn("c", 12, 2), copytest.NumericRaw(2, -5, 0, 0, 1, 20000), 16, "numeric digit 20000 at index 1"},
		{"decimal128 wide too big", copytest.NumericColumn("c", 38, 0), copytest.Numeric("1" + strings.Repeat("0", 38)), 6, "needs more than 38 digits"},
		{"decimal128 wide limit", copytest.NumericColumn("c", 38, 3), copytest.NumericRaw(1, 8, 0, 3, 9999), 6, "numeric 999900000000000000000000000000000000.000 needs more than 38 digits"},
		{"decimal128 wide beyond scale", copytest.NumericColumn("c", 38, 2), copytest.NumericRaw(12, 8, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12), 6, "beyond scale 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			de := decodeError(t, NewCPUDecoder([]pgarrow.Column{tt.col}, newAlloc(t)), &pgcopy.Chunk{Data: copytest.Tuple(tt.body)})
			if de.Offset != tt.off || de.Row != 0 || de.Column != "c" || !strings.Contains(de.Msg, tt.msg) {
				t.Errorf("got %+v, want offset %d row 0 msg containing %q", *de, tt.off, tt.msg)
			}
		})
	}
}

func TestDecodeErrorString(t *testing.T) {
	tests := []struct {
		err  pgcopy.DecodeError
		want string
	}{
		{pgcopy.DecodeError{Source: "range 3 (pages 100-200) of public.t", Offset: 12345, Row: 17, Column: "price", PGType: "numeric(12,2)", Msg: "field length 3, expected 4"},
			`range 3 (pages 100-200) of public.t: byte 12345, row 17, column "price" (numeric(12,2)): field length 3, expected 4`},
		{pgcopy.DecodeError{Offset: 11, Row: -1, Msg: "COPY BINARY header: bad"}, `byte 11: COPY BINARY header: bad`},
		{pgcopy.DecodeError{Source: "s", Offset: 0, Row: 0, Msg: "field count 2, expected 3"}, `s: byte 0, row 0: field count 2, expected 3`},
		{pgcopy.DecodeError{Source: "s", Offset: 1, Row: 2, Column: `we"ird`, Msg: "m"}, `s: byte 1, row 2, column "we\"ird": m`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

func TestDecodeContextAndLifecycle(t *testing.T) {
	cols := []pgarrow.Column{pgarrow.PlanColumn("a", pgtype.Int4OID, -1, "integer")}
	data := copytest.Tuple(copytest.Int32(1))

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dec := NewCPUDecoder(cols, newAlloc(t))
	if _, err := dec.Decode(ctx, &pgcopy.Chunk{Data: data, Source: "s"}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: got %v", err)
	}
	if _, err := dec.Decode(context.Background(), nil); err == nil {
		t.Error("nil chunk: no error")
	}
	if dec.Path() != "cpu" {
		t.Errorf("Path() = %q", dec.Path())
	}
	if err := dec.Close(); err != nil {
		t.Fatal(err)
	}
	if err := dec.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := dec.Decode(context.Background(), &pgcopy.Chunk{Data: data}); err == nil {
		t.Error("Decode after Close: no error")
	}

	var _ Decoder = dec
}

func TestDecodeInvalidColumns(t *testing.T) {
	for _, cols := range [][]pgarrow.Column{
		{{Name: "zero", PGType: "x"}},
		{{Name: "big", Kind: pgarrow.Kind(1 << 20)}},
		{{Name: "list", Kind: pgarrow.KindList, Dims: 1}},
		{{Name: "money", Kind: pgarrow.KindMoney, Scale: 20}},
		{{Name: "d", Kind: pgarrow.KindDecimal128, Precision: 39}},
		{{Name: "d", Kind: pgarrow.KindDecimal128, Precision: 10, Scale: 11}},
		{{Name: "d", Kind: pgarrow.KindDecimal256, Precision: 77}},
		{{Name: "d", Kind: pgarrow.KindDecimal256, Precision: 50, Scale: -1}},
	} {
		dec := NewCPUDecoder(cols, newAlloc(t))
		_, err := dec.Decode(context.Background(), &pgcopy.Chunk{})
		if err == nil || !strings.Contains(err.Error(), cols[0].Name) {
			t.Errorf("%+v: got %v, want an error naming the column", cols[0], err)
		}
		if dt := pgarrow.ArrowSchema(cols).Field(0).Type; dt.ID() != arrow.NULL {
			t.Errorf("%+v: ArrowSchema type %v, want null", cols[0], dt)
		}
	}
}

// TestDecodeConcurrent decodes the same chunk from several goroutines on one
// decoder and checks every batch is identical.
func TestDecodeConcurrent(t *testing.T) {
	cols, data, starts := copytest.LineorderChunk(2000)
	mem := newAlloc(t)
	dec := NewCPUDecoder(cols, mem)
	ref, err := dec.Decode(context.Background(), &pgcopy.Chunk{Data: data, RowStarts: starts})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Release()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			rec, err := dec.Decode(context.Background(), &pgcopy.Chunk{Data: data})
			if err != nil {
				errs <- err
				return
			}
			defer rec.Release()
			if !array.RecordEqual(rec, ref) {
				errs <- errors.New("batches differ")
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestDecodeBatchedMessages checks chunks whose receiver saw several rows in one CopyData
// message (a server that batches rows): only some tuple starts are recorded, and the walk
// decodes every tuple all the same.
func TestDecodeBatchedMessages(t *testing.T) {
	cols := []pgarrow.Column{pgarrow.PlanColumn("id", pgtype.Int4OID, -1, "integer"), pgarrow.PlanColumn("name", pgtype.TextOID, -1, "text")}
	data, starts := copytest.RowStarts(
		copytest.Tuple(copytest.Int32(1), copytest.Text("a")), copytest.Tuple(copytest.Int32(2), nil), copytest.Tuple(copytest.Int32(3), copytest.Text("ccc")), copytest.Tuple(nil, copytest.Text("")))
	want := decodeAll(t, cols, &pgcopy.Chunk{Data: data, RowStarts: starts})
	for _, recorded := range [][]uint32{{0}, {0, starts[2]}, {0, starts[1], starts[3]}, nil} {
		got := decodeAll(t, cols, &pgcopy.Chunk{Data: data, RowStarts: recorded})
		if len(got) != len(want) {
			t.Fatalf("row starts %v: %d rows, want %d", recorded, len(got), len(want))
		}
		for i := range want {
			for j := range want[i] {
				if !equalValue(want[i][j], got[i][j]) {
					t.Errorf("row starts %v: row %d column %d = %v, want %v", recorded, i, j, got[i][j], want[i][j])
				}
			}
		}
	}
}

// decodeError decodes c, which must fail, and returns its *DecodeError.
func decodeError(t *testing.T, dec *CPUDecoder, c *pgcopy.Chunk) *pgcopy.DecodeError {
	t.Helper()
	rec, err := dec.Decode(context.Background(), c)
	if err == nil {
		rec.Release()
		t.Fatal("Decode succeeded, want an error")
	}
	var de *pgcopy.DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %T %v, want *DecodeError", err, err)
	}
	return de
}
