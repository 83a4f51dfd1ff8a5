package snapshot

import (
	"strings"
	"testing"
)

func TestPlan(t *testing.T) {
	heap := func(name string, pages int64) Source { return Source{Name: name, Pages: pages} }
	tests := []struct {
		name    string
		sources []Source
		chunks  int
		want    []string // Task.String of each task, in order
	}{
		{"empty table: one open range", []Source{heap("t", 0)}, 8, []string{"task 0 (pages 0- of t)"}},
		{"fewer pages than chunks", []Source{heap("t", 3)}, 8, []string{
			"task 0 (pages 0-1 of t)", "task 1 (pages 1-2 of t)", "task 2 (pages 2- of t)"}},
		{"even split, last open", []Source{heap("t", 100)}, 4, []string{
			"task 0 (pages 0-25 of t)", "task 1 (pages 25-50 of t)", "task 2 (pages 50-75 of t)", "task 3 (pages 75- of t)"}},
		{"uneven split", []Source{heap("t", 10)}, 4, []string{
			"task 0 (pages 0-3 of t)", "task 1 (pages 3-6 of t)", "task 2 (pages 6-9 of t)", "task 3 (pages 9- of t)"}},
		{"chunks below one", []Source{heap("t", 10)}, 0, []string{"task 0 (pages 0- of t)"}},
		{"view: one plain task", []Source{{Name: "v", Pages: -1}}, 8, []string{"task 0 (all of v)"}},
		{"members by share of pages", []Source{heap("big", 90), heap("small", 10), {Name: "remote", Pages: -1}}, 10, []string{
			"task 0 (pages 0-10 of big)", "task 1 (pages 10-20 of big)", "task 2 (pages 20-30 of big)", "task 3 (pages 30-40 of big)",
			"task 4 (pages 40-50 of big)", "task 5 (pages 50-60 of big)", "task 6 (pages 60-70 of big)", "task 7 (pages 70-80 of big)",
			"task 8 (pages 80- of big)", "task 9 (pages 0- of small)", "task 10 (all of remote)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tasks := Plan(tc.sources, tc.chunks)
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
