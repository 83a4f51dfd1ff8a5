package sidecar

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/internal/s3test"
	"github.com/pgparquet/pgparquet/sql/control"
)

// s3Files checks the files table of request id against the objects in the bucket (each path
// an s3:// URI below prefix, with the bytes and sha256 recorded) and returns the keys.
func s3Files(t *testing.T, e *env, srv *s3test.Server, id int64, bucket, prefix string) []string {
	t.Helper()
	rows, err := e.su.Query(context.Background(), `SELECT path, bytes, sha256 FROM parquet_export_files WHERE request_id = $1 ORDER BY path`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var path, sum string
		var n int64
		if err := rows.Scan(&path, &n, &sum); err != nil {
			t.Fatal(err)
		}
		key, ok := strings.CutPrefix(path, "s3://"+bucket+"/"+prefix+"/")
		if !ok {
			t.Fatalf("files table path %q is not an s3:// URI below s3://%s/%s", path, bucket, prefix)
		}
		data := srv.Get(t, bucket, prefix+"/"+key)
		h := sha256.Sum256(data)
		if int64(len(data)) != n || hex.EncodeToString(h[:]) != sum {
			t.Errorf("%s: %d bytes, sha256 %x; files table says %d, %s", path, len(data), h, n, sum)
		}
		keys = append(keys, prefix+"/"+key)
	}
	if len(keys) == 0 {
		t.Fatalf("request %d has no files", id)
	}
	return keys
}

// TestServeToS3: a sidecar whose output root is s3://bucket/prefix publishes each request
// below it (files table with URIs, manifest last); a killed attempt's staged objects are
// removed by the janitor and the re-run is not refused for them; an output path that would
// leave the root is refused by the control tables before any key is written.
func TestServeToS3(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket(t, "exports")
	srv.Env(t, s3test.RootAccess, s3test.RootSecret)
	e := leastPrivilegeEnv(t)
	e.req = e.role(t, "req")
	pgtest.Exec(t, e.su, `CREATE TABLE items AS SELECT g AS id FROM generate_series(1, 5000) g`)
	pgtest.Exec(t, e.su, `GRANT SELECT ON items TO req`)
	s3root := func(c *Config, _ *hooks) { c.OutputRoot, c.S3PathStyle = "s3://exports/root", true }
	if _, err := control.Migrate(context.Background(), pgtest.Connect(t, e.dsn), control.MigrateOptions{}); err != nil {
		t.Fatal(err) // as the sidecar's role, which owns the control tables then
	}

	t.Run("published below the root prefix", func(t *testing.T) {
		r := e.start(t, "a", s3root)
		defer r.stop()
		id := insert(t, e.req, "items", "first")
		st := e.waitState(t, id, "succeeded", 30*time.Second)
		if st.Rows != 5000 {
			t.Errorf("status %+v", st)
		}
		keys := s3Files(t, e, srv, id, "exports", "root/req/first")
		want := append(keys, "root/req/first/_manifest.json")
		slices.Sort(want)
		if got := srv.Keys(t, "exports", "root/req/first"); !slices.Equal(got, want) {
			t.Errorf("objects %v, want %v", got, want)
		}
		// parquet_export_delete removes the objects, manifest first, and marks the row.
		var res string
		if err := e.req.QueryRow(context.Background(), `SELECT parquet_export_delete($1)`, id).Scan(&res); err != nil || res != "deleting" {
			t.Fatalf("parquet_export_delete: %q, %v", res, err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for len(srv.Keys(t, "exports", "root/req/first")) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("objects left after the deletion: %v", srv.Keys(t, "exports", "root/req/first"))
			}
			time.Sleep(50 * time.Millisecond)
		}
		var deleted bool
		for time.Now().Before(deadline) && !deleted {
			if err := e.su.QueryRow(context.Background(), `SELECT deleted_at IS NOT NULL FROM parquet_export_requests WHERE id = $1`, id).Scan(&deleted); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !deleted {
			t.Errorf("request %d not marked deleted", id)
		}
	})

	t.Run("a killed attempt's staging is cleaned, the re-run succeeds", func(t *testing.T) {
		held := make(chan struct{})
		a := e.start(t, "k", func(c *Config, h *hooks) {
			s3root(c, h)
			h.onSnapshot = func(ctx context.Context, req *control.Request) error {
				close(held)
				<-ctx.Done()
				return context.Cause(ctx)
			}
		})
		id := insert(t, e.req, "items", "second")
		select {
		case <-held:
		case <-time.After(10 * time.Second):
			t.Fatal("sidecar k did not start the export")
		}
		a.kill()
		a.stop()
		// What a killed attempt leaves: a partial object in its staging prefix.
		var attempt int
		if err := e.su.QueryRow(context.Background(), `SELECT fence FROM parquet_export_requests WHERE id = $1`, id).Scan(&attempt); err != nil {
			t.Fatal(err)
		}
		staged := "root/req/second/.pgparquet-" + control.Lease{Fence: int64(attempt)}.StagingTag() + "/part-00000.parquet"
		srv.Put(t, "exports", staged, []byte("half a file"))
		b := e.start(t, "b", s3root)
		defer b.stop()
		e.waitState(t, id, "succeeded", 30*time.Second)
		keys := s3Files(t, e, srv, id, "exports", "root/req/second")
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			got := srv.Keys(t, "exports", "root/req/second")
			want := append(slices.Clone(keys), "root/req/second/_manifest.json")
			slices.Sort(want)
			if slices.Equal(got, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("objects %v, want %v: the killed attempt's staging was not removed", got, want)
			}
		}
	})

	t.Run("wrong credentials fail in one line, no secret shown", func(t *testing.T) {
		const wrong = "wrong-secret-e93b71c0"
		t.Setenv("AWS_SECRET_ACCESS_KEY", wrong)
		var logs safeBuffer
		w := e.start(t, "w", func(c *Config, h *hooks) {
			s3root(c, h)
			c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
		defer w.stop()
		id := insert(t, e.req, "items", "third")
		st := e.waitFinal(t, id, 30*time.Second)
		if st.State != "failed" || strings.Contains(st.Error, "\n") || !strings.Contains(st.Error, "the request signature does not match") {
			t.Errorf("status %+v: want failed with one line about the signature", st)
		}
		rec := httptest.NewRecorder()
		w.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		for what, text := range map[string]string{"status": st.Error, "log": logs.String(), "metrics": rec.Body.String()} {
			for _, secret := range []string{wrong, s3test.RootSecret} {
				if strings.Contains(text, secret) {
					t.Errorf("a secret shows in the %s: %s", what, text)
				}
			}
		}
		if keys := srv.Keys(t, "exports", "root/req/third"); len(keys) > 0 {
			t.Errorf("objects written: %v", keys)
		}
	})

	t.Run("an output path leaving the root is refused", func(t *testing.T) {
		var id int64
		err := e.req.QueryRow(context.Background(), `INSERT INTO parquet_export_requests (table_name, output_path) VALUES ('items', '../escape') RETURNING id`).Scan(&id)
		if err == nil {
			t.Fatalf("request %d with output_path ../escape was accepted", id)
		}
		if keys := srv.Keys(t, "exports", "escape"); len(keys) > 0 {
			t.Errorf("objects outside the root: %v", keys)
		}
	})
}

// safeBuffer is a bytes.Buffer for concurrent writers.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
