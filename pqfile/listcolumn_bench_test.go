package pqfile

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// wideListRows is the rows of a batch of bench/load's wide table as a lane writes it.
const wideListRows = 122880

// wideLists is a batch of the wide table's list columns: tags text[] (3 values of a lane
// dictionary of 16 a row, as the export's stringDict makes them) and vals int[] (3 int32 a
// row), a NULL list in 1 row of 50, and the file schema.
func wideLists() (tags, vals arrow.Array, sc *arrow.Schema) {
	mem := memory.DefaultAllocator
	dict := stringArray(lettersDict(16, false)[1:])
	defer dict.Release()
	n := wideListRows
	offs := make([]int32, n+1)
	valid := make([]byte, (n+7)/8)
	ib, vb := array.NewInt32Builder(mem), array.NewInt32Builder(mem)
	defer ib.Release()
	defer vb.Release()
	for r := range n {
		offs[r+1] = offs[r]
		if r%50 == 7 {
			continue
		}
		valid[r/8] |= 1 << (r % 8)
		for j := range 3 {
			ib.Append(int32((r*7 + j*3) % 15))
			vb.Append(int32(r*3 + j))
		}
		offs[r+1] += 3
	}
	nulls := n / 50
	list := func(child arrow.Array) arrow.Array {
		t := arrow.ListOfField(arrow.Field{Name: "element", Type: child.DataType(), Nullable: true})
		data := array.NewData(t, n, []*memory.Buffer{memory.NewBufferBytes(valid), memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offs))},
			[]arrow.ArrayData{child.Data()}, nulls, 0)
		defer data.Release()
		return array.MakeFromData(data)
	}
	idx := ib.NewArray()
	defer idx.Release()
	d := array.NewDictionaryArray(dictOf(arrow.BinaryTypes.String), idx, dict)
	defer d.Release()
	v := vb.NewArray()
	defer v.Release()
	tags, vals = list(d), list(v)
	sc = arrow.NewSchema([]arrow.Field{{Name: "tags", Type: tags.DataType(), Nullable: true}, {Name: "vals", Type: vals.DataType(), Nullable: true}}, nil)
	return tags, vals, sc
}

// BenchmarkListColumns writes the wide table's list columns, a batch a row group, as the GPU
// writer's lanes do (snappy; the pages compressed by CPUPlain, a call per row group): "AppendField"
// through arrow-go's column writers (pqfile's levels, writeDictLeaf), "ListColumn" through
// ListColumn's pages.
func BenchmarkListColumns(b *testing.B) {
	ctx := context.Background()
	tags, vals, sc := wideLists()
	defer tags.Release()
	defer vals.Release()
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy), parquet.WithStats(true),
		parquet.WithDictionaryPath(parquet.ColumnPathFromString("vals.list.element"), false))
	comp, err := NewCPUPlain(compress.Codecs.Snappy)
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, add func(g *RowGroup) error) {
		b.ReportAllocs()
		for b.Loop() {
			w, err := NewWriterWith(io.Discard, sc, props, WriterOptions{ArrowProps: pqarrow.NewArrowWriterProperties(), Compressor: comp})
			if err != nil {
				b.Fatal(err)
			}
			g, err := w.NewRowGroup(props)
			if err != nil {
				b.Fatal(err)
			}
			if err := add(g); err != nil {
				b.Fatal(err)
			}
			if err := g.Close(); err != nil {
				b.Fatal(err)
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*wideListRows), "ns/row")
	}
	b.Run("AppendField", func(b *testing.B) {
		run(b, func(g *RowGroup) error {
			if err := g.AppendField(ctx, 0, tags); err != nil {
				return err
			}
			return g.AppendField(ctx, 1, vals)
		})
	})
	b.Run("ListColumn", func(b *testing.B) {
		tc, err := NewListColumn(tags.DataType(), true, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		defer tc.Release()
		vc, err := NewListColumn(vals.DataType(), true, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		run(b, func(g *RowGroup) error {
			if err := tc.Append(tags); err != nil {
				return err
			}
			if err := vc.Append(vals); err != nil {
				return err
			}
			var raw [][]RawPage
			var which []int
			for k, c := range []*ListColumn{tc, vc} {
				for c.Rows() > 0 {
					p, _ := c.Take()
					raw, which = append(raw, []RawPage{p}), append(which, k)
				}
			}
			pages, err := g.Compress(raw)
			if err != nil {
				return err
			}
			for n, k := range which {
				e := Encoded{Pages: pages[n], Stats: raw[n][0].Stats}
				if k == 0 {
					err = g.AppendDictPages(0, tc.Dictionary(), e)
				} else {
					err = g.AppendPages(1, e)
					vc.Recycle(raw[n][0])
				}
				if err != nil {
					return fmt.Errorf("column %d: %w", k, err)
				}
			}
			return nil
		})
	})
}
