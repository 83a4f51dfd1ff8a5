package device

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pgparquet/pgparquet/internal/copytest"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// TestStartingGPUWithoutGPU: where the GPU cannot be used, auto decodes on the CPU and says
// so, and on fails the export, from Decode and from Wait, with the probe's reason.
func TestStartingGPUWithoutGPU(t *testing.T) {
	cols := []pgarrow.Column{pgarrow.PlanColumn("id", 20, -1, "bigint")}
	chunk := &pgcopy.Chunk{Data: []byte{0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7}, RowStarts: []uint32{0}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		mode    Mode
		wantErr bool
	}{{ModeAuto, false}, {ModeOn, true}} {
		dev := &Device{mode: tc.mode, log: log, done: make(chan struct{}), err: errors.New("no NVIDIA driver: test")}
		close(dev.done)
		s := dev.newDecoder(cols, memory.DefaultAllocator)
		werr := s.Wait()
		rec, derr := s.Decode(context.Background(), chunk)
		if tc.wantErr {
			if werr == nil || derr == nil || !strings.Contains(werr.Error(), "--gpu on: no NVIDIA driver") || derr.Error() != werr.Error() {
				t.Errorf("%s: wait %v, Decode %v; want the probe's reason from both", tc.mode, werr, derr)
			}
		} else {
			if werr != nil || derr != nil || rec.NumRows() != 1 || s.Path() != "cpu" {
				t.Errorf("%s: wait %v, Decode %v, path %s; want a CPU decode", tc.mode, werr, derr, s.Path())
			}
			if rec != nil {
				rec.Release()
			}
		}
		// Before the GPU is ready every receive buffer is Go memory and is kept.
		if b := s.Alloc(64); cap(b) != 64 || !s.Keep(b) {
			t.Errorf("%s: receive buffer of cap %d, recycled %v", tc.mode, cap(b), s.Keep(b))
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
}

// TestDecoderLeaksNothing: every buffer of the batches a Decoder returns comes from the
// allocator passed to Device.Decoder, and releasing the batches returns all of it (the GPU
// decoder's share is checked by TestGPUMatchesCPU on a GPU host).
func TestDecoderLeaksNothing(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dec := Start(ModeOff, "", slog.New(slog.NewTextHandler(io.Discard, nil))).newDecoder(copytest.RandomColumns(), mem)
	defer dec.Close()
	rng := rand.New(rand.NewPCG(5, 6))
	for _, rows := range []int{0, 1, 100} {
		rec, err := dec.Decode(context.Background(), copytest.RandomChunk(rng, rows))
		if err != nil {
			t.Fatal(err)
		}
		if rec.NumRows() != int64(rows) || dec.Path() != "cpu" {
			t.Errorf("%d rows on %s, want %d on cpu", rec.NumRows(), dec.Path(), rows)
		}
		if mem.CurrentAlloc() == 0 && rows > 0 {
			t.Error("the batch was not allocated from the Decoder's allocator")
		}
		rec.Release()
	}
	if b := dec.Alloc(64); cap(b) != 64 || !dec.Keep(b) || dec.Wait() != nil {
		t.Errorf("ModeOff: receive buffer of cap %d, kept %v, wait %v", cap(b), dec.Keep(b), dec.Wait())
	}
}

// TestMayDecode: whether exports expect the GPU, without waiting for the probe: never under
// ModeOff, the probe's verdict once it is done, and while it runs whether the NVIDIA driver is
// loaded.
func TestMayDecode(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mode  Mode
		probe int // 0: running, 1: done and usable, 2: done and unusable
		want  bool
	}{
		{"off", ModeOff, 1, false},
		{"usable", ModeAuto, 1, true},
		{"unusable", ModeAuto, 2, false},
		{"unusable, on", ModeOn, 2, false},
		{"running", ModeAuto, 0, nvidiaDriverLoaded()},
	} {
		d := &Device{mode: tc.mode, done: make(chan struct{})}
		switch tc.probe {
		case 1:
			close(d.done)
		case 2:
			d.err = errors.New("no NVIDIA driver: test")
			close(d.done)
		}
		if got := d.MayDecode(); got != tc.want {
			t.Errorf("%s: MayDecode %v, want %v", tc.name, got, tc.want)
		}
	}
}
