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

// laneQueue is how many filled buffers may wait between a lane's receiver and its decoder.
const laneQueue = buffersPerWorker - 1

// decodeAhead is how many decoded batches may wait between a lane's decoder and its encoder:
// the next batch decodes (on the GPU, a round trip to the device) while this one is encoded.
const decodeAhead = 1

// lanes runs one pipeline per worker connection: a receiver goroutine streams the tasks it
// takes from a shared queue into pooled buffers, a decoder goroutine turns each buffer into a
// batch, and an encoder goroutine appends the batches to the lane's own series of Parquet
// files, so receiving, decoding and encoding overlap, and lanes never wait for each other.
type lanes struct {
	dec gpuparse.Decoder

	progress  snapshot.Progress // the workers' COPYs add to it (WorkerOptions.Progress)
	tasksDone atomic.Int64
	decode    atomic.Int64 // nanoseconds, summed over lanes
	encode    atomic.Int64
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
	received := make([]chan *snapshot.Buffer, len(workers))
	for i, w := range workers {
		bufs := make(chan *snapshot.Buffer, laneQueue)
		received[i] = bufs
		s := &fileSeries{format: format}
		series[i] = s
		g.Go(func() error {
			defer close(bufs)
			return l.receive(gctx, w, queue, bufs)
		})
		g.Go(func() error { return l.lane(gctx, s, bufs) })
	}
	err := g.Wait()
	for _, bufs := range received { // closed by their receivers; what an error left waiting
		for b := range bufs {
			b.Release()
		}
	}
	if err != nil {
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

// decoded is a batch on its way from a lane's decoder to its encoder. hold, when not nil, is
// the buffer of a huge row, released once the batch is encoded: it keeps its share of the
// huge-row budget until then, since decoding and encoding it take several times its size
// again.
type decoded struct {
	rec  arrow.RecordBatch
	hold *snapshot.Buffer
}

func (d decoded) release() {
	d.rec.Release()
	if d.hold != nil {
		d.hold.Release()
	}
}

// lane decodes the buffers of bufs in one goroutine and encodes the batches into s in another,
// closing s's last file at the end; on an error it returns at once, and buffers left in bufs
// are the caller's to release. s is aborted by the caller on an error.
func (l *lanes) lane(ctx context.Context, s *fileSeries, bufs <-chan *snapshot.Buffer) error {
	g, gctx := errgroup.WithContext(ctx)
	recs := make(chan decoded, decodeAhead)
	g.Go(func() error {
		defer close(recs)
		return l.decodeAll(gctx, bufs, recs)
	})
	g.Go(func() error { return l.write(gctx, s, recs) })
	err := g.Wait()
	for d := range recs { // closed by the decoder; what an error left waiting
		d.release()
	}
	return err
}

// decodeAll decodes each buffer of bufs and sends the batch to recs.
func (l *lanes) decodeAll(ctx context.Context, bufs <-chan *snapshot.Buffer, recs chan<- decoded) error {
	for b := range bufs {
		huge := b.Huge()
		start := time.Now()
		var rec arrow.RecordBatch
		var err error
		trace.WithRegion(ctx, "decode", func() { rec, err = l.dec.Decode(ctx, &b.Chunk) })
		task := b.Task
		d := decoded{rec: rec}
		if huge && err == nil {
			d.hold = b
		} else {
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
		select {
		case recs <- d:
		case <-ctx.Done():
			d.release()
			return context.Cause(ctx)
		}
	}
	return nil
}

// write appends each batch of recs to s, closing s's last file at the end.
func (l *lanes) write(ctx context.Context, s *fileSeries, recs <-chan decoded) error {
	for d := range recs {
		start := time.Now()
		var err error
		trace.WithRegion(ctx, "encode", func() { err = s.write(ctx, d.rec) })
		d.release()
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
