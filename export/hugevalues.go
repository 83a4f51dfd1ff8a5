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

// hugeValues returns, per column of rec, the length of its largest byte-array value (at any
// nesting depth) when that is over hugeValueBytes, else 0. It is computed once per batch: the
// statistics, the dictionaries and the row-group cut all ask it.
func hugeValues(rec arrow.RecordBatch) []int {
	out := make([]int, rec.NumCols())
	for i, c := range rec.Columns() {
		out[i] = largestValue(c, hugeValueBytes)
	}
	return out
}

// largestValue is the length of arr's largest byte-array value, at any nesting depth, when it
// is over floor bytes, else 0. It reads offsets only where the array's value bytes exceed floor.
func largestValue(arr arrow.Array, floor int) int {
	switch a := arr.(type) {
	case array.ExtensionArray:
		return largestValue(a.Storage(), floor)
	case *array.Dictionary:
		return largestValue(a.Dictionary(), floor)
	case array.ListLike:
		return largestValue(a.ListValues(), floor)
	case *array.Struct:
		largest := 0
		for i := 0; i < a.NumField(); i++ {
			largest = max(largest, largestValue(a.Field(i), floor))
		}
		return largest
	case interface {
		ValueOffsets() []int32
		ValueBytes() []byte
	}:
		return largestGap(a.ValueOffsets(), len(a.ValueBytes()), floor)
	case interface {
		ValueOffsets() []int64
		ValueBytes() []byte
	}:
		return largestGap(a.ValueOffsets(), len(a.ValueBytes()), floor)
	}
	return 0
}

// largestGap is the largest difference of consecutive offsets when it is over floor, else 0;
// with at most floor value bytes in all, none can be, and offs is not read.
func largestGap[T int32 | int64](offs []T, valueBytes, floor int) int {
	if valueBytes <= floor {
		return 0
	}
	largest := 0
	for i := 1; i < len(offs); i++ {
		largest = max(largest, int(offs[i]-offs[i-1]))
	}
	if largest <= floor {
		return 0
	}
	return largest
}

// markHugeColumns records in s.noStats the columns that hold a huge value (huge, as
// hugeValues gives it) and still had statistics, and says whether there were any: the caller
// then starts a new file.
func (s *fileSeries) markHugeColumns(huge []int) bool {
	if s.noStats == nil {
		s.noStats = make([]bool, len(huge))
	}
	marked := false
	for i := range s.noStats {
		if !s.noStats[i] && huge[i] > 0 {
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
