package readback

import (
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Diff returns the differences between want (by convention read from PostgreSQL) and got (read
// from Parquet), one human-readable line each, or nothing when the tables hold the same values.
// It reports, in order: columns present on one side only, a different column order, different
// row counts, rows whose sort key is on one side only, and then each differing cell as
//
//	row <sort key> column <name>: postgres=<v> parquet=<v>
//
// where <v> is NULL or the Go-quoted value (long values shortened around the first difference).
// Rows are paired by the value of want.SortColumn (the Tables' rows are sorted by it); when the
// two tables were not sorted by the same column, rows are paired by position and named `#<i>`.
// Cells are compared only in the columns both tables have; Types and Source are not compared.
// At most max lines come back (max <= 0: no limit); when some were left out, the last line says
// so.
func Diff(want, got *Table, max int) []string {
	d := differ{max: max}
	d.diff(want, got)
	if max > 0 && len(d.lines) > max {
		if max == 1 {
			return d.lines[:1]
		}
		return append(d.lines[:max-1], fmt.Sprintf("... more differences not shown (first %d above)", max-1))
	}
	return d.lines
}

type differ struct {
	max   int
	lines []string
}

// add records a line; it reports false once enough lines are recorded to know the result.
func (d *differ) add(format string, args ...any) bool {
	d.lines = append(d.lines, fmt.Sprintf(format, args...))
	return !d.full()
}

func (d *differ) full() bool { return d.max > 0 && len(d.lines) > d.max }

func (d *differ) diff(want, got *Table) {
	wantIdx, gotIdx := columnIndex(want.Columns), columnIndex(got.Columns)
	var common []string
	for _, c := range want.Columns {
		if _, ok := gotIdx[c]; ok {
			common = append(common, c)
		} else if !d.add("column %s: in postgres, missing from parquet", c) {
			return
		}
	}
	for _, c := range got.Columns {
		if _, ok := wantIdx[c]; !ok && !d.add("column %s: in parquet, not in postgres", c) {
			return
		}
	}
	if len(common) == len(want.Columns) && len(common) == len(got.Columns) && !slices.Equal(want.Columns, got.Columns) {
		if !d.add("column order: postgres=%v parquet=%v", want.Columns, got.Columns) {
			return
		}
	}
	if len(want.Rows) != len(got.Rows) && !d.add("row count: postgres=%d parquet=%d", len(want.Rows), len(got.Rows)) {
		return
	}

	wk, wok := wantIdx[want.SortColumn]
	gk, gok := gotIdx[want.SortColumn]
	var wantKeys, gotKeys []*big.Int
	keyed := want.SortColumn != "" && want.SortColumn == got.SortColumn && wok && gok
	if keyed {
		var err1, err2 error
		wantKeys, err1 = rowKeys(want.Rows, wk)
		gotKeys, err2 = rowKeys(got.Rows, gk)
		keyed = err1 == nil && err2 == nil
	}
	name := func(rows [][]*string, k, i int) string {
		if keyed {
			return *rows[i][k]
		}
		return "#" + strconv.Itoa(i)
	}
	i, j := 0, 0
	for i < len(want.Rows) || j < len(got.Rows) {
		c := 0
		switch {
		case i == len(want.Rows):
			c = 1
		case j == len(got.Rows):
			c = -1
		case keyed:
			c = wantKeys[i].Cmp(gotKeys[j])
		}
		switch {
		case c < 0:
			if !d.add("row %s: in postgres, missing from parquet", name(want.Rows, wk, i)) {
				return
			}
			i++
		case c > 0:
			if !d.add("row %s: in parquet, not in postgres", name(got.Rows, gk, j)) {
				return
			}
			j++
		default:
			for _, col := range common {
				w, g := want.Rows[i][wantIdx[col]], got.Rows[j][gotIdx[col]]
				if compareCell(w, g) != 0 && !d.add("row %s column %s: postgres=%s parquet=%s", name(want.Rows, wk, i), col, show(w, g), show(g, w)) {
					return
				}
			}
			i++
			j++
		}
	}
}

func columnIndex(cols []string) map[string]int {
	m := make(map[string]int, len(cols))
	for i, c := range cols {
		m[c] = i
	}
	return m
}

func rowKeys(rows [][]*string, k int) ([]*big.Int, error) {
	keys := make([]*big.Int, len(rows))
	for i, r := range rows {
		var err error
		if keys[i], err = parseKey(r[k]); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// maxShown is how many bytes of a value a diff line shows.
const maxShown = 120

// show formats v for a diff line: NULL, or v quoted; a long v is cut to a window that starts a
// little before where it first differs from other.
func show(v, other *string) string {
	if v == nil {
		return "NULL"
	}
	s := *v
	if len(s) <= maxShown {
		return strconv.Quote(s)
	}
	start := 0
	if other != nil {
		start = max(0, firstDifference(s, *other)-maxShown/4)
	}
	end := min(len(s), start+maxShown)
	for start > 0 && !utf8.RuneStart(s[start]) {
		start--
	}
	for end < len(s) && !utf8.RuneStart(s[end]) {
		end--
	}
	var b strings.Builder
	if start > 0 {
		b.WriteString("...")
	}
	b.WriteString(strconv.Quote(s[start:end]))
	if end < len(s) {
		b.WriteString("...")
	}
	fmt.Fprintf(&b, " (%d bytes, shown from byte %d)", len(s), start)
	return b.String()
}

func firstDifference(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
