package export

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/pgparquet/pgparquet/pgarrow"
)

// parquetLeaf is one Parquet leaf column of an export's schema: writer properties name columns
// by these paths, and a nested field (a list, a struct) has leaves below its own name.
type parquetLeaf struct {
	path parquet.ColumnPath
	// fixed: a leaf of a fixed-width physical type (not BYTE_ARRAY or FIXED_LEN_BYTE_ARRAY).
	// Such leaves are never dictionary-encoded: a hash lookup per value for little gain, and for
	// FLOAT and DOUBLE the writer's dictionary treats every NaN as one value, where NaN
	// payloads must stay bit for bit.
	fixed bool
	// repeated: a leaf below a list, whose statistics arrow-go's FileWriter gets wrong
	// (fileSeries.open).
	repeated bool
}

// parquetLeaves lists, per top-level field of sc, its Parquet leaf columns.
func parquetLeaves(sc *arrow.Schema, arrowProps pqarrow.ArrowWriterProperties) ([][]parquetLeaf, error) {
	psc, err := pqarrow.ToParquet(sc, parquet.NewWriterProperties(), arrowProps)
	if err != nil {
		return nil, fmt.Errorf("map the Arrow schema to Parquet: %w", err)
	}
	out := make([][]parquetLeaf, sc.NumFields())
	for i := 0; i < psc.NumColumns(); i++ {
		root := psc.Root().FieldIndexByField(psc.ColumnRoot(i))
		if root < 0 || root >= len(out) {
			return nil, fmt.Errorf("map the Arrow schema to Parquet: leaf %s has no top-level field", psc.Column(i).Path())
		}
		c := psc.Column(i)
		fixed := c.PhysicalType() != parquet.Types.ByteArray && c.PhysicalType() != parquet.Types.FixedLenByteArray
		out[root] = append(out[root], parquetLeaf{path: c.ColumnPath(), fixed: fixed, repeated: c.MaxRepetitionLevel() > 0})
	}
	return out, nil
}

// leafColumns is how many Parquet leaf columns cols have (one per flat column; a nested one's
// leaves), for the export's memory budget; with a schema that does not map, one per column.
func leafColumns(cols []pgarrow.Column) int {
	leaves, err := parquetLeaves(pgarrow.ArrowSchema(cols), pqarrow.NewArrowWriterProperties())
	if err != nil {
		return len(cols) // the export fails on it later, with the error
	}
	n := 0
	for _, l := range leaves {
		n += len(l)
	}
	return n
}
