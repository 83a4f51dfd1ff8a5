package export_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/internal/readback"
	"github.com/pgparquet/pgparquet/internal/s3test"
	"github.com/pgparquet/pgparquet/objstore/s3store"
	"github.com/pgparquet/pgparquet/outcome"
)

// s3Store opens a store on bucket through the standard AWS chain (the test's environment,
// set by s3test.Server.Env).
func s3Store(t *testing.T, cfg s3store.Config) *s3store.Store {
	t.Helper()
	cfg.PathStyle = true
	st, err := s3store.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// s3Manifest reads and checks an export's manifest in the bucket: each file it names is there
// with the size and sha256 it says. It returns the manifest and the files' s3:// URIs.
func s3Manifest(t *testing.T, srv *s3test.Server, bucket, prefix string) (outcome.Result, []string) {
	t.Helper()
	var m outcome.Result
	if err := json.Unmarshal(srv.Get(t, bucket, prefix+"/"+export.ManifestName), &m); err != nil {
		t.Fatal(err)
	}
	var uris []string
	for _, f := range m.Files {
		data := srv.Get(t, bucket, prefix+"/"+f.Name)
		sum := sha256.Sum256(data)
		if int64(len(data)) != f.Bytes || hex.EncodeToString(sum[:]) != f.SHA256 {
			t.Errorf("%s: %d bytes, sha256 %x; the manifest says %d bytes, %s", f.Name, len(data), sum, f.Bytes, f.SHA256)
		}
		uris = append(uris, "s3://"+bucket+"/"+prefix+"/"+f.Name)
	}
	return m, uris
}

// TestExportToS3 exports to versitygw and reads the values back from the bucket with pyarrow's
// S3 file system and DuckDB's httpfs; files larger than a part go as multipart uploads whose
// bytes match the manifest's sha256; a prefix holding objects is refused unless Overwrite.
func TestExportToS3(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	srv.CreateBucket(t, "exports")
	srv.Env(t, s3test.RootAccess, s3test.RootSecret)
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	for _, sql := range []string{valuesDDL, valuesRows, valuesGenerated, "ANALYZE vals",
		// ~20 MB of barely compressible text: files of several parts.
		`CREATE TABLE big AS SELECT g::int8 AS id, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) AS s FROM generate_series(1, 200000) g`} {
		pgtest.Exec(t, conn, sql)
	}
	st := s3Store(t, s3store.Config{Bucket: "exports", PartSize: s3store.MinPartSize})

	t.Run("values read back from the bucket", func(t *testing.T) {
		res, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "vals", Store: st, OutputDir: "runs/vals",
			Parallel: 3, Chunks: 9, RowGroupSize: 500, BufferSize: 64 << 10})
		if err != nil {
			t.Fatal(err)
		}
		if res.OutputDir != "s3://exports/runs/vals" || res.Rows != 3000 {
			t.Fatalf("result: output %q, %d rows", res.OutputDir, res.Rows)
		}
		m, uris := s3Manifest(t, srv, "exports", "runs/vals")
		if m.Rows != 3000 {
			t.Fatalf("manifest: %d rows", m.Rows)
		}
		want := postgresValues(t, conn, "vals")
		checkStatistics(t, uris...)
		for _, reader := range readback.Readers() {
			got, err := readback.FromParquet(ctx, reader, "id", uris...)
			if err != nil {
				t.Fatal(err)
			}
			w := want
			if reader == readback.ReaderDuckDB {
				w, got = withoutColumn(want, "n60"), withoutColumn(got, "n60")
			}
			if diff := readback.Diff(w, got, 20); len(diff) > 0 {
				t.Errorf("%s read back from S3 differs from PostgreSQL:\n%s", reader, strings.Join(diff, "\n"))
			}
		}
	})

	t.Run("multipart files", func(t *testing.T) {
		res, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "big", Store: st, OutputDir: "runs/big",
			Parallel: 2, Compression: "none", MaxFileSize: 16 << 20})
		if err != nil {
			t.Fatal(err)
		}
		m, _ := s3Manifest(t, srv, "exports", "runs/big")
		if m.Rows != 200000 || res.OutputBytes < 2*s3store.MinPartSize {
			t.Fatalf("manifest: %d rows, %d bytes: not several parts", m.Rows, res.OutputBytes)
		}
		if up := srv.Uploads(t, "exports"); len(up) > 0 {
			t.Errorf("uploads left in progress: %v", up)
		}
		ids := readInt64S3(t, srv, "exports", "runs/big", m)
		if len(ids) != 200000 || slices.Min(ids) != 1 || slices.Max(ids) != 200000 {
			t.Errorf("read %d ids", len(ids))
		}
	})

	t.Run("a prefix holding objects is refused, replaced with Overwrite", func(t *testing.T) {
		_, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "vals", Store: st, OutputDir: "runs/vals", Parallel: 1})
		if !errors.Is(err, export.ErrNotEmpty) || !strings.Contains(err.Error(), "output s3://exports/runs/vals is not empty") {
			t.Fatalf("err = %v, want ErrNotEmpty", err)
		}
		before := srv.Keys(t, "exports", "runs/vals/")
		pgtest.Exec(t, conn, `DELETE FROM vals WHERE id > 10`)
		res, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "vals", Store: st, OutputDir: "runs/vals", Parallel: 1, Overwrite: true})
		if err != nil {
			t.Fatal(err)
		}
		m, _ := s3Manifest(t, srv, "exports", "runs/vals")
		if res.Rows != 10 || m.Rows != 10 {
			t.Fatalf("rows %d, manifest %d", res.Rows, m.Rows)
		}
		after := srv.Keys(t, "exports", "runs/vals/")
		if len(after) != len(m.Files)+1 {
			t.Errorf("objects before %v, after %v: the old export's files were not all replaced", before, after)
		}
	})
}

// readInt64S3 reads column id of the export's files through a local copy.
func readInt64S3(t *testing.T, srv *s3test.Server, bucket, prefix string, m outcome.Result) []int64 {
	t.Helper()
	dir := t.TempDir()
	for _, f := range m.Files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), srv.Get(t, bucket, prefix+"/"+f.Name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return readInt64(t, dir, "id")
}

// uploadingExport starts a fresh S3 server with bucket exports and an export of a 300,000-row
// table to it through a store of cfg, and returns once a multipart upload is under way: the
// server and, to come, the export's error.
func uploadingExport(t *testing.T, cfg s3store.Config) (*s3test.Server, <-chan error) {
	t.Helper()
	srv := s3test.Start(t)
	srv.CreateBucket(t, "exports")
	srv.Env(t, s3test.RootAccess, s3test.RootSecret)
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE big AS SELECT g::int8 AS id, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) AS s FROM generate_series(1, 300000) g`)
	st := s3Store(t, cfg)
	done := make(chan error, 1)
	go func() {
		_, err := export.Run(context.Background(), export.Options{ConnConfig: config(t, dsn), Table: "big", Store: st, OutputDir: "run",
			Parallel: 2, Compression: "none", MaxFileSize: 64 << 20, BufferSize: 256 << 10})
		done <- err
	}()
	deadline := time.Now().Add(time.Minute)
	for len(srv.Uploads(t, "exports")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no multipart upload started within a minute")
		}
		select {
		case err := <-done:
			t.Fatalf("the export ended before any multipart upload was seen: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return srv, done
}

// TestS3ServerKilledMidUpload kills the S3 server while an export uploads: the export fails
// with a one-line error once its retries are spent, and, the server back, no object or upload
// of the run remains.
func TestS3ServerKilledMidUpload(t *testing.T) {
	srv, done := uploadingExport(t, s3store.Config{Bucket: "exports", PartSize: s3store.MinPartSize, MaxAttempts: 2, CleanupTimeout: time.Minute})
	srv.Kill()
	time.Sleep(3 * time.Second) // past the export's retries: it fails and starts cleaning up
	srv.Restart(t)
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		t.Fatal("the export did not end within 2 minutes of the server's return")
	}
	if err == nil {
		t.Fatal("the export succeeded although the server was down past its retries")
	}
	t.Logf("error: %v", err)
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "the server cannot be reached") {
		t.Errorf("error is not one line saying the server cannot be reached: %q", msg)
	}
	if keys := srv.Keys(t, "exports", ""); len(keys) > 0 {
		t.Errorf("objects of the failed run remain: %v", keys)
	}
	if up := srv.Uploads(t, "exports"); len(up) > 0 {
		t.Errorf("uploads of the failed run remain: %v", up)
	}
}

// TestS3ShortOutageRetried kills the S3 server for a second while an export uploads: the
// requests retry with backoff and the export completes, every file whole.
func TestS3ShortOutageRetried(t *testing.T) {
	srv, done := uploadingExport(t, s3store.Config{Bucket: "exports", PartSize: s3store.MinPartSize})
	srv.Kill()
	time.Sleep(time.Second)
	srv.Restart(t)
	if err := <-done; err != nil {
		t.Fatalf("the export failed over a one-second outage: %v", err)
	}
	m, _ := s3Manifest(t, srv, "exports", "run")
	if ids := readInt64S3(t, srv, "exports", "run", m); len(ids) != 300000 {
		t.Errorf("read %d rows, want 300000", len(ids))
	}
}

// TestS3AccessErrors: wrong credentials, a missing bucket and a user without permission each
// fail the export with one line saying what is wrong, write nothing, and show no secret in
// the error or the log.
func TestS3AccessErrors(t *testing.T) {
	ctx := context.Background()
	limited := s3test.User{Access: "limited-user", Secret: "limited-secret-5d8e2a9c"}
	srv := s3test.Start(t, limited)
	srv.CreateBucket(t, "exports")
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 1000) g`)
	for _, tc := range []struct {
		name, access, secret, bucket string
		want                         string
	}{
		{"wrong secret", s3test.RootAccess, "wrong-secret-71c3b0e4f2", "exports", "the request signature does not match; check the secret access key (AWS_SECRET_ACCESS_KEY)"},
		{"unknown access key", "nobody-at-all", "nobody-secret-3a6f9d1b", "exports", "the server does not know the access key ID; check AWS_ACCESS_KEY_ID"},
		{"missing bucket", s3test.RootAccess, s3test.RootSecret, "no-such-bucket", `bucket "no-such-bucket" does not exist`},
		{"no permission", limited.Access, limited.Secret, "exports", "access denied; the credentials need s3:ListBucket, s3:PutObject"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv.Env(t, tc.access, tc.secret)
			var logs bytes.Buffer
			st := s3Store(t, s3store.Config{Bucket: tc.bucket})
			_, err := export.Run(ctx, export.Options{ConnConfig: config(t, dsn), Table: "t", Store: st, OutputDir: "run",
				Parallel: 1, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err == nil {
				t.Fatal("the export succeeded")
			}
			msg := err.Error()
			t.Logf("error: %s", msg)
			if !strings.Contains(msg, tc.want) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line containing %q", msg, tc.want)
			}
			for _, secret := range []string{tc.secret, s3test.RootSecret, limited.Secret} {
				if strings.Contains(msg, secret) || strings.Contains(logs.String(), secret) {
					t.Errorf("a secret shows in the error or the log: %q\n%s", msg, logs.String())
				}
			}
			if keys := srv.Keys(t, "exports", ""); len(keys) > 0 {
				t.Errorf("objects written: %v", keys)
			}
		})
	}
}
