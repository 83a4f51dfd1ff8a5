package main

import (
	"context"
	"fmt"
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// profileInProcess loads a lineorder-shaped table of rows rows and exports it `runs` times
// in this process with parallel workers, sampling the Go heap every 20 ms: it reports the
// peak of the heap's live objects after a collection (what the export holds), of the memory
// the runtime has mapped (what RSS follows), the process's peak RSS, CPU and time, and writes
// the heap profile taken at the peak of in-use heap to heapProfile, so that `go tool pprof
// -sample_index=inuse_space` shows who holds the memory at the export's worst moment.
func profileInProcess(ctx context.Context, rows, parallel, runs int, heapProfile string, extra export.Options) error {
	c, conn, err := startCluster(ctx)
	if err != nil {
		return err
	}
	defer c.Stop() //nolint:errcheck // best effort at exit
	defer conn.Close(ctx)
	for _, sql := range []string{pgtest.LineorderDDL("lineorder"), pgtest.LineorderFill("lineorder", 0, int64(rows)-1), "VACUUM ANALYZE lineorder"} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			return fmt.Errorf("load lineorder: %w", err)
		}
	}
	cfg, err := pgx.ParseConfig(c.DSN("postgres"))
	if err != nil {
		return err
	}
	fmt.Printf("| run | seconds | COPY MB | CPU-s | peak heap in use MiB | peak runtime-mapped MiB | peak RSS MiB (process so far) |\n|---|---|---|---|---|---|---|\n")
	for i := range runs {
		dir, err := os.MkdirTemp("", "bench-memory-")
		if err != nil {
			return err
		}
		s := newSampler(heapProfile)
		cpu0 := cpuSeconds()
		start := time.Now()
		opts := extra
		opts.ConnConfig, opts.Table, opts.OutputDir, opts.Parallel = cfg, "lineorder", dir, parallel
		res, err := export.Run(ctx, opts)
		secs := time.Since(start).Seconds()
		inuse, mapped := s.stop()
		os.RemoveAll(dir)
		if err != nil {
			return err
		}
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru) //nolint:errcheck // zeroes on failure
		fmt.Printf("| %d | %.2f | %.1f | %.2f | %.1f | %.1f | %.1f |\n", i+1, secs, float64(res.CopyBytes)/1e6, cpuSeconds()-cpu0,
			float64(inuse)/(1<<20), float64(mapped)/(1<<20), float64(ru.Maxrss)/1024)
	}
	if heapProfile != "" {
		fmt.Printf("heap profile at the peak of the last run: %s\n", heapProfile)
	}
	return nil
}

// sampler follows the heap while an export runs.
type sampler struct {
	done          chan struct{}
	wg            sync.WaitGroup
	inuse, mapped uint64
}

func newSampler(profile string) *sampler {
	s := &sampler{done: make(chan struct{})}
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	s.wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		var lastProfile time.Time
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
			}
			metrics.Read(samples)
			inuse := samples[0].Value.Uint64()
			mapped := samples[1].Value.Uint64() - samples[2].Value.Uint64()
			s.mapped = max(s.mapped, mapped)
			if inuse > s.inuse {
				s.inuse = inuse
				if profile != "" && time.Since(lastProfile) > 500*time.Millisecond {
					lastProfile = time.Now()
					writeHeapProfile(profile)
				}
			}
		}
	})
	return s
}

func (s *sampler) stop() (inuse, mapped uint64) {
	close(s.done)
	s.wg.Wait()
	return s.inuse, s.mapped
}

func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "heap profile:", err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		fmt.Fprintln(os.Stderr, "heap profile:", err)
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
