package export_test

import (
	"context"
	"errors"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/export"
)

// TestSnapshotConsistency exports a table while other sessions move amounts between rows,
// insert rows and delete rows, and checks that the files hold exactly the rows of the exported
// snapshot: same count, same sum, no row twice.
func TestSnapshotConsistency(t *testing.T) {
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE accounts (id bigint PRIMARY KEY, amount bigint NOT NULL, pad text)`)
	pgtest.Exec(t, conn, `INSERT INTO accounts SELECT g, 1000, repeat('x', 100) FROM generate_series(1, 200000) g`)
	pgtest.Exec(t, conn, `VACUUM ANALYZE accounts`)

	// Writers run until the export is done: transfers (sum invariant), inserts and deletes.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writes atomic.Int64
	var nextID atomic.Int64
	nextID.Store(1_000_000)
	writerErr := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				writerErr <- err
				return
			}
			defer c.Close(ctx)
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			for {
				select {
				case <-stop:
					return
				default:
				}
				a, b, d := 1+rng.Int64N(200000), 1+rng.Int64N(200000), rng.Int64N(100)
				var err error
				switch rng.IntN(4) {
				case 0, 1:
					err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
						if _, err := tx.Exec(ctx, `UPDATE accounts SET amount = amount - $2 WHERE id = $1`, a, d); err != nil {
							return err
						}
						_, err := tx.Exec(ctx, `UPDATE accounts SET amount = amount + $2 WHERE id = $1`, b, d)
						return err
					})
				case 2:
					_, err = c.Exec(ctx, `INSERT INTO accounts VALUES ($1, $2, 'new')`, nextID.Add(1), d)
				case 3:
					_, err = c.Exec(ctx, `DELETE FROM accounts WHERE id = $1`, a)
				}
				var pgErr interface{ SQLState() string }
				if err != nil && !(errors.As(err, &pgErr) && pgErr.SQLState() == "40P01") { // deadlocks between transfers are fine
					writerErr <- err
					return
				}
				writes.Add(1)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond) // let the writers get going

	var wantCount, wantSum, writesAtSnapshot int64
	dir := t.TempDir()
	_, err := export.Run(ctx, export.Options{
		ConnConfig: config(t, dsn), Table: "accounts", OutputDir: dir, Parallel: 8, Chunks: 32,
		BufferSize: 256 << 10,
		OnSnapshot: func(ctx context.Context, id, _ string) error {
			writesAtSnapshot = writes.Load()
			// Import the export's snapshot into a transaction of our own to see what it sees.
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				return err
			}
			defer c.Close(ctx)
			return pgx.BeginTxFunc(ctx, c, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+id+"'"); err != nil {
					return err
				}
				return tx.QueryRow(ctx, `SELECT count(*), sum(amount) FROM accounts`).Scan(&wantCount, &wantSum)
			})
		},
	})
	writesDuring := writes.Load()
	close(stop)
	wg.Wait()
	close(writerErr)
	for err := range writerErr {
		t.Fatalf("writer: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	ids := readInt64(t, dir, "id")
	amounts := readInt64(t, dir, "amount")
	var sum int64
	seen := make(map[int64]bool, len(ids))
	for i, id := range ids {
		if seen[id] {
			t.Fatalf("id %d exported twice", id)
		}
		seen[id] = true
		sum += amounts[i]
	}
	if int64(len(ids)) != wantCount || sum != wantSum {
		t.Fatalf("exported %d rows summing to %d; the snapshot holds %d rows summing to %d", len(ids), sum, wantCount, wantSum)
	}
	var nowCount int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM accounts`).Scan(&nowCount); err != nil {
		t.Fatal(err)
	}
	during := writesDuring - writesAtSnapshot
	t.Logf("snapshot: %d rows, sum %d; %d writes committed while the export ran; now %d rows",
		wantCount, wantSum, during, nowCount)
	if during < 20 {
		t.Fatalf("only %d writes ran during the export: the test did not exercise concurrency", during)
	}
}
