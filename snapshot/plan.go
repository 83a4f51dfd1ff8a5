package snapshot

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"slices"
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

// Plan splits sources into about chunks tasks for workers connections that take them in the
// returned order, each the next task when it finishes one. Each heap source gets ranges in
// proportion to its pages (at least one, no more than its pages), the last of each
// open-ended; each source without ctid gets one plain task, first (it cannot be split, so it
// must not start last). Pages were measured inside the snapshot, so every row the snapshot
// sees lies on a planned page or, for rows moved later, is invisible to it anyway.
//
// Ranges shrink and are handed out largest first, so that the workers run out of work
// together: a source's ranges come in rounds of workers ranges, each round's ranges half the
// size of the round before (down to a sixteenth of the first round's), so the ranges the
// workers take last, as they free up, are the shortest. workers <= 1, or no more ranges than
// workers, gives ranges of equal page counts.
func Plan(sources []Source, chunks, workers int) []Task {
	chunks = max(chunks, 1)
	var total int64
	for _, s := range sources {
		if s.Pages > 0 {
			total += s.Pages
		}
	}
	type sized struct {
		task Task
		size float64 // the range's share of its source before rounding to pages
	}
	var plain []Task
	var ranges []sized
	for _, s := range sources {
		if s.Pages < 0 {
			plain = append(plain, Task{Source: s, Plain: true})
			continue
		}
		n := int64(1)
		if total > 0 {
			n = max(1, (int64(chunks)*s.Pages+total/2)/total)
		}
		n = min(n, max(s.Pages, 1))
		weights, sum := rangeWeights(n, int64(workers))
		var start, acc int64
		for i, w := range weights {
			acc += w
			end := min(max(mulDiv(s.Pages, acc, sum), start+1), s.Pages-(n-1-int64(i))) // at least a page each
			if i == len(weights)-1 {
				end = -1
			}
			ranges = append(ranges, sized{Task{Source: s, StartPage: start, EndPage: end}, float64(s.Pages) * float64(w) / float64(sum)})
			start = end
		}
	}
	// Largest first; the stable sort keeps a round's ranges, and sources, in order.
	slices.SortStableFunc(ranges, func(a, b sized) int { return cmp.Compare(b.size, a.size) })
	tasks := plain
	for _, r := range ranges {
		tasks = append(tasks, r.task)
	}
	for i := range tasks {
		tasks[i].Index = i
	}
	return tasks
}

// mulDiv is a×b/c rounded to nearest, for non-negative a, b and positive c, without
// overflowing where a×b would (a table's pages times a large --chunks).
func mulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	lo, carry := bits.Add64(lo, uint64(c)/2, 0)
	hi += carry
	if hi >= uint64(c) {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int64(min(q, math.MaxInt64))
}

// minRoundShare is the smallest size of a range relative to the first round's: halving
// further only adds COPY statements once ranges are this short.
const minRoundShare = 16

// rangeWeights returns the relative sizes of n ranges and their sum: rounds of workers
// ranges, each round's ranges half the size of the previous round's, down to 1/minRoundShare
// of the first round's; all equal when n <= workers.
func rangeWeights(n, workers int64) ([]int64, int64) {
	weights := make([]int64, n)
	var sum int64
	for i := range weights {
		round := 0
		if workers > 1 && n > workers {
			round = int(int64(i) / workers)
		}
		weights[i] = minRoundShare >> min(round, bits.TrailingZeros(minRoundShare))
		sum += weights[i]
	}
	return weights, sum
}
