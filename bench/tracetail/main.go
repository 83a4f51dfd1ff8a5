// Command tracetail prints what the goroutines of an execution trace (`pgparquet export
// --trace FILE`) did in its last milliseconds (default 400): each goroutine state transition
// with its stack's three innermost frames, and region starts, times counted back from the
// trace's end. It shows what an export does after its lanes finish (closing files, freeing
// pinned memory).
//
//	go run ./bench/tracetail trace.out [MS]
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/exp/trace"
)

func main() {
	ms := 400
	if len(os.Args) > 2 {
		ms, _ = strconv.Atoi(os.Args[2])
	}
	read := func(f func(trace.Event)) trace.Time {
		fh, err := os.Open(os.Args[1])
		if err != nil {
			panic(err)
		}
		defer fh.Close()
		r, err := trace.NewReader(fh)
		if err != nil {
			panic(err)
		}
		var last trace.Time
		for {
			ev, err := r.ReadEvent()
			if err == io.EOF {
				return last
			}
			if err != nil {
				panic(err)
			}
			last = ev.Time()
			f(ev)
		}
	}
	end := read(func(trace.Event) {})
	cut := trace.Time(int64(end) - int64(ms)*1e6)
	read(func(ev trace.Event) {
		if ev.Time() < cut {
			return
		}
		switch ev.Kind() {
		case trace.EventStateTransition:
			st := ev.StateTransition()
			if st.Resource.Kind != trace.ResourceGoroutine {
				return
			}
			_, to := st.Goroutine()
			frames := ""
			n := 0
			for f := range st.Stack.Frames() {
				if n < 3 {
					frames += " " + f.Func
				}
				n++
			}
			if frames == "" {
				for f := range ev.Stack().Frames() {
					if n < 3 {
						frames += " " + f.Func
					}
					n++
				}
			}
			fmt.Printf("%8.1f ms g%d -> %v%s\n", float64(int64(end)-int64(ev.Time()))/1e6, st.Resource.Goroutine(), to, frames)
		case trace.EventRegionBegin, trace.EventLog:
			fmt.Printf("%8.1f ms %v\n", float64(int64(end)-int64(ev.Time()))/1e6, ev.String()[:min(len(ev.String()), 120)])
		}
	})
}
