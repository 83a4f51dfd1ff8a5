// Command cpusplit says where an export's CPU time went, by stage, from the pprof CPU profile
// that `pgparquet export --cpu-profile FILE` writes (on any host; the profile carries the
// function names, so it is read here without the binary).
//
// Each sample goes to the stage of the innermost frame of its stack that belongs to one: the
// stages are receive (network reads, COPY message handling), boundaries (the decoder's first
// pass over the tuples), decode (the second pass and the CUDA decoder's calls), arrow (Arrow
// buffers and builders), encode (Parquet encoding, dictionaries, statistics, and the GPU
// writer's host side: its calls to the device, pages gathered, pqfile), compress (zstd,
// snappy, gzip, brotli, lz4, and the GPU batcher's host side) and write (file writes, sha256). Runtime frames (allocation,
// copying) count for the stage that called them; samples with no stage at all (garbage
// collection, scheduling) are runtime.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/google/pprof/profile"
)

// stage is one bucket and the function-name fragments that place a frame in it, checked in order.
type stage struct {
	name  string
	match []string
}

var stages = []stage{
	{"compress", []string{"device.(*batcher)", "device.(*pageCodec)", "device.(*nvBatch)", "device.cpuZstd", "DataDog/zstd", "klauspost/compress", "golang/snappy", "andybalholm/brotli", "pierrec/lz4", "compress/flate", "compress/gzip"}},
	{"write", []string{"os.(*File).Write", "bufio.(*Writer)", "crypto/", "export.(*hashingWriter)", "syscall.write", "internal/poll.(*FD).Write"}},
	{"encode", []string{"arrow-go/v18/parquet/", "arrow-go/v18/internal/", "arrow-go/v18/arrow/compute", "export.(*stringDict)", "export.(*fileSeries).encodeDicts", "export.(*fileSeries).firstBatchTypes",
		// The GPU writer's host side: its calls to the device, fragments gathered into pages, pqfile.
		"pgparquet/pqfile.", "device.(*PageEncoder)", "device.(*encoder)", "export.(*pageFileWriter)", "export.(*fileSeries).groupDicts", "export.cpuUniquer"}},
	{"boundaries", []string{"gpuparse.(*CPUDecoder).walk", "gpuparse.parseNumericHeader", "gpuparse.(*treeWalker)"}},
	{"decode", []string{"pgparquet/gpuparse.", "pgparquet/device."}},
	{"arrow", []string{"arrow-go/v18/arrow"}},
	{"receive", []string{"pgconn", "pgproto3", "copyout.", "snapshot.(*receiver)", "internal/poll.(*FD).Read", "net.(*conn).Read", "syscall.read"}},
}

func stageOf(fn string) string {
	for _, s := range stages {
		for _, m := range s.match {
			if strings.Contains(fn, m) {
				return s.name
			}
		}
	}
	return ""
}

func main() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: cpusplit PROFILE [PROFILE...]   (pgparquet export --cpu-profile PROFILE)")
	}
	flag.Parse()
	if flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	for _, path := range flag.Args() {
		if err := split(path); err != nil {
			fmt.Fprintln(os.Stderr, "cpusplit:", err)
			os.Exit(1)
		}
	}
}

func split(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	cpu := -1
	for i, st := range p.SampleType {
		if st.Type == "cpu" {
			cpu = i
		}
	}
	if cpu < 0 {
		return fmt.Errorf("%s: not a CPU profile", path)
	}
	totals := map[string]int64{}
	var all int64
	for _, s := range p.Sample {
		v := s.Value[cpu]
		all += v
		name := "runtime"
	stack:
		for _, loc := range s.Location { // innermost frame first
			for i := len(loc.Line) - 1; i >= 0; i-- { // inlined frames: innermost last
				if st := stageOf(loc.Line[i].Function.Name); st != "" {
					name = st
					break stack
				}
			}
		}
		totals[name] += v
	}
	names := make([]string, 0, len(totals))
	for n := range totals {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return totals[names[i]] > totals[names[j]] })
	fmt.Printf("\n%s: %.1f CPU-s sampled\n\n| stage | CPU-s | share |\n|---|---:|---:|\n", path, float64(all)/1e9)
	for _, n := range names {
		fmt.Printf("| %s | %.1f | %.0f%% |\n", n, float64(totals[n])/1e9, 100*float64(totals[n])/float64(all))
	}
	return nil
}
