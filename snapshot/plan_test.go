package snapshot

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestPlan(t *testing.T) {
	heap := func(name string, pages int64) Source { return Source{Name: name, Pages: pages} }
	tests := []struct {
		name    string
		sources []Source
		chunks  int
		workers int
		want    []string // Task.String of each task, in order
	}{
		{"empty table: one open range", []Source{heap("t", 0)}, 8, 2, []string{"task 0 (pages 0- of t)"}},
		{"fewer pages than chunks", []Source{heap("t", 3)}, 8, 2, []string{
			"task 0 (pages 0-1 of t)", "task 1 (pages 1-2 of t)", "task 2 (pages 2- of t)"}},
		{"even split, last open", []Source{heap("t", 100)}, 4, 4, []string{
			"task 0 (pages 0-25 of t)", "task 1 (pages 25-50 of t)", "task 2 (pages 50-75 of t)", "task 3 (pages 75- of t)"}},
		{"uneven split", []Source{heap("t", 10)}, 4, 0, []string{
			"task 0 (pages 0-3 of t)", "task 1 (pages 3-5 of t)", "task 2 (pages 5-8 of t)", "task 3 (pages 8- of t)"}},
		{"chunks below one", []Source{heap("t", 10)}, 0, 4, []string{"task 0 (pages 0- of t)"}},
		{"view: one plain task", []Source{{Name: "v", Pages: -1}}, 8, 4, []string{"task 0 (all of v)"}},
		{"rounds halve", []Source{heap("t", 1500)}, 8, 2, []string{
			"task 0 (pages 0-400 of t)", "task 1 (pages 400-800 of t)", "task 2 (pages 800-1000 of t)", "task 3 (pages 1000-1200 of t)",
			"task 4 (pages 1200-1300 of t)", "task 5 (pages 1300-1400 of t)", "task 6 (pages 1400-1450 of t)", "task 7 (pages 1450- of t)"}},
		{"rounds stop halving at a sixteenth", []Source{heap("t", 3300)}, 14, 2, []string{
			"task 0 (pages 0-800 of t)", "task 1 (pages 800-1600 of t)", "task 2 (pages 1600-2000 of t)", "task 3 (pages 2000-2400 of t)",
			"task 4 (pages 2400-2600 of t)", "task 5 (pages 2600-2800 of t)", "task 6 (pages 2800-2900 of t)", "task 7 (pages 2900-3000 of t)",
			"task 8 (pages 3000-3050 of t)", "task 9 (pages 3050-3100 of t)", "task 10 (pages 3100-3150 of t)", "task 11 (pages 3150-3200 of t)",
			"task 12 (pages 3200-3250 of t)", "task 13 (pages 3250- of t)"}},
		{"tiny rounds keep a page each", []Source{heap("t", 20)}, 12, 4, []string{
			"task 0 (pages 0-3 of t)", "task 1 (pages 3-6 of t)", "task 2 (pages 6-9 of t)", "task 3 (pages 9-11 of t)",
			"task 4 (pages 11-13 of t)", "task 5 (pages 13-14 of t)", "task 6 (pages 14-15 of t)", "task 7 (pages 15-16 of t)",
			"task 8 (pages 16-17 of t)", "task 9 (pages 17-18 of t)", "task 10 (pages 18-19 of t)", "task 11 (pages 19- of t)"}},
		{"members by share of pages, plain first, largest first", []Source{heap("small", 6), heap("big", 94), {Name: "remote", Pages: -1}}, 10, 0, []string{
			"task 0 (all of remote)",
			"task 1 (pages 0-10 of big)", "task 2 (pages 10-21 of big)", "task 3 (pages 21-31 of big)", "task 4 (pages 31-42 of big)",
			"task 5 (pages 42-52 of big)", "task 6 (pages 52-63 of big)", "task 7 (pages 63-73 of big)", "task 8 (pages 73-84 of big)",
			"task 9 (pages 84- of big)", "task 10 (pages 0- of small)"}},
		{"members in rounds", []Source{heap("a", 300), heap("b", 100)}, 4, 2, []string{
			"task 0 (pages 0-120 of a)", "task 1 (pages 120-240 of a)", "task 2 (pages 0- of b)", "task 3 (pages 240- of a)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tasks := Plan(tc.sources, tc.chunks, tc.workers)
			var got []string
			for _, task := range tasks {
				got = append(got, task.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("Plan:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestPlanCoversEveryPage checks, for many shapes, that a source's ranges tile its pages
// without gaps or overlaps, end open, hold a page each, and come largest first.
func TestPlanCoversEveryPage(t *testing.T) {
	for _, pages := range []int64{0, 1, 2, 7, 63, 64, 65, 1000, 123457} {
		for _, chunks := range []int{1, 2, 5, 16, 64, 200} {
			for _, workers := range []int{0, 1, 2, 4, 16, 64} {
				tasks := Plan([]Source{{Name: "t", Pages: pages}}, chunks, workers)
				byStart := slices.Clone(tasks)
				slices.SortFunc(byStart, func(a, b Task) int { return cmp.Compare(a.StartPage, b.StartPage) })
				next := int64(0)
				for i, task := range byStart {
					last := i == len(byStart)-1
					if task.StartPage != next || (last != (task.EndPage < 0)) || (!last && task.EndPage <= task.StartPage) {
						t.Fatalf("pages %d chunks %d workers %d: ranges %v", pages, chunks, workers, tasks)
					}
					next = task.EndPage
				}
				size := func(task Task) int64 {
					if task.EndPage < 0 {
						return pages - task.StartPage
					}
					return task.EndPage - task.StartPage
				}
				for i := 1; i < len(tasks); i++ {
					// Rounding to pages may make a later range one page larger.
					if size(tasks[i]) > size(tasks[i-1])+1 {
						t.Fatalf("pages %d chunks %d workers %d: task %d larger than task %d: %v", pages, chunks, workers, i, i-1, tasks)
					}
				}
			}
		}
	}
}

func TestTaskCopySQL(t *testing.T) {
	tests := []struct {
		task Task
		want string
	}{
		{Task{Source: Source{Name: `public."T"`}, StartPage: 5, EndPage: 9},
			`COPY (SELECT a, "B"::text FROM public."T" WHERE ctid OPERATOR(pg_catalog.>=) '(5,0)'::pg_catalog.tid AND ctid OPERATOR(pg_catalog.<) '(9,0)'::pg_catalog.tid) TO STDOUT (FORMAT BINARY)`},
		{Task{Source: Source{Name: "s.t", Only: true}, StartPage: 9, EndPage: -1},
			`COPY (SELECT a, "B"::text FROM ONLY s.t WHERE ctid OPERATOR(pg_catalog.>=) '(9,0)'::pg_catalog.tid) TO STDOUT (FORMAT BINARY)`},
		{Task{Source: Source{Name: "s.v", Pages: -1}, Plain: true},
			`COPY (SELECT a, "B"::text FROM s.v) TO STDOUT (FORMAT BINARY)`},
	}
	for _, tc := range tests {
		if got := tc.task.CopySQL(`a, "B"::text`); got != tc.want {
			t.Errorf("CopySQL:\n got %s\nwant %s", got, tc.want)
		}
	}
}

func TestMulDiv(t *testing.T) {
	tests := []struct{ a, b, c, want int64 }{
		{10, 3, 4, 8}, // 7.5 rounds up
		{10, 1, 4, 3}, // 2.5 rounds up
		{0, 5, 3, 0},
		{1 << 40, 1 << 40, 1 << 41, 1 << 39},
		{math.MaxInt64, 3, 3, math.MaxInt64},
		{math.MaxInt64, math.MaxInt64, 1, math.MaxInt64},
	}
	for _, tc := range tests {
		if got := mulDiv(tc.a, tc.b, tc.c); got != tc.want {
			t.Errorf("mulDiv(%d, %d, %d) = %d, want %d", tc.a, tc.b, tc.c, got, tc.want)
		}
	}
}
