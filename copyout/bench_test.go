package copyout

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// BenchmarkReceive streams a lineorder-shaped table (PGPARQUET_BENCH_ROWS rows, default 2M:
// about 330 MB of COPY BINARY) through pgconn's CopyTo and through Conn with several block
// sizes, and reports the client's CPU seconds (user + system, from getrusage: the server is
// another process) per GB of COPY data received. "discard" only receives; "copy" also copies
// each payload into a reused 4 MiB buffer, as the export's receiver did; "landed" reads into
// that buffer's free end and moves each payload over the headers, as the receiver does now. Compare the variants
// of one run: absolute figures depend on the machine's load.
//
//	go test -run '^$' -bench BenchmarkReceive -benchtime 3x ./copyout
func BenchmarkReceive(b *testing.B) {
	ctx := context.Background()
	rows := int64(2_000_000)
	if s := os.Getenv("PGPARQUET_BENCH_ROWS"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		rows = n
	}
	dsn := shared.NewDB(b)
	setup := connect(b, dsn)
	if _, err := setup.Exec(ctx, pgtest.LineorderDDL("lineorder")+"; "+pgtest.LineorderFill("lineorder", 1, rows)+"; ANALYZE lineorder").ReadAll(); err != nil {
		b.Fatal(err)
	}
	const sql = "COPY lineorder TO STDOUT (FORMAT BINARY)"
	buf := make([]byte, 0, 4<<20)
	consumers := map[string]func(p []byte){
		"discard": func([]byte) {},
		"copy": func(p []byte) {
			if len(buf)+len(p) > cap(buf) {
				buf = buf[:0]
			}
			buf = append(buf, p...)
		},
	}
	for _, consumer := range []string{"discard", "copy"} {
		consume := consumers[consumer]
		b.Run(consumer+"/pgconn", func(b *testing.B) {
			pg := connect(b, dsn)
			w := writerFunc(func(p []byte) (int, error) { consume(p); return len(p), nil })
			measure(b, func() (int64, error) {
				var n int64
				_, err := pg.CopyTo(ctx, countingWriter{w, &n}, sql)
				return n, err
			})
		})
		if consumer == "copy" {
			// The export's receiver: the stream read into the free end of the 4 MiB buffer the
			// payloads are appended to, each moved over the headers before it.
			for _, lw := range []int{0, 64 << 10, 256 << 10, 1 << 20} {
				name := "landed/copyout"
				if lw > 0 {
					name += "-lowat" + strconv.Itoa(lw>>10) + "KiB"
				}
				b.Run(name, func(b *testing.B) {
					c := New(connect(b, dsn), 1<<20)
					c.SetLowWater(LowWater{Bytes: lw, Wait: 5 * time.Millisecond})
					land := Landing{Max: cap(buf), Land: func(partial []byte, need int) ([]byte, error) {
						if room := buf[len(buf):cap(buf)]; len(room) >= max(need, 64<<10) {
							copy(room, partial)
							return room, nil
						}
						keep := bytes.Clone(partial)
						buf = buf[:0]
						return buf[:copy(buf[:cap(buf)], keep)][:cap(buf)], nil
					}}
					measure(b, func() (int64, error) {
						var n int64
						_, err := c.CopyToLanding(ctx, sql, func(p []byte) error { n += int64(len(p)); buf = append(buf, p...); return nil }, land)
						return n, err
					})
				})
			}
		}
		for _, block := range []int{64 << 10, 1 << 20, 4 << 20} {
			b.Run(consumer+"/copyout-"+strconv.Itoa(block>>10)+"KiB", func(b *testing.B) {
				c := New(connect(b, dsn), block)
				measure(b, func() (int64, error) {
					var n int64
					_, err := c.CopyTo(ctx, sql, func(p []byte) error { n += int64(len(p)); consume(p); return nil })
					return n, err
				})
			})
		}
	}
}

// measure runs copy b.N times and reports CPU seconds per GB received and GB/s.
func measure(b *testing.B, copy func() (int64, error)) {
	var bytes int64
	cpu0 := cpuTime(b)
	start := time.Now()
	for b.Loop() {
		n, err := copy()
		if err != nil {
			b.Fatal(err)
		}
		bytes += n
	}
	cpu := cpuTime(b) - cpu0
	gb := float64(bytes) / 1e9
	b.ReportMetric(cpu.Seconds()/gb, "cpu-s/GB")
	b.ReportMetric(gb/time.Since(start).Seconds(), "GB/s")
	b.ReportMetric(float64(bytes)/float64(b.N)/1e6, "MB/op")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

type countingWriter struct {
	w interface{ Write([]byte) (int, error) }
	n *int64
}

func (c countingWriter) Write(p []byte) (int, error) { *c.n += int64(len(p)); return c.w.Write(p) }
