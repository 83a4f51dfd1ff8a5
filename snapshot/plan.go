package snapshot

import (
	"fmt"
	"strings"
)

// Task is one COPY to run: a ctid page range of a source, or a whole source without ctid.
type Task struct {
	// Index numbers tasks from 0 in plan order.
	Index int
	// Source is the relation read.
	Source Source
	// StartPage and EndPage bound the range [StartPage, EndPage); EndPage < 0 means open-ended,
	// so rows on pages added after planning are still read. Both are 0 and Plain is true for a
	// source without ctid.
	StartPage, EndPage int64
	// Plain marks a COPY of the whole source without a ctid condition.
	Plain bool
}

// String describes the task for logs and error messages.
func (t Task) String() string {
	switch {
	case t.Plain:
		return fmt.Sprintf("task %d (all of %s)", t.Index, t.Source.Name)
	case t.EndPage < 0:
		return fmt.Sprintf("task %d (pages %d- of %s)", t.Index, t.StartPage, t.Source.Name)
	default:
		return fmt.Sprintf("task %d (pages %d-%d of %s)", t.Index, t.StartPage, t.EndPage, t.Source.Name)
	}
}

// CopySQL is the COPY statement that streams this task's rows in binary form. selectList is
// the already quoted (and cast) column list.
func (t Task) CopySQL(selectList string) string {
	return "COPY (" + t.selectSQL(selectList) + ") TO STDOUT (FORMAT BINARY)"
}

// selectSQL is the query of the task's rows, in the order COPY streams them.
func (t Task) selectSQL(selectList string) string {
	var b strings.Builder
	b.WriteString("SELECT ")
	b.WriteString(selectList)
	b.WriteString(" FROM ")
	if t.Source.Only {
		b.WriteString("ONLY ")
	}
	b.WriteString(t.Source.Name)
	if !t.Plain {
		fmt.Fprintf(&b, " WHERE ctid OPERATOR(pg_catalog.>=) '(%d,0)'::pg_catalog.tid", t.StartPage)
		if t.EndPage >= 0 {
			fmt.Fprintf(&b, " AND ctid OPERATOR(pg_catalog.<) '(%d,0)'::pg_catalog.tid", t.EndPage)
		}
	}
	return b.String()
}

// Plan splits sources into about chunks tasks: each heap source gets ranges in proportion to
// its pages (at least one), of equal page counts, the last of each open-ended; each source
// without ctid gets one plain task. Pages were measured inside the snapshot, so every row the
// snapshot sees lies on a planned page or, for rows moved later, is invisible to it anyway.
func Plan(sources []Source, chunks int) []Task {
	chunks = max(chunks, 1)
	var total int64
	for _, s := range sources {
		if s.Pages > 0 {
			total += s.Pages
		}
	}
	var tasks []Task
	add := func(t Task) {
		t.Index = len(tasks)
		tasks = append(tasks, t)
	}
	for _, s := range sources {
		if s.Pages < 0 {
			add(Task{Source: s, Plain: true})
			continue
		}
		n := int64(1)
		if total > 0 {
			n = max(1, (int64(chunks)*s.Pages+total/2)/total)
		}
		n = min(n, max(s.Pages, 1))
		size := (s.Pages + n - 1) / n
		for i := int64(0); i < n; i++ {
			end := (i + 1) * size
			if i == n-1 {
				end = -1
			}
			add(Task{Source: s, StartPage: i * size, EndPage: end})
		}
	}
	return tasks
}
