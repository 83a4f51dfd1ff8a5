package snapshot

import (
	"bytes"
	"context"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// copyHeader is the 19-byte COPY BINARY header without extension.
var copyHeader = append([]byte("PGCOPY\n\xff\r\n\x00"), 0, 0, 0, 0, 0, 0, 0, 0)

// row is one tuple of a single text field of n bytes.
func row(n int) []byte {
	b := binary.BigEndian.AppendUint16(nil, 1)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	return append(b, bytes.Repeat([]byte{'x'}, n)...)
}

// TestReceiverCutsBuffersAtMessages feeds a receiver the messages pgconn would hand it and
// checks the buffers: cut only between messages, every row start recorded, a row larger than a
// pooled buffer in a buffer of its own, offsets and row numbers continuing across buffers.
func TestReceiverCutsBuffersAtMessages(t *testing.T) {
	pool := NewPool(2, 64, nil)
	var got []*Buffer
	r := &receiver{ctx: context.Background(), task: Task{Index: 3}, pool: pool, progress: &Progress{},
		emit: func(b *Buffer) error {
			got = append(got, b)
			// Keep the copy, release the pooled memory as a consumer would.
			cp := *b
			cp.Data = append([]byte(nil), b.Data...)
			cp.RowStarts = append([]uint32(nil), b.RowStarts...)
			got[len(got)-1] = &cp
			b.Release()
			return nil
		}}
	msgs := [][]byte{append(append([]byte(nil), copyHeader...), row(10)...), row(20), row(30), row(100), row(5), {0xff, 0xff}}
	var total int
	for _, m := range msgs {
		total += len(m)
		if err := r.data(m); err != nil {
			t.Fatalf("data: %v", err)
		}
	}
	if err := r.finish(); err != nil {
		t.Fatal(err)
	}
	type want struct {
		rows         int
		streamOffset int64
		firstRow     int64
		size         int
	}
	// 16+26 fit in 64 bytes; 36 does not fit after them; 106 is larger than a pooled buffer;
	// 11 starts a new one.
	wants := []want{{2, 19, 0, 16 + 26}, {1, 19 + 42, 2, 36}, {1, 19 + 42 + 36, 3, 106}, {1, 19 + 42 + 36 + 106, 4, 11}}
	if len(got) != len(wants) {
		t.Fatalf("%d buffers, want %d", len(got), len(wants))
	}
	for i, w := range wants {
		b := got[i]
		if b.Rows() != w.rows || b.StreamOffset != w.streamOffset || b.FirstRow != w.firstRow || len(b.Data) != w.size {
			t.Errorf("buffer %d: rows %d offset %d first row %d size %d, want %+v", i, b.Rows(), b.StreamOffset, b.FirstRow, len(b.Data), w)
		}
		if b.RowStarts[0] != 0 || !strings.Contains(b.Source, "task 3") {
			t.Errorf("buffer %d: row starts %v, source %q", i, b.RowStarts, b.Source)
		}
	}
	if r.pos.rows != 5 || r.pos.bytes != int64(total) || r.progress.Rows.Load() != 5 || r.progress.Bytes.Load() != int64(total) {
		t.Errorf("position %+v, progress %d rows %d bytes; want 5 rows, %d bytes", r.pos, r.progress.Rows.Load(), r.progress.Bytes.Load(), total)
	}
}

func TestReceiverRejectsBadStreams(t *testing.T) {
	tests := []struct {
		name    string
		msgs    [][]byte
		wantErr string
	}{
		{"bad signature", [][]byte{[]byte("PGCOPX\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")}, "COPY stream header"},
		{"no trailer", [][]byte{append(append([]byte(nil), copyHeader...), row(3)...)}, "without its trailer"},
		{"data after the trailer", [][]byte{copyHeader, {0xff, 0xff}, row(1)}, "after the trailer"},
		{"nothing at all", nil, "without a header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &receiver{ctx: context.Background(), pool: NewPool(1, 1024, nil), emit: func(b *Buffer) error { b.Release(); return nil }}
			var err error
			for _, m := range tc.msgs {
				if err = r.data(m); err != nil {
					break
				}
			}
			if err == nil {
				err = r.finish()
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestPoolRecycle: a buffer the recycle hook refuses is replaced by a new allocation.
func TestPoolRecycle(t *testing.T) {
	allocs := 0
	p := NewPool(1, 16, func(size int) []byte { allocs++; return make([]byte, 0, size) })
	keep := true
	p.SetRecycle(func([]byte) bool { return keep })
	ctx := context.Background()
	for i, k := range []bool{true, true, false, true} {
		keep = k
		b, err := p.get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p.put(b)
		if want := map[int]int{0: 1, 1: 1, 2: 1, 3: 2}[i]; allocs != want {
			t.Errorf("get %d: %d allocations, want %d", i, allocs, want)
		}
	}
}

// TestHugeRowsWait: rows larger than a pooled buffer take their size from a shared budget
// until released, so a second such row waits for the first (and a row larger than the whole
// budget waits until it has the budget alone) instead of both being held in memory.
func TestHugeRowsWait(t *testing.T) {
	pool := NewPool(2, 64, nil)
	pool.SetHugeRows(NewHugeRows(150))
	emitted := make(chan *Buffer, 4)
	r := &receiver{ctx: context.Background(), pool: pool, progress: &Progress{},
		emit: func(b *Buffer) error { emitted <- b; return nil }}
	write := func(m []byte) {
		t.Helper()
		if err := r.data(m); err != nil {
			t.Fatal(err)
		}
	}
	write(append(append([]byte(nil), copyHeader...), row(100)...)) // 106 bytes of the budget's 150
	done := make(chan struct{})
	go func() {
		defer close(done)
		write(row(200)) // flushes the first, then needs the whole budget: waits
	}()
	first := <-emitted
	select {
	case <-done:
		t.Fatal("a second huge row was received while the first held the budget")
	case <-time.After(100 * time.Millisecond):
	}
	first.Release()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the second huge row still waits after the first was released")
	}
	write([]byte{0xff, 0xff})
	if err := r.finish(); err != nil {
		t.Fatal(err)
	}
	second := <-emitted
	if len(second.Data) != 206 {
		t.Errorf("second buffer holds %d bytes, want 206", len(second.Data))
	}
	second.Release()
	if !pool.huge.sem.TryAcquire(150) {
		t.Error("the budget was not given back")
	}
}

// landStream drives r as copyout.Conn.CopyToLanding does (copyout.Landing's contract): the
// CopyData messages of stream are read into the memory r.land lends, reads of the sizes reads
// gives in turn (the socket's), and each whole message's payload goes to r.data. It returns
// the buffers' row counts.
func landStream(t *testing.T, r *receiver, stream []byte, reads func() int) []int {
	t.Helper()
	var rows []int
	r.emit = func(b *Buffer) error {
		if got := len(b.Data); got > r.pool.Size() {
			t.Fatalf("a buffer of %d bytes from a pool of %d", got, r.pool.Size())
		}
		rows = append(rows, b.Rows())
		// A consumer may reuse the buffer at once: whatever still read it would see this.
		whole := b.Data[:cap(b.Data)]
		for i := range whole {
			whole[i] = 0xa5
		}
		b.Release()
		return nil
	}
	var block []byte
	start, end, pos := 0, 0, 0
	for {
		avail := block[start:end]
		need := 5
		if len(avail) >= 5 {
			size := 1 + int(binary.BigEndian.Uint32(avail[1:5]))
			if len(avail) >= size {
				if err := r.data(avail[5:size]); err != nil {
					t.Fatal(err)
				}
				start += size
				continue
			}
			need = size
		}
		if pos == len(stream) {
			if len(avail) != 0 {
				t.Fatalf("%d bytes of a message left at the stream's end", len(avail))
			}
			break
		}
		var err error
		if block, err = r.land(avail, need); err != nil {
			t.Fatal(err)
		}
		if len(block) < max(need, len(avail)) {
			t.Fatalf("landing of %d bytes for a message of %d", len(block), need)
		}
		start, end = 0, len(avail)
		n := min(reads(), len(block)-end, len(stream)-pos)
		end += copy(block[end:end+n], stream[pos:pos+n])
		pos += n
	}
	if err := r.finish(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestReceiverCutsWhereMessagesDoNotFit: however the socket's reads fall, the same stream is
// cut into the same buffers, each ending before the first message that does not fit in it
// whole; so an export's batches, hence its row groups, are the same in every export of the
// same data over one connection.
func TestReceiverCutsWhereMessagesDoNotFit(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	copyData := func(payload []byte) []byte {
		m := binary.BigEndian.AppendUint32([]byte{'d'}, uint32(4+len(payload)))
		return append(m, payload...)
	}
	stream := copyData(append(append([]byte(nil), copyHeader...), row(40)...))
	var sizes []int // the payloads' sizes, header and trailer excluded
	for range 3000 {
		n := rng.IntN(300)
		if rng.IntN(50) == 0 {
			n = 1000 + rng.IntN(3000)
		}
		stream = append(stream, copyData(row(n))...)
		sizes = append(sizes, 6+n)
	}
	stream = append(stream, copyData([]byte{0xff, 0xff})...)
	const size = 4096
	// Where every buffer must end: before the first message that does not fit (its 5-byte
	// header lands before its payload), a message larger than a buffer alone in its own.
	var want []int
	used, rows := 19+6+40, 1
	for _, n := range sizes {
		if used+5+n > size {
			want = append(want, rows)
			used, rows = 0, 0
		}
		used, rows = used+n, rows+1
	}
	want = append(want, rows)
	readers := map[string]func() int{
		"whole buffers": func() int { return 1 << 30 },
		"1 byte":        func() int { return 1 },
		"7 bytes":       func() int { return 7 },
		"random":        func() int { return 1 + rng.IntN(9000) },
		"small random":  func() int { return 1 + rng.IntN(200) },
	}
	for name, reads := range readers {
		t.Run(name, func(t *testing.T) {
			// An allocator that gives more than asked, as the pinned one may: buffers stay at
			// the pool's size.
			pool := NewPool(3, size, func(n int) []byte { return make([]byte, 0, n+n/4) })
			r := &receiver{ctx: context.Background(), pool: pool, progress: &Progress{}}
			got := landStream(t, r, stream, reads)
			if !slices.Equal(got, want) {
				t.Fatalf("buffers of %v rows, want %v", got, want)
			}
		})
	}
}
