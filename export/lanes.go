package export

import (
	"context"
	"errors"
	"fmt"
	"runtime/trace"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"golang.org/x/sync/errgroup"

	"github.com/pgparquet/pgparquet/gpuparse"
	"github.com/pgparquet/pgparquet/outcome"
	"github.com/pgparquet/pgparquet/pgcopy"
	"github.com/pgparquet/pgparquet/snapshot"
)

// laneQueue is how many filled buffers may wait between a lane's receiver and its decoder
// (a measurement build may change it).
var laneQueue = buffersPerWorker - 1

// lanes runs one pipeline per worker connection: a receiver goroutine streams the tasks it
// takes from a shared queue into pooled buffers, and a second goroutine decodes each buffer and
// appends it to the lane's own series of Parquet files, so receiving overlaps decoding and
// encoding, and lanes never wait for each other.
type lanes struct {
	dec gpuparse.Decoder

	progress  snapshot.Progress // the workers' COPYs add to it (WorkerOptions.Progress)
	tasksDone atomic.Int64
	decode    atomic.Int64 // nanoseconds, summed over lanes
	encode    atomic.Int64
	queued    atomic.Int64 // nanoseconds receivers waited for their writer to take a buffer

	// received holds when each lane's receiver ran out of tasks, written by that receiver
	// only and read after run returns.
	received []time.Time
}

// run executes tasks on workers and returns each lane's file series, files closed but not yet
// renamed. The first error cancels everything.
func (l *lanes) run(ctx context.Context, workers []*snapshot.Worker, tasks []snapshot.Task, format *fileFormat) ([]*fileSeries, error) {
	queue := make(chan snapshot.Task, len(tasks))
	for _, t := range tasks {
		queue <- t
	}
	close(queue)
	g, gctx := errgroup.WithContext(ctx)
	series := make([]*fileSeries, len(workers))
	l.received = make([]time.Time, len(workers))
	for i, w := range workers {
		bufs := make(chan *snapshot.Buffer, laneQueue)
		s := &fileSeries{format: format}
		series[i] = s
		g.Go(func() error {
			defer close(bufs)
			err := l.receive(gctx, w, queue, bufs)
			l.received[i] = time.Now()
			return err
		})
		g.Go(func() error {
			err := l.write(gctx, s, bufs)
			if err != nil {
				s.abort()
				for b := range bufs {
					b.Release()
				}
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		for _, s := range series {
			s.abort()
		}
		return nil, err
	}
	return series, nil
}

// receive runs tasks from queue on worker w until the queue is empty.
func (l *lanes) receive(ctx context.Context, w *snapshot.Worker, queue <-chan snapshot.Task, bufs chan<- *snapshot.Buffer) error {
	emit := func(b *snapshot.Buffer) error {
		select {
		case bufs <- b:
			return nil
		default:
		}
		start := time.Now()
		select {
		case bufs <- b:
			l.queued.Add(int64(time.Since(start)))
			return nil
		case <-ctx.Done():
			b.Release()
			return context.Cause(ctx)
		}
	}
	for t := range queue {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		if err := w.CopyTask(ctx, t, emit); err != nil {
			return fmt.Errorf("worker %d (pid %d): %w", w.Index, w.PID(), err)
		}
		l.tasksDone.Add(1)
	}
	return nil
}

// write decodes each buffer and appends it to s, closing s's last file at the end. Decoding
// the next buffer while this one is encoded (a goroutine between) was measured on the H200
// (lineorder, P=16): no faster, the lanes wait on page compression, and 0.3 GB more RSS
// (decoded batches held in pinned memory).
func (l *lanes) write(ctx context.Context, s *fileSeries, bufs <-chan *snapshot.Buffer) error {
	for b := range bufs {
		// A huge row's buffer keeps its share of the huge-row budget until the row is
		// encoded: decoding and encoding it take several times its size again.
		huge := b.Huge()
		start := time.Now()
		var rec arrow.RecordBatch
		var err error
		trace.WithRegion(ctx, "decode", func() { rec, err = l.dec.Decode(ctx, &b.Chunk) })
		task := b.Task
		if !huge || err != nil {
			b.Release()
		}
		l.decode.Add(int64(time.Since(start)))
		if err != nil {
			var de *pgcopy.DecodeError
			if errors.As(err, &de) {
				return &rowError{task: task, row: de.Row, err: err}
			}
			return err
		}
		start = time.Now()
		trace.WithRegion(ctx, "encode", func() { err = s.write(ctx, rec) })
		rec.Release()
		if huge {
			b.Release()
		}
		l.encode.Add(int64(time.Since(start)))
		if err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	start := time.Now()
	err := s.finish()
	l.encode.Add(int64(time.Since(start)))
	return err
}

// receiveEnd returns when the last lane ran out of tasks and the mean time the lanes waited
// for it after their own last task: the source's ragged end, when fewer connections than
// the export's are reading. Valid after run returned nil.
func (l *lanes) receiveEnd() (last time.Time, idle time.Duration) {
	for _, t := range l.received {
		if t.After(last) {
			last = t
		}
	}
	for _, t := range l.received {
		idle += last.Sub(t)
	}
	if n := len(l.received); n > 0 {
		idle /= time.Duration(n)
	}
	return last, idle
}

// reportProgress calls report twice a second until the returned stop function is called.
func (l *lanes) reportProgress(report func(outcome.Progress), estimated int64, tasks int, start time.Time) (stop func()) {
	if report == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	snap := func() outcome.Progress {
		return outcome.Progress{Rows: l.progress.Rows.Load(), CopyBytes: l.progress.Bytes.Load(),
			EstimatedRows: estimated, TasksDone: int(l.tasksDone.Load()), Tasks: tasks, Elapsed: time.Since(start)}
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				report(snap())
			case <-done:
				report(snap())
				return
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// rowError is a value of row (0-based, in stream order) of task that did not decode; finish
// adds where the row lies in the table (Snapshot.Locate) so that a user can find it: the row
// number alone counts from the start of the task's page range.
type rowError struct {
	task  snapshot.Task
	row   int64
	err   error
	where string // "ctid (12,5), primary key (id)=(42)"; "" when not located
}

func (e *rowError) Error() string {
	if e.where == "" {
		return e.err.Error()
	}
	return e.err.Error() + " (the row at " + e.where + ")"
}

func (e *rowError) Unwrap() error { return e.err }
