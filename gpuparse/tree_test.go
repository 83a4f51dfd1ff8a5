package gpuparse

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgparquet/pgparquet/internal/copytest"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// wRecord encodes a composite as record_send does: count, then per attribute OID and field.
func wRecord(oids []uint32, fields ...[]byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(fields)))
	for i, f := range fields {
		b = binary.BigEndian.AppendUint32(b, oids[i])
		b = copytest.AppendFields(b, f)
	}
	return b
}

// wRange encodes a range as range_send does.
func wRange(flags byte, lower, upper []byte) []byte {
	b := []byte{flags}
	if lower != nil {
		b = copytest.AppendFields(b, lower)
	}
	if upper != nil {
		b = copytest.AppendFields(b, upper)
	}
	return b
}

func treeColumns() []pgarrow.Column {
	i4 := &pgarrow.TypeDesc{OID: pgtype.Int4OID, Typmod: -1, SendOID: pgtype.Int4OID}
	return []pgarrow.Column{
		pgarrow.PlanType("a2", &pgarrow.TypeDesc{OID: 1007, Class: pgarrow.ClassArray, Dims: 2, Elem: i4}, "integer[]", pgarrow.PlanOptions{}),
		pgarrow.PlanType("rec", &pgarrow.TypeDesc{OID: 99999, Class: pgarrow.ClassComposite, Fields: []pgarrow.FieldDesc{
			{Name: "a", Type: i4}, {Name: "b", Type: &pgarrow.TypeDesc{OID: pgtype.TextOID, SendOID: pgtype.TextOID}}}}, "pair", pgarrow.PlanOptions{}),
		pgarrow.PlanType("r", &pgarrow.TypeDesc{OID: 3904, Class: pgarrow.ClassRange, Elem: &pgarrow.TypeDesc{OID: pgtype.Int4OID}}, "int4range", pgarrow.PlanOptions{}),
		pgarrow.PlanColumn("iv", pgtype.IntervalOID, -1, "interval"),
		pgarrow.PlanColumn("tz", pgtype.TimetzOID, -1, "time with time zone"),
		pgarrow.PlanType("e", &pgarrow.TypeDesc{OID: 99998, Class: pgarrow.ClassEnum}, "mood", pgarrow.PlanOptions{}),
		pgarrow.PlanType("m", &pgarrow.TypeDesc{OID: pgarrow.MoneyOID, MoneyScale: 2}, "money", pgarrow.PlanOptions{}),
		pgarrow.PlanColumn("o", pgtype.OIDOID, -1, "oid"),
		pgarrow.PlanType("ts", &pgarrow.TypeDesc{OID: pgtype.TimestampOID}, "timestamp", pgarrow.PlanOptions{TimestampText: true}),
		pgarrow.PlanType("mr", &pgarrow.TypeDesc{OID: 4451, Class: pgarrow.ClassMultirange, Elem: &pgarrow.TypeDesc{OID: 3904, Class: pgarrow.ClassRange, Elem: &pgarrow.TypeDesc{OID: pgtype.Int4OID}}}, "int4multirange", pgarrow.PlanOptions{}),
	}
}

func treeTuple(i int32) []byte {
	return copytest.Tuple(
		copytest.Array(pgtype.Int4OID, []int32{2, 2}, []int32{1, 1}, copytest.Int32(i), nil, copytest.Int32(3), copytest.Int32(4)),
		wRecord([]uint32{pgtype.Int4OID, pgtype.TextOID}, copytest.Int32(i), copytest.Text("x")),
		wRange(rangeLBInc, copytest.Int32(i), copytest.Int32(i+5)),
		copytest.Interval(-1, 2, 3),
		append(copytest.Int64(1), copytest.Int32(-3600)...),
		copytest.Text("ok"),
		copytest.Int64(-12345),
		copytest.Int32(-1),
		copytest.Int64(math.MaxInt64-946684800000000),
		append(copytest.Int32(1), copytest.AppendFields(nil, wRange(rangeEmpty, nil, nil))...),
	)
}

func TestDecodeTree(t *testing.T) {
	cols := treeColumns()
	data, starts := copytest.RowStarts(treeTuple(1), copytest.Tuple(nil, nil, nil, nil, nil, nil, nil, nil, nil, nil),
		copytest.Tuple(copytest.Array(pgtype.Int4OID, nil, nil), wRecord([]uint32{pgtype.Int4OID, pgtype.TextOID}, nil, nil), wRange(rangeEmpty, nil, nil), nil, nil, nil, nil, nil, copytest.Int64(math.MinInt64), copytest.Int32(0)))
	dec := NewCPUDecoder(cols, newAlloc(t))
	rec, err := dec.Decode(context.Background(), &pgcopy.Chunk{Data: data, RowStarts: starts})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	want := []string{
		`[[[1 (null)] [3 4]] (null) []]`,
		`{[1 (null) (null)] ["x" (null) (null)]}`,
		`{[1 (null) (null)] [6 (null) (null)] [true (null) false] [false (null) false] [false (null) true]}`,
		`{[3 (null) (null)] [2 (null) (null)] [-1 (null) (null)]}`,
		`{[1 (null) (null)] [3600 (null) (null)]}`,
		`{ dictionary: ["ok"]
  indices: [0 (null) (null)] }`,
		`[-123.45 (null) (null)]`,
		`[4294967295 (null) (null)]`,
		`["294247-01-10 04:00:54.775807" (null) "-infinity"]`,
		`[{[(null)] [(null)] [false] [false] [true]} (null) {[] [] [] [] []}]`,
	}
	for i, w := range want {
		if got := rec.Column(i).String(); got != w {
			t.Errorf("column %s = %s, want %s", cols[i].Name, got, w)
		}
	}
	if !pgarrow.ArrowSchema(cols).Equal(rec.Schema()) {
		t.Errorf("schema %v", rec.Schema())
	}
}

func TestDecodeTreeErrors(t *testing.T) {
	cols := treeColumns()
	for _, tc := range []struct {
		name   string
		col    int
		field  []byte
		offset int // within the field body
		msg    string
	}{
		{"lower bound", 0, copytest.Array(pgtype.Int4OID, []int32{2, 2}, []int32{0, 1}, copytest.Int32(1), copytest.Int32(2), copytest.Int32(3), copytest.Int32(4)), 16, "lower bound 0"},
		{"dims", 0, copytest.Array(pgtype.Int4OID, []int32{4}, []int32{1}, copytest.Int32(1), copytest.Int32(2), copytest.Int32(3), copytest.Int32(4)), 0, "1 dimensions"},
		{"element oid", 0, copytest.Array(pgtype.TextOID, []int32{1, 1}, []int32{1, 1}, copytest.Int32(1)), 8, "element type OID 25"},
		{"element length", 0, copytest.Array(pgtype.Int4OID, []int32{1, 1}, []int32{1, 1}, copytest.Int64(1)), 28, "array element: field length 8, expected 4"},
		{"attribute count", 1, wRecord([]uint32{pgtype.Int4OID}, copytest.Int32(1)), 0, "1 attributes, expected 2"},
		{"attribute oid", 1, wRecord([]uint32{pgtype.Int4OID, pgtype.Int4OID}, copytest.Int32(1), copytest.Text("x")), 16, "type OID 23, expected 25"},
		{"range trailing", 2, append(wRange(rangeEmpty, nil, nil), 0), 1, "1 bytes after"},
		{"far timestamp", 8, copytest.Int64(math.MaxInt64 - 1), 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fields := make([][]byte, len(cols))
			fields[tc.col] = tc.field
			data := copytest.Tuple(fields...)
			rec, err := NewCPUDecoder(cols, newAlloc(t)).Decode(context.Background(), &pgcopy.Chunk{Data: data, FirstRow: 5})
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("timestamp text: %v", err)
				}
				rec.Release()
				return
			}
			var de *pgcopy.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("got %v, want a *DecodeError", err)
			}
			start := 2 + 4*(tc.col+1) // field count, then the NULL length words before, then its own
			if de.Offset != int64(start+tc.offset) || de.Row != 5 || de.Column != cols[tc.col].Name || !strings.Contains(de.Msg, tc.msg) {
				t.Errorf("got %+v, want offset %d, row 5, column %s, message containing %q", *de, start+tc.offset, cols[tc.col].Name, tc.msg)
			}
		})
	}
}

func TestFormatTimestamp(t *testing.T) {
	for _, tc := range []struct {
		us   int64
		tz   bool
		want string
	}{
		{0, false, "2000-01-01 00:00:00"},
		{500000, true, "2000-01-01 00:00:00.5+00"},
		{-1, false, "1999-12-31 23:59:59.999999"},
		{math.MaxInt64, true, "infinity"},
		{math.MinInt64, false, "-infinity"},
		{-211813488000000000, true, "4714-11-24 00:00:00+00 BC"},
		{-63113904000000000, false, "0001-01-01 00:00:00 BC"},
		{9223371331199999999, false, "294276-12-31 23:59:59.999999"},
	} {
		if got := string(formatTimestamp(nil, tc.us, tc.tz)); got != tc.want {
			t.Errorf("formatTimestamp(%d, %v) = %q, want %q", tc.us, tc.tz, got, tc.want)
		}
	}
}

// FuzzCPUDecodeTree is FuzzCPUDecode for the type-tree kinds (arrays, composites, ranges,
// multiranges, intervals, ...), with the same contract.
func FuzzCPUDecodeTree(f *testing.F) {
	for _, data := range treeFuzzSeeds() {
		f.Add(data)
	}
	cols := treeColumns()
	f.Fuzz(func(t *testing.T, data []byte) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		rec, err := NewCPUDecoder(cols, mem).Decode(context.Background(), &pgcopy.Chunk{Data: data, StreamOffset: 19, Source: "fuzz"})
		if err != nil {
			var de *pgcopy.DecodeError
			if !errors.As(err, &de) || de.Offset < 19-4 || de.Offset > 19+int64(len(data)) {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		n, _, ok := countTuples(data, len(cols))
		if !ok || rec.NumRows() != int64(n) {
			t.Fatalf("decoded %d rows, walker %d (ok %v)", rec.NumRows(), n, ok)
		}
		defer rec.Release()
		for i := range cols {
			if rec.Column(i).Len() != n {
				t.Fatalf("column %d has %d values", i, rec.Column(i).Len())
			}
		}
		if err := array.RecordToJSON(rec, io.Discard); err != nil {
			t.Fatalf("record unusable: %v", err)
		}
	})
}

// treeFuzzSeeds are the committed seeds of FuzzCPUDecodeTree.
func treeFuzzSeeds() map[string][]byte {
	nulls := copytest.Tuple(nil, nil, nil, nil, nil, nil, nil, nil, nil, nil)
	return map[string][]byte{
		"tree_rows":        append(treeTuple(1), treeTuple(2)...),
		"tree_nulls":       nulls,
		"tree_lower_bound": copytest.Tuple(copytest.Array(pgtype.Int4OID, []int32{1, 1}, []int32{0, 1}, copytest.Int32(1)), nil, nil, nil, nil, nil, nil, nil, nil, nil),
		"tree_truncated":   treeTuple(3)[:40],
	}
}

// TestEmptyEnumListHasIndices: a batch whose enum[] column holds no element still gives the
// enum dictionary an indices buffer (arrow-go's Parquet writer dereferences it).
func TestEmptyEnumListHasIndices(t *testing.T) {
	col := pgarrow.PlanType("a_e", &pgarrow.TypeDesc{OID: 99997, Class: pgarrow.ClassArray, Dims: 1, Elem: &pgarrow.TypeDesc{OID: 99998, Class: pgarrow.ClassEnum}}, "mood[]", pgarrow.PlanOptions{})
	data, starts := copytest.RowStarts(copytest.Tuple(copytest.Array(99998, nil, nil)), copytest.Tuple(nil))
	rec, err := NewCPUDecoder([]pgarrow.Column{col}, memory.DefaultAllocator).Decode(context.Background(), &pgcopy.Chunk{Data: data, RowStarts: starts})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	elems := rec.Column(0).(*array.List).ListValues()
	if elems.Len() != 0 || elems.Data().Buffers()[1] == nil {
		t.Errorf("elements: len %d, indices buffer %v", elems.Len(), elems.Data().Buffers()[1])
	}
}

// TestDecodeSparkProfile decodes the kinds of pgarrow.ProfileSpark: uuid as its text, time as
// int64 microseconds, timetz with its time as int64 microseconds, also as array elements.
func TestDecodeSparkProfile(t *testing.T) {
	spark := pgarrow.PlanOptions{Profile: pgarrow.ProfileSpark}
	uuid := &pgarrow.TypeDesc{OID: pgtype.UUIDOID, Typmod: -1, SendOID: pgtype.UUIDOID}
	cols := []pgarrow.Column{
		pgarrow.PlanType("u", uuid, "uuid", spark),
		pgarrow.PlanType("au", &pgarrow.TypeDesc{OID: 2951, Class: pgarrow.ClassArray, Dims: 1, Elem: uuid}, "uuid[]", spark),
		pgarrow.PlanType("tm", &pgarrow.TypeDesc{OID: pgtype.TimeOID}, "time", spark),
		pgarrow.PlanType("tz", &pgarrow.TypeDesc{OID: pgtype.TimetzOID}, "timetz", spark),
	}
	u1 := []byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0}
	u2 := make([]byte, 16)
	data, starts := copytest.RowStarts(
		copytest.Tuple(u1, copytest.Array(pgtype.UUIDOID, []int32{2}, []int32{1}, u2, nil), copytest.Int64(86400000000),
			append(copytest.Int64(45296789000), copytest.Int32(-19800)...)),
		copytest.Tuple(nil, nil, nil, nil))
	rec, err := NewCPUDecoder(cols, newAlloc(t)).Decode(context.Background(), &pgcopy.Chunk{Data: data, RowStarts: starts})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	want := []string{
		`["12345678-9abc-def0-1234-56789abcdef0" (null)]`,
		`[["00000000-0000-0000-0000-000000000000" (null)] (null)]`,
		`[86400000000 (null)]`,
		`{[45296789000 (null)] [19800 (null)]}`,
	}
	for i, w := range want {
		if got := rec.Column(i).String(); got != w {
			t.Errorf("column %s = %s, want %s", cols[i].Name, got, w)
		}
	}
	if !pgarrow.ArrowSchema(cols).Equal(rec.Schema()) {
		t.Errorf("schema %v", rec.Schema())
	}
}
