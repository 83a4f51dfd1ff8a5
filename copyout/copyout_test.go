package copyout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgparquet/pgparquet/internal/pgtest"
)

var shared pgtest.Shared

func TestMain(m *testing.M) { pgtest.Main(m, &shared) }

// typesSQL makes table t with a column of most kinds, a row of NULLs, 20000 ordinary rows and a
// row of 3 MB of text and 2.5 MB of bytea (longer than a block: the message spans reads), and
// table empty with no rows.
const typesSQL = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'ünï ☺');
CREATE TYPE pair AS (a int4, b text);
CREATE TABLE t (id int8, b bool, i2 int2, i4 int4, f4 float4, f8 float8, n numeric(12,2), nf numeric,
 tx text, vc varchar(10), bp char(5), by bytea, u uuid, j json, jb jsonb, d date, ts timestamp, tz timestamptz,
 tm time, iv interval, e mood, a int4[], at text[], p pair, r int4range, ip inet);
INSERT INTO t (id) VALUES (0);
INSERT INTO t SELECT g, g % 2 = 0, g % 32000, g, g / 3.0, g / 7.0, g / 100.0, g * 1.5 + 0.25,
 repeat(md5(g::text), g % 5), left(md5(g::text), g % 10), 'x', decode(md5(g::text), 'hex'), md5(g::text)::uuid,
 json_build_object('g', g), jsonb_build_object('g', g, 'ü', 'x'), date '2000-01-01' + g,
 timestamp '2000-01-01' + g * interval '1 minute', timestamptz '2000-01-01 00:00+00' + g * interval '1 second',
 time '00:00' + g * interval '1 second', g * interval '1 day 1 hour', (array['sad', 'ok', 'ünï ☺'])[1 + g % 3]::mood,
 array[g, NULL, g + 1], array['a', NULL, g::text], row(g, 'x')::pair, int4range(g, g + 10), '10.0.0.1'
 FROM generate_series(1, 20000) g;
INSERT INTO t (id, tx, by) VALUES (-1, repeat('0123456789', 300000), decode(repeat('ab', 2500000), 'hex'));
CREATE TABLE empty (id int, tx text);`

// received is what a COPY passed on: each CopyData payload, in order.
type received []string

func (r *received) Write(p []byte) (int, error) { *r = append(*r, string(p)); return len(p), nil }
func (r *received) data(p []byte) error         { *r = append(*r, string(p)); return nil }

// connect opens a pgconn connection to dsn, closed when the test ends.
func connect(t testing.TB, dsn string) *pgconn.PgConn {
	t.Helper()
	pg, err := pgconn.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close(context.Background()) })
	return pg
}

// exec runs sql on pg and fails the test if it errs.
func exec(t *testing.T, pg *pgconn.PgConn, sql string) {
	t.Helper()
	if _, err := pg.Exec(context.Background(), sql).ReadAll(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// same fails the test unless both COPYs passed on the same payloads and ended alike.
func same(t *testing.T, old, new received, oldTag, newTag pgconn.CommandTag) {
	t.Helper()
	if oldTag.String() != newTag.String() {
		t.Errorf("command tag %q, want %q", newTag, oldTag)
	}
	if len(new) != len(old) {
		t.Fatalf("%d messages, want %d", len(new), len(old))
	}
	for i := range old {
		if new[i] != old[i] {
			t.Fatalf("message %d differs: %d bytes, want %d", i, len(new[i]), len(old[i]))
		}
	}
}

// TestCopyToSameAsPgconn runs each COPY through pgconn's CopyTo and through Conn, with blocks
// smaller and larger than the rows, and checks that the payloads are the same, message for
// message, and that the connection is usable after.
func TestCopyToSameAsPgconn(t *testing.T) {
	dsn := shared.NewDB(t)
	exec(t, connect(t, dsn), typesSQL)
	differential(t, dsn)
}

func differential(t *testing.T, dsn string) {
	ctx := context.Background()
	queries := map[string]string{
		"binary":             "COPY t TO STDOUT (FORMAT BINARY)",
		"binary, ordered":    "COPY (SELECT * FROM t ORDER BY id DESC) TO STDOUT (FORMAT BINARY)",
		"binary, zero rows":  "COPY empty TO STDOUT (FORMAT BINARY)",
		"text":               "COPY t TO STDOUT",
		"csv, one long line": "COPY (SELECT tx FROM t WHERE id = -1) TO STDOUT (FORMAT CSV)",
	}
	oldConn, newConn := connect(t, dsn), connect(t, dsn)
	for _, block := range []int{headerLen, 4 << 10, 1 << 20} {
		for _, lw := range []LowWater{{}, {Bytes: 64 << 10, Wait: 5 * time.Millisecond}} {
			c := New(newConn, block)
			c.SetLowWater(lw)
			for name, sql := range queries {
				t.Run(fmt.Sprintf("%s, block %d, low water %d", name, block, lw.Bytes), func(t *testing.T) {
					var old, new received
					oldTag, err := oldConn.CopyTo(ctx, &old, sql)
					if err != nil {
						t.Fatal(err)
					}
					newTag, err := c.CopyTo(ctx, sql, new.data)
					if err != nil {
						t.Fatal(err)
					}
					same(t, old, new, oldTag, newTag)
					if len(new) == 0 {
						t.Errorf("%d messages", len(new))
					}
					if _, err := c.PgConn().Exec(ctx, "SELECT 1").ReadAll(); err != nil || c.PgConn().TxStatus() != 'I' {
						t.Errorf("after the COPY: %v, status %c", err, c.PgConn().TxStatus())
					}
				})
			}
			newConn = c.PgConn()
		}
	}
}

// TestCopyToErrors raises errors in the middle of COPYs, and changes settings and sends notices
// during them, through pgconn's CopyTo and through Conn: the same rows come before the same
// error, the same notices are seen, the connection's state is the same after (transaction
// status, parameter statuses) and it is usable.
func TestCopyToErrors(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	exec(t, connect(t, dsn), `
CREATE FUNCTION slow(g int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN IF g = 2000 THEN PERFORM pg_sleep(10); END IF; RETURN g; END $$;
CREATE FUNCTION chatty(g int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
 IF g % 1000 = 0 THEN RAISE NOTICE 'row %', g; END IF;
 IF g = 1500 THEN PERFORM set_config('application_name', 'changed ' || g, false); END IF;
 RETURN g;
END $$;`)
	tests := []struct {
		name   string
		setup  string
		sql    string
		code   string // the SQLSTATE of the error, "" for none
		status byte   // the transaction status after
	}{
		{"division by zero", "", "COPY (SELECT g, 1 / (g - 5000) FROM generate_series(1, 100000) g) TO STDOUT (FORMAT BINARY)", "22012", 'I'},
		{"division by zero in a transaction", "BEGIN", "COPY (SELECT g, 1 / (g - 5000) FROM generate_series(1, 100000) g) TO STDOUT (FORMAT BINARY)", "22012", 'E'},
		{"statement timeout", "SET statement_timeout = '300ms'", "COPY (SELECT slow(g) FROM generate_series(1, 3000) g) TO STDOUT (FORMAT BINARY)", "57014", 'I'},
		{"notices and a setting", "", "COPY (SELECT chatty(g) FROM generate_series(1, 5000) g) TO STDOUT (FORMAT BINARY)", "", 'I'},
		{"notices and a setting in a transaction", "BEGIN", "COPY (SELECT chatty(g) FROM generate_series(1, 5000) g) TO STDOUT (FORMAT BINARY)", "", 'T'},
		{"not a COPY TO", "", "COPY (SELECT 1 / 0) TO STDOUT", "22012", 'I'},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var notices [2][]string
			run := func(i int, copyTo func(*pgconn.PgConn) (received, pgconn.CommandTag, error)) (*pgconn.PgConn, received, pgconn.CommandTag, error) {
				cfg, err := pgconn.ParseConfig(dsn)
				if err != nil {
					t.Fatal(err)
				}
				cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices[i] = append(notices[i], n.Message) }
				pg, err := pgconn.ConnectConfig(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { pg.Close(ctx) }) // a no-op once a Conn took it over
				if tt.setup != "" {
					exec(t, pg, tt.setup)
				}
				got, tag, err := copyTo(pg)
				return pg, got, tag, err
			}
			oldPg, old, oldTag, oldErr := run(0, func(pg *pgconn.PgConn) (received, pgconn.CommandTag, error) {
				var got received
				tag, err := pg.CopyTo(ctx, &got, tt.sql)
				return got, tag, err
			})
			var c *Conn
			_, new, newTag, newErr := run(1, func(pg *pgconn.PgConn) (received, pgconn.CommandTag, error) {
				c = New(pg, 4<<10)
				var got received
				tag, err := c.CopyTo(ctx, tt.sql, got.data)
				return got, tag, err
			})
			defer c.Close(ctx)
			same(t, old, new, oldTag, newTag)
			var pgErr *pgconn.PgError
			if tt.code != "" && (!errors.As(newErr, &pgErr) || pgErr.Code != tt.code) {
				t.Errorf("error %v, want SQLSTATE %s", newErr, tt.code)
			}
			if fmt.Sprint(newErr) != fmt.Sprint(oldErr) {
				t.Errorf("error %q, want %q", newErr, oldErr)
			}
			if strings.Join(notices[1], ",") != strings.Join(notices[0], ",") {
				t.Errorf("notices %q, want %q", notices[1], notices[0])
			}
			newPg := c.PgConn()
			if newPg.TxStatus() != oldPg.TxStatus() || newPg.TxStatus() != tt.status {
				t.Errorf("transaction status %c, pgconn's %c, want %c", newPg.TxStatus(), oldPg.TxStatus(), tt.status)
			}
			if a, b := newPg.ParameterStatus("application_name"), oldPg.ParameterStatus("application_name"); a != b {
				t.Errorf("application_name %q, pgconn's %q", a, b)
			}
			if _, err := newPg.Exec(ctx, "ROLLBACK; SELECT 1").ReadAll(); err != nil {
				t.Errorf("after the COPY: %v", err)
			}
		})
	}
}

// TestCopyToStops stops COPYs before their end (the consumer's error, the context's
// cancellation, the backend's termination): the error says why and the connection is closed.
func TestCopyToStops(t *testing.T) {
	dsn := shared.NewDB(t)
	admin := connect(t, dsn)
	const long = "COPY (SELECT g, repeat('x', 100) FROM generate_series(1, 2000000) g) TO STDOUT (FORMAT BINARY)"
	errFull := errors.New("consumer full")
	tests := []struct {
		name   string
		stop   func(ctx context.Context, cancel context.CancelFunc, pid uint32) error // called at message 1000
		wantIs error
		want   string
	}{
		{"consumer error", func(context.Context, context.CancelFunc, uint32) error { return errFull }, errFull, "consumer full"},
		{"context cancelled", func(_ context.Context, cancel context.CancelFunc, _ uint32) error { cancel(); return nil }, context.Canceled, "context canceled"},
		{"backend terminated", func(ctx context.Context, _ context.CancelFunc, pid uint32) error {
			_, err := admin.Exec(ctx, fmt.Sprintf("SELECT pg_terminate_backend(%d)", pid)).ReadAll()
			return err
		}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c := New(connect(t, dsn), 64<<10)
			var n atomic.Int64
			_, err := c.CopyTo(ctx, long, func([]byte) error {
				if n.Add(1) == 1000 {
					return tt.stop(ctx, cancel, c.PID())
				}
				return nil
			})
			if err == nil || (tt.wantIs != nil && !errors.Is(err, tt.wantIs)) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %v", err, tt.wantIs)
			}
			if !c.PgConn().IsClosed() {
				t.Error("the connection is not closed")
			}
			if _, err := c.CopyTo(context.Background(), "COPY empty TO STDOUT", func([]byte) error { return nil }); err == nil {
				t.Error("a COPY on the closed connection succeeded")
			}
			if err := c.Close(context.Background()); err != nil {
				t.Error(err)
			}
			var gone int
			for range 50 {
				var rows [][][]byte
				r, err := admin.Exec(context.Background(), fmt.Sprintf("SELECT 1 FROM pg_stat_activity WHERE pid = %d", c.PID())).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				rows = r[0].Rows
				if gone = len(rows); gone == 0 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if gone != 0 {
				t.Error("the backend is still there")
			}
		})
	}
}

// TestCopyToWithPgx: a Conn made from a pgx connection's PgConn, as the workers make theirs.
func TestCopyToWithPgx(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, shared.NewDB(t))
	if err != nil {
		t.Fatal(err)
	}
	c := New(conn.PgConn(), 1<<20)
	defer c.Close(ctx)
	var got received
	tag, err := c.CopyTo(ctx, "COPY (SELECT g FROM generate_series(1, 10) g) TO STDOUT (FORMAT BINARY)", got.data)
	if err != nil || tag.RowsAffected() != 10 || len(got) != 11 {
		t.Fatalf("tag %q, %d messages, %v", tag, len(got), err)
	}
}
