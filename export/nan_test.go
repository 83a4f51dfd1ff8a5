package export_test

import (
	"context"
	"math"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// TestNestedNaNPayloads exports NaNs with payloads inside float8[] and float4[] after a plain
// NaN in the same row group: every element must keep its bits (the Parquet writer's
// dictionary would store one NaN for all of them), as top-level floats do.
func TestNestedNaNPayloads(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE nan (id int8, a float8[], b float4[], c float8)`)
	f64 := []uint64{0x7ff8000000000000, 0x7ff8000000000123, 0xfff8000000000456, math.Float64bits(1.5), 0x7ff8000000000000}
	f32 := []uint32{0x7fc00000, 0x7fc00123, 0xffc00456, math.Float32bits(-2.5)}
	rows := make([][]any, 0, 200)
	for i := range 200 {
		a := make([]float64, len(f64))
		for k, bits := range f64 {
			a[k] = math.Float64frombits(bits)
		}
		b := make([]float32, len(f32))
		for k, bits := range f32 {
			b[k] = math.Float32frombits(bits)
		}
		rows = append(rows, []any{int64(i), a, b, math.Float64frombits(f64[i%len(f64)])})
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"nan"}, []string{"id", "a", "b", "c"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "nan", OutputDir: dir, Parallel: 1}); err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, p := range partFiles(t, dir) {
		_, fr := openParquet(t, p)
		tbl, err := fr.ReadTable(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tbl.Release()
		for ci, name := range []string{"a", "b"} {
			for _, chunk := range tbl.Column(ci + 1).Data().Chunks() {
				list := chunk.(*array.List)
				for r := range list.Len() {
					start, end := list.ValueOffsets(r)
					for k := start; k < end; k++ {
						var got, want uint64
						switch v := list.ListValues().(type) {
						case *array.Float64:
							got, want = math.Float64bits(v.Value(int(k))), f64[k-start]
						case *array.Float32:
							got, want = uint64(math.Float32bits(v.Value(int(k)))), uint64(f32[k-start])
						}
						if got != want {
							t.Fatalf("column %s row %d element %d: bits %x, want %x", name, r, k-start, got, want)
						}
						seen++
					}
				}
			}
		}
	}
	if seen != 200*(len(f64)+len(f32)) {
		t.Errorf("checked %d elements, want %d", seen, 200*(len(f64)+len(f32)))
	}
}
