package copyout

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"
)

// rcvLowat reads the SO_RCVLOWAT of conn's socket.
func rcvLowat(t *testing.T, conn net.Conn) int {
	t.Helper()
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		t.Fatalf("connection is a %T, not TCP", conn)
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := raw.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVLOWAT) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}

// TestLowWater runs COPYs whose responses end below the low-water mark, pause in the middle
// (the backend sleeps with less than the mark queued) or are large, on a connection with the
// mark on: each must pass on what pgconn's CopyTo passes on, the mark must have been raised
// while the large one flowed, and it must be one byte again afterwards, where pgconn reads the
// connection for small messages.
func TestLowWater(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dsn := shared.NewDB(t)
	exec(t, connect(t, dsn), typesSQL)
	lw := LowWater{Bytes: 256 << 10, Wait: 5 * time.Millisecond}
	old := connect(t, dsn)
	c := New(connect(t, dsn), 1<<20)
	c.SetLowWater(lw)
	for _, tc := range []struct {
		name, sql string
		raised    bool // the mark is up during some data callback
	}{
		{"one row", "COPY (SELECT 1) TO STDOUT (FORMAT BINARY)", false},
		{"pauses", "COPY (SELECT g, repeat('x', 100), CASE WHEN g % 500 = 0 THEN pg_sleep(0.05) END FROM generate_series(1, 2000) g) TO STDOUT (FORMAT BINARY)", false},
		{"large", "COPY t TO STDOUT (FORMAT BINARY)", true},
		{"zero rows", "COPY empty TO STDOUT (FORMAT BINARY)", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want, got received
			wantTag, err := old.CopyTo(ctx, &want, tc.sql)
			if err != nil {
				t.Fatal(err)
			}
			raised := false
			sock := c.PgConn().Conn() // the socket the COPY reads, between its reads
			tag, err := c.CopyTo(ctx, tc.sql, func(p []byte) error {
				if !raised {
					raised = rcvLowat(t, sock) == lw.Bytes
				}
				return got.data(p)
			})
			if err != nil {
				t.Fatal(err)
			}
			same(t, want, got, wantTag, tag)
			if tc.raised && !raised {
				t.Errorf("SO_RCVLOWAT never %d during the COPY", lw.Bytes)
			}
			if v := rcvLowat(t, c.PgConn().Conn()); v != 1 {
				t.Errorf("SO_RCVLOWAT %d after the COPY, want 1", v)
			}
			if _, err := c.PgConn().Exec(ctx, "SELECT 1").ReadAll(); err != nil {
				t.Errorf("after the COPY: %v", err)
			}
		})
	}
}
