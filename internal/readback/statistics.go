package readback

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
)

//go:embed check_stats.py
var checkStatsPy string

// statsScript is check_stats.py with parquet_files.py before it: Python reads it on stdin.
var statsScript = parquetFilesPy + "\n" + checkStatsPy

// StatisticsChecked counts what CheckStatistics compared with the true values, so that a test
// can require that its files had statistics to check at all.
type StatisticsChecked struct {
	Files     int `json:"files"`
	RowGroups int `json:"row_groups"`
	// Chunks is the number of leaf column chunks; ChunkNullCounts and ChunkMinMax those whose
	// NULL count and min/max were compared exactly, ChunkMinMaxSoundOnly those whose min/max
	// were flagged inexact (truncated byte arrays) and so only required to bound the values.
	Chunks               int `json:"chunks"`
	ChunkNullCounts      int `json:"chunk_null_counts"`
	ChunkMinMax          int `json:"chunk_min_max"`
	ChunkMinMaxSoundOnly int `json:"chunk_min_max_sound_only"`
	// ChunkDeprecatedMinMax counts chunks that also carry the deprecated min/max fields (set
	// for signed-order columns, for old readers), compared the same way.
	ChunkDeprecatedMinMax int `json:"chunk_deprecated_min_max"`
	// UnorderedMinMax counts min/max left unchecked because the column's order is undefined
	// (INT96, INTERVAL, VARIANT, geospatial types).
	UnorderedMinMax int `json:"unordered_min_max"`
	// Pages is the number of data pages; PageNullCounts and PageMinMax those whose header
	// statistics were compared.
	Pages          int `json:"pages"`
	PageNullCounts int `json:"page_null_counts"`
	PageMinMax     int `json:"page_min_max"`
	// ColumnIndexes and OffsetIndexes count the chunks whose page index was compared.
	ColumnIndexes int `json:"column_indexes"`
	OffsetIndexes int `json:"offset_indexes"`
}

// StatisticsError is CheckStatistics's error when some statistics are not the true ones.
type StatisticsError struct {
	Paths []string
	// Lines has one line per wrong statistic: file, row group, column (page), what it
	// claims and what is true. More counts the lines left out (the script keeps 200).
	Lines []string
	More  int
}

// shownStatisticsErrors is how many of StatisticsError's lines its message shows.
const shownStatisticsErrors = 10

func (e *StatisticsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "statistics of %s differ from the values they cover (%d):", strings.Join(e.Paths, " "), len(e.Lines)+e.More)
	for i, l := range e.Lines {
		if i == shownStatisticsErrors {
			fmt.Fprintf(&b, "\n... and %d more", len(e.Lines)+e.More-i)
			break
		}
		b.WriteString("\n" + l)
	}
	return b.String()
}

// CheckStatistics reads the Parquet files in paths (files, directories as FromParquet takes
// them, or s3:// objects) and compares every statistic they hold with the values pyarrow reads
// back: for each row group and leaf column chunk, and for each data page (its header's
// statistics, and the column index where there is one), the NULL count, and the min and max
// under the Parquet order of the column's type (check_stats.py, embedded in this package, says
// which order, and where only soundness can be required). Statistics are parsed from the files'
// Thrift by the script, not through pyarrow, which hides some. A missing min/max is not an
// error; a wrong one, or one on values that have none (all NULL, all NaN), is.
//
// It returns what was compared; the error is a *StatisticsError when statistics are wrong, and
// another error when the files could not be read.
func CheckStatistics(ctx context.Context, paths ...string) (StatisticsChecked, error) {
	var none StatisticsChecked
	if len(paths) == 0 {
		return none, fmt.Errorf("check parquet statistics: no paths given")
	}
	py, err := Python()
	if err != nil {
		return none, fmt.Errorf("check statistics of %s: %w", strings.Join(paths, " "), err)
	}
	var doc struct {
		Checked StatisticsChecked `json:"checked"`
		Errors  []string          `json:"errors"`
		More    int               `json:"more_errors"`
	}
	if err := runScript(ctx, py, statsScript, append([]string{"--"}, paths...), &doc); err != nil {
		return none, fmt.Errorf("check statistics of %s: %w", strings.Join(paths, " "), err)
	}
	if len(doc.Errors) > 0 {
		return doc.Checked, &StatisticsError{Paths: paths, Lines: doc.Errors, More: doc.More}
	}
	return doc.Checked, nil
}
