package readback_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/pgparquet/pgparquet/internal/readback"
)

// table builds a Table sorted by "id" from rows of cells, where null stands for NULL.
func table(cols []string, rows ...[]string) *readback.Table {
	t := &readback.Table{Columns: cols, SortColumn: "id"}
	for _, r := range rows {
		row := make([]*string, len(r))
		for i, v := range r {
			if v != null {
				row[i] = &v
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func TestDiff(t *testing.T) {
	iv := []string{"id", "v"}
	base := table(iv, []string{"1", "a"}, []string{"2", "b"}, []string{"10", null})
	long := strings.Repeat("x", 200)
	tests := []struct {
		name      string
		want, got *readback.Table
		max       int
		lines     []string
	}{
		{"equal", base, table(iv, []string{"1", "a"}, []string{"2", "b"}, []string{"10", null}), 10, nil},
		{"changed cell", base, table(iv, []string{"1", "a"}, []string{"2", "c"}, []string{"10", null}), 10,
			[]string{`row 2 column v: postgres="b" parquet="c"`}},
		{"NULL against empty string", base, table(iv, []string{"1", "a"}, []string{"2", "b"}, []string{"10", ""}), 10,
			[]string{`row 10 column v: postgres=NULL parquet=""`}},
		{"quotes and control characters", table(iv, []string{"1", "a\"\n"}), table(iv, []string{"1", "a\" "}), 10,
			[]string{`row 1 column v: postgres="a\"\n" parquet="a\" "`}},
		{"column missing", base, table([]string{"id"}, []string{"1"}, []string{"2"}, []string{"10"}), 10,
			[]string{"column v: in postgres, missing from parquet"}},
		{"column extra", table([]string{"id"}, []string{"1"}), table([]string{"id", "w"}, []string{"1", "x"}), 10,
			[]string{"column w: in parquet, not in postgres"}},
		{"column order", base, table([]string{"v", "id"}, []string{"a", "1"}, []string{"b", "2"}, []string{null, "10"}), 10,
			[]string{"column order: postgres=[id v] parquet=[v id]"}},
		{"row missing", base, table(iv, []string{"1", "a"}, []string{"10", null}), 10,
			[]string{"row count: postgres=3 parquet=2", "row 2: in postgres, missing from parquet"}},
		{"row extra", base, table(iv, []string{"-5", "z"}, []string{"1", "a"}, []string{"2", "b"}, []string{"10", null}), 10,
			[]string{"row count: postgres=3 parquet=4", "row -5: in parquet, not in postgres"}},
		{"row key changed", base, table(iv, []string{"1", "a"}, []string{"3", "b"}, []string{"10", null}), 10,
			[]string{"row 2: in postgres, missing from parquet", "row 3: in parquet, not in postgres"}},
		{"at most max lines", base, table(iv, []string{"1", "x"}, []string{"2", "y"}, []string{"10", "z"}), 2,
			[]string{`row 1 column v: postgres="a" parquet="x"`, "... more differences not shown (first 1 above)"}},
		{"exactly max lines", base, table(iv, []string{"1", "x"}, []string{"2", "y"}, []string{"10", null}), 2,
			[]string{`row 1 column v: postgres="a" parquet="x"`, `row 2 column v: postgres="b" parquet="y"`}},
		{"max 1", base, table(iv, []string{"1", "x"}, []string{"2", "y"}, []string{"10", "z"}), 1,
			[]string{`row 1 column v: postgres="a" parquet="x"`}},
		{"long values shown around the difference", table(iv, []string{"1", long + "a"}), table(iv, []string{"1", long + "b"}), 10,
			[]string{`row 1 column v: postgres=...` + `"` + strings.Repeat("x", 30) + `a" (201 bytes, shown from byte 170) parquet=...` +
				`"` + strings.Repeat("x", 30) + `b" (201 bytes, shown from byte 170)`}},
		{"unkeyed tables pair rows by position", &readback.Table{Columns: []string{"v"}, Rows: base.Rows[:2]},
			&readback.Table{Columns: []string{"v"}, Rows: base.Rows[1:]}, 10,
			[]string{`row #0 column v: postgres="1" parquet="2"`, `row #1 column v: postgres="2" parquet="10"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readback.Diff(tt.want, tt.got, tt.max)
			if !slices.Equal(got, tt.lines) {
				t.Errorf("Diff =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.lines, "\n"))
			}
		})
	}
}
