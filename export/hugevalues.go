package export

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
)

// Huge values (a text or bytea of hundreds of MB) and column statistics.
//
// arrow-go (v18.8) keeps a byte-array column's page and chunk min/max as copies of the values
// and encodes each copy again for the page header and the footer, before its size limit
// (MaxStatsSize, 4 KiB) drops them: a huge value that is a page's min and max is held about
// eight times over. So a lane that meets a value larger
// than hugeValueBytes in a column writes that column without statistics from then on: it
// starts a new file, whose writer properties turn the column's statistics off, before it
// writes the batch. Statistics that large would have been dropped anyway; the cost is the
// min/max of that column's later row groups in this lane's files.

// hugeValueBytes is the size past which one value is written plain (dictionary.go) and its
// column without statistics.
const hugeValueBytes = 1 << 20

// rowGroupCutValueBytes is the size past which one value ends its row group: the column
// writer's encoder and page buffers, grown to hold it, are then freed rather than kept by the
// lane until the row group ends.
const rowGroupCutValueBytes = 64 << 20

// recordHasValueOver says whether a column of rec holds a value larger than limit bytes.
func recordHasValueOver(rec arrow.RecordBatch, limit int) bool {
	for _, c := range rec.Columns() {
		if hasValueOver(c, limit) {
			return true
		}
	}
	return false
}

// hasHugeValue says whether one of arr's byte-array values, at any nesting depth, is larger
// than hugeValueBytes.
func hasHugeValue(arr arrow.Array) bool { return hasValueOver(arr, hugeValueBytes) }

// hasValueOver says whether one of arr's byte-array values, at any nesting depth, is larger
// than limit bytes. It reads offsets only where the array's value bytes exceed limit.
func hasValueOver(arr arrow.Array, limit int) bool {
	switch a := arr.(type) {
	case array.ExtensionArray:
		return hasValueOver(a.Storage(), limit)
	case *array.Dictionary:
		return hasValueOver(a.Dictionary(), limit)
	case array.ListLike:
		return hasValueOver(a.ListValues(), limit)
	case *array.Struct:
		for i := 0; i < a.NumField(); i++ {
			if hasValueOver(a.Field(i), limit) {
				return true
			}
		}
		return false
	case interface {
		ValueOffsets() []int32
		ValueBytes() []byte
	}:
		if len(a.ValueBytes()) <= limit {
			return false
		}
		offs := a.ValueOffsets()
		for i := 1; i < len(offs); i++ {
			if offs[i]-offs[i-1] > int32(limit) {
				return true
			}
		}
		return false
	case interface {
		ValueOffsets() []int64
		ValueBytes() []byte
	}:
		if len(a.ValueBytes()) <= limit {
			return false
		}
		offs := a.ValueOffsets()
		for i := 1; i < len(offs); i++ {
			if offs[i]-offs[i-1] > int64(limit) {
				return true
			}
		}
		return false
	}
	return false
}

// markHugeColumns records in s.noStats the columns of rec that hold a huge value and still
// had statistics, and says whether there were any: the caller then starts a new file.
func (s *fileSeries) markHugeColumns(rec arrow.RecordBatch) bool {
	if s.noStats == nil {
		s.noStats = make([]bool, rec.NumCols())
	}
	marked := false
	for i := range s.noStats {
		if !s.noStats[i] && hasHugeValue(rec.Column(i)) {
			s.noStats[i] = true
			marked = true
		}
	}
	return marked
}

// noStatsColumns turns statistics off for the Parquet leaf columns of the top-level columns
// that held a huge value in this lane.
func (s *fileSeries) noStatsColumns() []parquet.WriterProperty {
	var out []parquet.WriterProperty
	for i, off := range s.noStats {
		if !off {
			continue
		}
		for _, leaf := range s.format.leaves[i] {
			out = append(out, parquet.WithStatsPath(leaf.path, false))
		}
	}
	return out
}
