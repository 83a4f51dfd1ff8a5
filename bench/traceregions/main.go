// Command traceregions says where an export's lanes spend their wall time, from the Go
// execution trace that `pgparquet export --trace FILE` (or TestPipelineAlone with
// $PGPARQUET_PIPELINE_TRACE) writes: per trace region type (the lanes' stages: decode, encode,
// and inside encode fixed-width pages, group strings, lane dictionaries, dictionary indices,
// arrow-go, compress, close row group), how many regions, their wall time summed over
// goroutines, and how their goroutines spent it: running Go code, in a system call or a cgo
// call (the CUDA library, nvCOMP), waiting (channels, locks: the zstd batchers' results), or
// runnable (waiting for a P). Regions nest: each counts what runs inside it too.
//
//	go run ./bench/traceregions trace.out
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"golang.org/x/exp/trace"
)

type open struct {
	name  string
	start trace.Time
	acc   [4]time.Duration // at start: the goroutine's accumulated state times
}

type gstate struct {
	state trace.GoState
	since trace.Time
	acc   [4]time.Duration // running, syscall, waiting, runnable
	stack []open
}

func idx(s trace.GoState) int {
	switch s {
	case trace.GoRunning:
		return 0
	case trace.GoSyscall:
		return 1
	case trace.GoWaiting:
		return 2
	case trace.GoRunnable:
		return 3
	}
	return -1
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: traceregions TRACE_FILE")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		panic(err)
	}
	r, err := trace.NewReader(f)
	if err != nil {
		panic(err)
	}
	gs := map[trace.GoID]*gstate{}
	get := func(id trace.GoID) *gstate {
		g := gs[id]
		if g == nil {
			g = &gstate{state: trace.GoUndetermined}
			gs[id] = g
		}
		return g
	}
	type tot struct {
		n    int
		wall time.Duration
		acc  [4]time.Duration
	}
	sums := map[string]*tot{}
	var first, last trace.Time
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		if first == 0 {
			first = ev.Time()
		}
		last = ev.Time()
		switch ev.Kind() {
		case trace.EventStateTransition:
			st := ev.StateTransition()
			if st.Resource.Kind != trace.ResourceGoroutine {
				continue
			}
			g := get(st.Resource.Goroutine())
			_, to := st.Goroutine()
			if i := idx(g.state); i >= 0 && g.since != 0 {
				g.acc[i] += ev.Time().Sub(g.since)
			}
			g.state, g.since = to, ev.Time()
		case trace.EventRegionBegin, trace.EventRegionEnd:
			g := get(ev.Goroutine())
			// bring acc up to now
			if i := idx(g.state); i >= 0 && g.since != 0 {
				g.acc[i] += ev.Time().Sub(g.since)
				g.since = ev.Time()
			}
			name := ev.Region().Type
			if ev.Kind() == trace.EventRegionBegin {
				g.stack = append(g.stack, open{name, ev.Time(), g.acc})
				continue
			}
			for k := len(g.stack) - 1; k >= 0; k-- {
				if g.stack[k].name != name {
					continue
				}
				o := g.stack[k]
				g.stack = append(g.stack[:k], g.stack[k+1:]...)
				t := sums[name]
				if t == nil {
					t = &tot{}
					sums[name] = t
				}
				t.n++
				t.wall += ev.Time().Sub(o.start)
				for i := range 4 {
					t.acc[i] += g.acc[i] - o.acc[i]
				}
				break
			}
		}
	}
	names := make([]string, 0, len(sums))
	for n := range sums {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return sums[names[i]].wall > sums[names[j]].wall })
	fmt.Printf("trace %.2f s; per region type, summed over goroutines (s): count wall running syscall+cgo waiting runnable\n", last.Sub(first).Seconds())
	for _, n := range names {
		t := sums[n]
		fmt.Printf("%-22s %7d %8.2f %8.2f %8.2f %8.2f %8.2f\n", n, t.n, t.wall.Seconds(), t.acc[0].Seconds(), t.acc[1].Seconds(), t.acc[2].Seconds(), t.acc[3].Seconds())
	}
}
