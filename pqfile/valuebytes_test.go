package pqfile

import (
	"bytes"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// emptyOnly is rows byte-array values of type t, all NULL but the last, which is empty, whose
// value buffer has nil bytes as the decoders' have.
func emptyOnly(mem memory.Allocator, t arrow.DataType, rows int) arrow.Array {
	valid := memory.NewResizableBuffer(mem)
	valid.Resize(1)
	valid.Bytes()[0] = 1 << (rows - 1)
	offs := memory.NewResizableBuffer(mem)
	offs.Resize(4 * (rows + 1))
	clear(offs.Bytes())
	vals := memory.NewResizableBuffer(mem)
	vals.Resize(0)
	d := array.NewData(t, rows, []*memory.Buffer{valid, offs, vals}, nil, rows-1, 0)
	defer d.Release()
	valid.Release()
	offs.Release()
	vals.Release()
	return array.MakeFromData(d)
}

func appendQ(b array.Builder) {
	switch b := b.(type) {
	case *array.StringBuilder:
		b.Append("q")
	case *array.BinaryBuilder:
		b.Append([]byte("q"))
	}
}

// listOf is a list array of one row holding elems.
func listOf(mem memory.Allocator, elems arrow.Array) arrow.Array {
	offs := memory.NewResizableBuffer(mem)
	offs.Resize(8)
	copy(offs.Bytes(), arrow.Int32Traits.CastToBytes([]int32{0, int32(elems.Len())}))
	d := array.NewData(arrow.ListOf(elems.DataType()), 1, []*memory.Buffer{nil, offs}, []arrow.ArrayData{elems.Data()}, 0, 0)
	offs.Release()
	defer d.Release()
	return array.MakeFromData(d)
}

// TestWithValueBytes: a row group whose only empty value comes in a batch of no value bytes
// gets that empty value as its minimum from arrow-go's writer once the batch went through
// WithValueBytes, in a flat column, a struct's field and a list's elements; the arrays it
// makes share the batch's buffers and release them (TestWithValueBytesReleases).
func TestWithValueBytes(t *testing.T) {
	mem := memory.DefaultAllocator
	for _, tc := range []struct {
		name string
		typ  arrow.DataType
	}{
		{"string", arrow.BinaryTypes.String},
		{"binary", arrow.BinaryTypes.Binary},
	} {
		for _, fix := range []bool{false, true} {
			flat := emptyOnly(mem, tc.typ, 3)
			sd := array.NewData(arrow.StructOf(arrow.Field{Name: "f", Type: tc.typ, Nullable: true}), 3,
				[]*memory.Buffer{nil}, []arrow.ArrayData{flat.Data()}, 0, 0)
			st := array.NewStructData(sd)
			sd.Release()
			elems := emptyOnly(mem, tc.typ, 3)
			list := listOf(mem, elems)
			elems.Release()
			// Three rows like the others: the elements' row, an empty list and NULL.
			lb := array.NewListBuilder(mem, tc.typ)
			lb.Append(true)
			lb.AppendNull()
			tail := lb.NewArray()
			lb.Release()
			cat, err := array.Concatenate([]arrow.Array{list, tail}, mem)
			if err != nil {
				t.Fatal(err)
			}
			list.Release()
			tail.Release()
			list = cat
			schema := arrow.NewSchema([]arrow.Field{{Name: "flat", Type: tc.typ, Nullable: true},
				{Name: "st", Type: st.DataType(), Nullable: true}, {Name: "l", Type: list.DataType(), Nullable: true}}, nil)
			var buf bytes.Buffer
			w, err := pqarrow.NewFileWriter(schema, &buf, parquet.NewWriterProperties(),
				pqarrow.DefaultWriterProps())
			if err != nil {
				t.Fatal(err)
			}
			w.NewBufferedRowGroup()
			qb := array.NewRecordBuilder(mem, schema)
			appendQ(qb.Field(0))
			qb.Field(1).(*array.StructBuilder).Append(true)
			appendQ(qb.Field(1).(*array.StructBuilder).FieldBuilder(0))
			qb.Field(2).(*array.ListBuilder).Append(true)
			appendQ(qb.Field(2).(*array.ListBuilder).ValueBuilder())
			first := qb.NewRecordBatch()
			qb.Release()
			if err := w.WriteBuffered(first); err != nil {
				t.Fatal(err)
			}
			first.Release()
			cols := []arrow.Array{flat, st, list}
			if list.(*array.List).ListValues().(array.BinaryLike).ValueBytes() != nil {
				t.Fatal("the list's empty elements have value bytes: the test no longer makes nil ones")
			}
			if fix {
				for i, c := range cols {
					if a, ok := WithValueBytes(c); ok {
						cols[i] = a
						defer a.Release()
					}
				}
			}
			rec := array.NewRecordBatch(schema, cols, 3)
			if err := w.WriteBuffered(rec); err != nil {
				t.Fatal(err)
			}
			rec.Release()
			flat.Release()
			st.Release()
			list.Release()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			r, err := file.NewParquetReader(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			for c := range 3 {
				chunk, _ := r.MetaData().RowGroup(0).ColumnChunk(c)
				s, _ := chunk.Statistics()
				got := string(s.(*metadata.ByteArrayStatistics).Min())
				if fix && got != "" {
					t.Errorf("%s column %d: min %q, want the empty value", tc.name, c, got)
				}
				if !fix {
					t.Logf("%s column %d without WithValueBytes: min %q (arrow-go v18.8: \"q\")", tc.name, c, got)
				}
			}
			r.Close()
		}
	}
}

// TestWithValueBytesReleases: the arrays WithValueBytes makes hold the buffers they share with
// its argument until both are released, and no longer.
func TestWithValueBytesReleases(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	flat := emptyOnly(mem, arrow.BinaryTypes.String, 3)
	sd := array.NewData(arrow.StructOf(arrow.Field{Name: "f", Type: flat.DataType(), Nullable: true}), 3,
		[]*memory.Buffer{nil}, []arrow.ArrayData{flat.Data()}, 0, 0)
	st := array.NewStructData(sd)
	sd.Release()
	elems := emptyOnly(mem, arrow.BinaryTypes.Binary, 3)
	list := listOf(mem, elems)
	elems.Release()
	for _, a := range []arrow.Array{flat, st, list} {
		b, ok := WithValueBytes(a)
		if !ok {
			t.Fatalf("%s: not given value bytes", a.DataType())
		}
		a.Release()
		if got := b.String(); got == "" {
			t.Error("empty string form")
		}
		b.Release()
	}
	// Value bytes already there: the argument itself.
	b := array.NewStringBuilder(mem)
	b.Append("x")
	x := b.NewArray()
	b.Release()
	if got, c := WithValueBytes(x); got != x || c {
		t.Error("an array with value bytes was copied")
	}
	x.Release()
}
