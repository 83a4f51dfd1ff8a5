package device

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/compress"

	"github.com/pgparquet/pgparquet/internal/copytest"
	"github.com/pgparquet/pgparquet/pqfile"
)

// cpuFirsts is each row's first row holding its value (-1 for NULL), on the CPU: what the
// device's grouping must give.
func cpuFirsts(a arrow.Array) []int32 {
	seen := map[string]int32{}
	out := make([]int32, a.Len())
	for i := range out {
		if a.IsNull(i) {
			out[i] = -1
			continue
		}
		var v string
		switch s := a.(type) {
		case *array.String:
			v = s.Value(i)
		case *array.Binary:
			v = string(s.Value(i))
		}
		f, ok := seen[v]
		if !ok {
			f = int32(i)
			seen[v] = f
		}
		out[i] = f
	}
	return out
}

// fusingEncoder registers, before each Append, the CPU twin's fragments of the whole columns
// (offset 0) as a decoder registers its fused columns, appends with enc, which takes them
// (the sliced columns it encodes itself), and then releases the batch.
type fusingEncoder struct {
	enc *PageEncoder
	reg *fusedResults
}

func (f fusingEncoder) Append(cols []arrow.Array, dst []*pqfile.PlainColumn) error {
	var keys []arrow.ArrayData
	var fc []*fusedColumn
	fields := make([]arrow.Field, len(cols))
	for i, a := range cols {
		fields[i] = arrow.Field{Name: fmt.Sprint("c", i), Type: a.DataType(), Nullable: true}
		if a.Data().Offset() != 0 {
			continue
		}
		frag, st, err := pqfile.PlainFragment(a)
		if err != nil {
			continue
		}
		keys, fc = append(keys, a.Data()), append(fc, &fusedColumn{op: fusedPlain, rows: a.Len(), frag: frag, stats: st})
	}
	n := int64(0)
	if len(cols) > 0 {
		n = int64(cols[0].Len())
	}
	rec := newFusedRecord(array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, n), f.reg, keys, fc, nil)
	defer rec.Release()
	return f.enc.Append(cols, dst)
}

// TestPageEncoderFused: the fragments a decoder computed with its decoding (fusedResults) are
// appended as they are, the other columns encoded apart, and the pages equal the CPU twin's;
// a released batch leaves no fused column behind.
func TestPageEncoderFused(t *testing.T) {
	dev := Start(ModeOff, "", nil)
	enc, err := dev.PageEncoder(compress.Codecs.Snappy)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	if !dev.fused.active() {
		t.Fatal("an open PageEncoder leaves fusion off")
	}
	cpu, err := pqfile.NewCPUPlain(compress.Codecs.Snappy)
	if err != nil {
		t.Fatal(err)
	}
	if err := compareEncoders(rand.New(rand.NewPCG(3, 4)), fusingEncoder{enc, &dev.fused}, cpu, 30); err != nil {
		t.Fatal(err)
	}
	if _, c := enc.Counts(); enc.FusedCount() == 0 || c == 0 {
		t.Fatalf("%d column batches fused, %d encoded on the CPU; want some of both", enc.FusedCount(), c)
	}
	n := 0
	dev.fused.m.Range(func(any, any) bool { n++; return true })
	if n != 0 {
		t.Fatalf("%d fused columns left", n)
	}
	enc.Close()
	if dev.fused.active() {
		t.Fatal("fusion still on after the PageEncoder closed")
	}
}

// TestUniquesFused: Uniques gives a fused grouping's groups as they are; a collided grouping,
// and a slice, are left to the caller.
func TestUniquesFused(t *testing.T) {
	dev := Start(ModeOff, "", nil)
	enc, err := dev.PageEncoder(compress.Codecs.Snappy)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	sb := array.NewStringBuilder(memory.DefaultAllocator)
	bb := array.NewBinaryBuilder(memory.DefaultAllocator, arrow.BinaryTypes.Binary)
	for range 1000 {
		if rng.IntN(10) == 0 {
			sb.AppendNull()
			bb.AppendNull()
			continue
		}
		v := fmt.Sprint("v", rng.IntN(30))
		sb.Append(v)
		bb.Append([]byte(v + "b"))
	}
	str, bin := sb.NewArray(), bb.NewArray()
	sb.Release()
	bb.Release()
	third := str.(*array.String)
	collided := array.NewSlice(third, 0, int64(third.Len())) // offset 0: a whole array of its own
	defer collided.Release()
	cols := []arrow.Array{str, bin, collided}
	fc := make([]*fusedColumn, 3)
	for i, a := range cols {
		ids, firsts, err := groupsOf(cpuFirsts(a), a.Len())
		if err != nil {
			t.Fatal(err)
		}
		fc[i] = &fusedColumn{op: fusedUniq, rows: a.Len(), ids: ids, firsts: firsts, collided: i == 2}
	}
	fields := []arrow.Field{{Name: "s", Type: str.DataType(), Nullable: true}, {Name: "b", Type: bin.DataType(), Nullable: true},
		{Name: "c", Type: str.DataType(), Nullable: true}}
	rec := newFusedRecord(array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, 1000), &dev.fused,
		[]arrow.ArrayData{str.Data(), bin.Data(), collided.Data()}, fc, nil)
	str.Release()
	bin.Release()
	slice := array.NewSlice(rec.Column(0), 8, 100)
	defer slice.Release()
	ids, firsts := enc.Uniques([]arrow.Array{rec.Column(0), rec.Column(1), rec.Column(2), slice})
	for i := range 2 {
		if !reflect.DeepEqual(ids[i], fc[i].ids) || !reflect.DeepEqual(firsts[i], fc[i].firsts) {
			t.Errorf("column %d: not the fused groups", i)
		}
	}
	if ids[2] != nil || ids[3] != nil {
		t.Errorf("a collided grouping or a slice was grouped: %v, %v", ids[2] != nil, ids[3] != nil)
	}
	rec.Release()
	n := 0
	dev.fused.m.Range(func(any, any) bool { n++; return true })
	if n != 0 {
		t.Fatalf("%d fused columns left", n)
	}
}

// TestAppendBytesFused: a string column's PLAIN fragment and min and max rows computed with its
// decoding (fusedResults) give the ByteColumn pages Append gives; a slice, or a column without
// one, is left to the caller.
func TestAppendBytesFused(t *testing.T) {
	dev := Start(ModeOff, "", nil)
	enc, err := dev.PageEncoder(compress.Codecs.Snappy)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	enc.PlainBytes(0)
	if !dev.fused.wantsBytes(0) || dev.fused.wantsBytes(1) {
		t.Fatal("PlainBytes(0) not recorded, or recorded for another field")
	}
	rng := rand.New(rand.NewPCG(8, 9))
	a, b := pqfile.NewByteColumn(true, 1<<10, true, 0), pqfile.NewByteColumn(true, 1<<10, true, 0)
	for batch := range 40 {
		sb := array.NewStringBuilder(memory.DefaultAllocator)
		n := []int{0, 1, 17, 300}[batch%4]
		for range n {
			switch rng.IntN(8) {
			case 0:
				sb.AppendNull()
			case 1:
				sb.Append("")
			default:
				sb.Append(fmt.Sprint(rng.IntN(1000), "é", rng.IntN(7)))
			}
		}
		arr := sb.NewArray()
		sb.Release()
		frag, lo, hi := copytest.PlainBytes(arr)
		f := &fusedColumn{op: fusedBytes, rows: arr.Len(), frag: frag, minRow: -1, maxRow: -1}
		for i := range arr.Len() {
			if !arr.IsNull(i) && f.minRow < 0 && bytes.Equal(copytest.ValueBytes(arr, i), lo) {
				f.minRow = int32(i)
			}
			if !arr.IsNull(i) && f.maxRow < 0 && bytes.Equal(copytest.ValueBytes(arr, i), hi) {
				f.maxRow = int32(i)
			}
		}
		rec := newFusedRecord(array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "s", Type: arr.DataType(), Nullable: true}}, nil),
			[]arrow.Array{arr}, int64(arr.Len())), &dev.fused, []arrow.ArrayData{arr.Data()}, []*fusedColumn{f}, nil)
		done, err := enc.AppendBytes(rec.Column(0), a)
		if err != nil || !done {
			t.Fatalf("batch %d: AppendBytes: %v, %v", batch, done, err)
		}
		if err := b.Append(rec.Column(0)); err != nil {
			t.Fatal(err)
		}
		if n > 1 {
			s := array.NewSlice(rec.Column(0), 1, int64(n))
			if done, _ := enc.AppendBytes(s, a); done {
				t.Fatal("a slice was appended from the batch's fragment")
			}
			s.Release()
		}
		arr.Release()
		rec.Release()
		for a.Full() || b.Full() || (batch == 39 && (a.Rows() > 0 || b.Rows() > 0)) {
			pa, _ := a.Take()
			pb, _ := b.Take()
			if !bytes.Equal(pa.Data, pb.Data) || !bytes.Equal(pa.Levels, pb.Levels) || !reflect.DeepEqual(pa.Stats, pb.Stats) {
				t.Fatalf("batch %d: page of %d bytes, %+v; Append's %d bytes, %+v", batch, len(pa.Data), pa.Stats, len(pb.Data), pb.Stats)
			}
		}
	}
	if enc.FusedCount() != 40 {
		t.Errorf("%d byte-array batches appended from fragments, want 40", enc.FusedCount())
	}
}
