package copyout

import (
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
)

// LowWater asks the kernel to wake a COPY's reader only once Bytes are queued on its TCP
// socket (SO_RCVLOWAT), instead of at every segment: a backend sends its COPY response 8 KiB at
// a time, and a reader that keeps up with it wakes, polls and reads a few segments at a time,
// which costs more CPU than the bytes' copy (BenchmarkReceive). Wait bounds how long a read
// waits for Bytes: the kernel does not wake the reader for the end of a response, or for a
// backend that pauses, until Bytes are queued, so after Wait without a read the low-water mark
// drops to one byte for that read. The zero LowWater is off.
type LowWater struct {
	Bytes int
	Wait  time.Duration
}

// lowWater is a socket's SO_RCVLOWAT for one COPY: raised before each read while the response
// flows, dropped to one byte by a timer when a read has waited lw.Wait. The reader and the
// timer's goroutine share it under mu.
type lowWater struct {
	raw   syscall.RawConn
	lw    LowWater
	mu    sync.Mutex
	high  bool // SO_RCVLOWAT is lw.Bytes, not 1
	off   bool // raising it failed once: reads go on without it
	timer *time.Timer
}

// newLowWater returns conn's low-water control, or nil where lw is off or conn is not a TCP
// socket (TLS, Unix sockets, tests' pipes: they read as before).
func newLowWater(conn net.Conn, lw LowWater) *lowWater {
	tc, ok := conn.(*net.TCPConn)
	if !ok || lw.Bytes <= 1 || lw.Wait <= 0 {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &lowWater{raw: raw, lw: lw}
	w.timer = time.AfterFunc(time.Hour, w.drop)
	w.timer.Stop()
	return w
}

// set sets SO_RCVLOWAT to n bytes; the caller holds mu. Raising it also lets the kernel grow
// the receive buffer to twice the mark; dropping it wakes a reader that has a byte queued.
func (w *lowWater) set(n int) error {
	var serr error
	if err := w.raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
	}); err != nil {
		serr = err
	}
	if serr != nil {
		return fmt.Errorf("set the socket's receive low-water mark to %d bytes: %w", n, serr)
	}
	w.high = n > 1
	return nil
}

// drop is the timer's: a read has waited lw.Wait, so it takes what is queued. A failure leaves
// the read to the connection's own end (a closed socket fails the read).
func (w *lowWater) drop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.high {
		w.set(1) //nolint:errcheck // see above
	}
}

// read reads conn into p with the mark raised, and the timer armed while it waits.
func (w *lowWater) read(conn net.Conn, p []byte) (int, error) {
	w.mu.Lock()
	if !w.high && !w.off {
		w.off = w.set(w.lw.Bytes) != nil
	}
	high := w.high
	w.mu.Unlock()
	if !high {
		return conn.Read(p)
	}
	w.timer.Reset(w.lw.Wait)
	n, err := conn.Read(p)
	w.timer.Stop()
	return n, err
}

// end stops the timer and sets the mark back to one byte, as pgconn reads the connection
// afterwards; an error means the connection must not be handed back.
func (w *lowWater) end() error {
	w.timer.Stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.high {
		return w.set(1)
	}
	return nil
}

// lowWaterReader reads a COPY response through its socket's low-water control.
type lowWaterReader struct {
	conn net.Conn
	w    *lowWater
}

func (r lowWaterReader) Read(p []byte) (int, error) { return r.w.read(r.conn, p) }
