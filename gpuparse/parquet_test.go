package gpuparse

import (
	"bytes"
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"

	"github.com/pgparquet/pgparquet/pgcopy"
)

// TestParquetRoundTrip writes a decoded batch of every Kind with pqarrow and
// reads it back: the batches must be writable as they are, carry the UUID and
// JSON logical types, and read back equal.
func TestParquetRoundTrip(t *testing.T) {
	cols := []Column{
		PlanColumn("b", oidBool, -1, "boolean"),
		PlanColumn("i2", oidInt2, -1, "smallint"),
		PlanColumn("i4", oidInt4, -1, "integer"),
		PlanColumn("i8", oidInt8, -1, "bigint"),
		PlanColumn("f4", oidFloat4, -1, "real"),
		PlanColumn("f8", oidFloat8, -1, "double precision"),
		PlanColumn("s", oidText, -1, "text"),
		PlanColumn("bin", oidBytea, -1, "bytea"),
		PlanColumn("u", oidUUID, -1, "uuid"),
		PlanColumn("j", oidJSON, -1, "json"),
		PlanColumn("jb", oidJSONB, -1, "jsonb"),
		PlanColumn("d", oidDate, -1, "date"),
		PlanColumn("ts", oidTimestamp, -1, "timestamp"),
		PlanColumn("tstz", oidTimestampTZ, -1, "timestamptz"),
		numCol("n128", 12, 2),
		numCol("n256", 50, 4),
		PlanColumn("n", oidNumeric, -1, "numeric"),
	}
	row := func(i int32) []byte {
		return tuple(wBool(i%2 == 0), wI16(int16(i)), wI32(i), wI64(int64(i)), wF32bits(uint32(i)), wF64bits(uint64(i)),
			wText("s"+itoa(i)), []byte{byte(i)}, make([]byte, 16), wText(`{"a":1}`), wJSONB(`{"b":2}`),
			wI32(i), wI64(int64(i)), wI64(int64(i)), wNumeric(itoa(i)+".5"), wNumeric("-"+itoa(i)+".25"), wNumeric(itoa(i)+".000"))
	}
	nulls := tuple(nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil)
	data, _ := rowStarts(row(1), nulls, row(2), tuple([]byte{1}, wI16(0), wI32(0), wI64(0), wF32bits(0), wF64bits(0), wText(""), []byte{}, make([]byte, 16), wText(""), wJSONB(""), wI32(0), wI64(0), wI64(0), wNumeric("0"), wNumeric("0"), wNumeric("0")))

	mem := newAlloc(t)
	dec := NewCPUDecoder(cols, mem)
	rec, err := dec.Decode(context.Background(), &pgcopy.Chunk{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()

	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(rec.Schema(), &buf, parquet.NewWriterProperties(parquet.WithAllocator(mem)), pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem)))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	pf, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	sc := pf.MetaData().Schema
	for name, want := range map[string]schema.LogicalType{"u": schema.UUIDLogicalType{}, "j": schema.JSONLogicalType{}, "jb": schema.JSONLogicalType{}} {
		if got := sc.Column(sc.ColumnIndexByName(name)).LogicalType(); !got.Equals(want) {
			t.Errorf("column %s logical type %v, want %v", name, got, want)
		}
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, mem)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	for i := range cols {
		got := tbl.Column(i).Data().Chunk(0)
		if cols[i].Kind == KindJSON || cols[i].Kind == KindJSONB {
			// pqarrow reads the Parquet JSON logical type back as binary (and,
			// with a stored Arrow schema, fails to apply the JSON extension to
			// it), so compare the bytes.
			want := rec.Column(i).(array.ExtensionArray).Storage().(*array.String)
			bin, ok := got.(*array.Binary)
			if !ok || bin.Len() != want.Len() {
				t.Errorf("column %s: read back %v", cols[i].Name, got)
				continue
			}
			for r := range want.Len() {
				if bin.IsNull(r) != want.IsNull(r) || string(bin.Value(r)) != want.Value(r) {
					t.Errorf("column %s row %d: read back %q, wrote %q", cols[i].Name, r, bin.Value(r), want.Value(r))
				}
			}
			continue
		}
		if !arrow.TypeEqual(got.DataType(), rec.Column(i).DataType()) || !array.Equal(got, rec.Column(i)) {
			t.Errorf("column %s: read back %v %v, wrote %v %v", cols[i].Name, got.DataType(), got, rec.Column(i).DataType(), rec.Column(i))
		}
	}
}
