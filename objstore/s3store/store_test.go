package s3store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgparquet/pgparquet/internal/s3test"
	"github.com/pgparquet/pgparquet/objstore"
	"github.com/pgparquet/pgparquet/objstore/s3store"
	"github.com/pgparquet/pgparquet/outcome"
)

// stage writes files (name → content) and a manifest naming them through an attempt of st.
func stage(t *testing.T, st *s3store.Store, dir, tag string, files map[string][]byte) objstore.Sink {
	t.Helper()
	ctx := context.Background()
	sink, err := st.Open(ctx, dir, tag, false)
	if err != nil {
		t.Fatal(err)
	}
	var m outcome.Result
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range files {
			if !yield(k) {
				return
			}
		}
	}) {
		f, err := sink.Create(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		data := files[name]
		for len(data) > 0 { // in uneven writes, as the Parquet writer does
			n := min(len(data), 1+rand.IntN(3<<20))
			if _, err := f.Write(data[:n]); err != nil {
				t.Fatal(err)
			}
			data = data[n:]
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		m.Files = append(m.Files, outcome.File{Name: name, Bytes: int64(len(files[name]))})
	}
	data, _ := json.Marshal(m)
	if err := sink.WriteManifest(ctx, data); err != nil {
		t.Fatal(err)
	}
	return sink
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	return b
}

func TestStagedPublish(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	srv.CreateBucket(t, "out")
	srv.Env(t, s3test.RootAccess, s3test.RootSecret)
	st, err := s3store.New(ctx, s3store.Config{Bucket: "out", Prefix: "root", PathStyle: true, Stage: true, PartSize: s3store.MinPartSize})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"part-00000.parquet": randomBytes(12 << 20), "part-00001.parquet": []byte("small")}

	t.Run("staged objects are published by copy, manifest last, staging removed", func(t *testing.T) {
		sink := stage(t, st, "alice/a", "attempt-1", files)
		if keys := srv.Keys(t, "out", "root/alice/a/part-"); len(keys) > 0 {
			t.Fatalf("objects visible before Publish: %v", keys)
		}
		// Another attempt of the same export is not refused for this one's staging prefix.
		other, err := st.Open(ctx, "alice/a", "attempt-2", false)
		if err != nil {
			t.Fatalf("a second attempt is refused: %v", err)
		}
		if err := other.Discard(ctx); err != nil {
			t.Fatal(err)
		}
		if err := sink.Publish(ctx); err != nil {
			t.Fatal(err)
		}
		for name, want := range files {
			if got := srv.Get(t, "out", "root/alice/a/"+name); !bytes.Equal(got, want) {
				t.Errorf("%s: %d bytes published, want %d", name, len(got), len(want))
			}
		}
		want := []string{"root/alice/a/_manifest.json", "root/alice/a/part-00000.parquet", "root/alice/a/part-00001.parquet"}
		if keys := srv.Keys(t, "out", "root/"); !slices.Equal(keys, want) {
			t.Errorf("objects %v, want %v", keys, want)
		}
		// Publishing again (a janitor rolling forward after the publisher died) changes nothing.
		if err := st.Publish(ctx, "alice/a", "attempt-1"); err != nil {
			t.Errorf("publish again: %v", err)
		}
		if _, err := st.Open(ctx, "alice/a", "attempt-3", false); !errors.Is(err, objstore.ErrNotEmpty) {
			t.Errorf("open over a published export: %v, want ErrNotEmpty", err)
		}
	})

	t.Run("overwrite removes the old export before anything is staged", func(t *testing.T) {
		if err := stage(t, st, "alice/o", "attempt-1", files).Publish(ctx); err != nil {
			t.Fatal(err)
		}
		over, err := st.Open(ctx, "alice/o", "attempt-2", true)
		if err != nil {
			t.Fatal(err)
		}
		if keys := srv.Keys(t, "out", "root/alice/o/"); len(keys) > 0 {
			t.Errorf("objects of the old export left by Overwrite: %v", keys)
		}
		if err := over.Discard(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a dead attempt's staging is discarded, nothing else", func(t *testing.T) {
		stage(t, st, "alice/b", "attempt-7", files)
		if err := st.DiscardStaging(ctx, "alice/b", "attempt-7"); err != nil {
			t.Fatal(err)
		}
		if keys := srv.Keys(t, "out", "root/alice/b"); len(keys) > 0 {
			t.Errorf("objects left: %v", keys)
		}
		if len(srv.Keys(t, "out", "root/alice/a/")) != 3 {
			t.Error("another export's objects were touched")
		}
	})

	t.Run("a discarded attempt leaves nothing", func(t *testing.T) {
		sink := stage(t, st, "alice/c", "attempt-9", files)
		if err := sink.Discard(ctx); err != nil {
			t.Fatal(err)
		}
		if keys := srv.Keys(t, "out", "root/alice/c"); len(keys) > 0 {
			t.Errorf("objects left: %v", keys)
		}
		if up := srv.Uploads(t, "out"); len(up) > 0 {
			t.Errorf("uploads left: %v", up)
		}
	})

	t.Run("keys never leave the root prefix", func(t *testing.T) {
		for _, dir := range []string{"../x", "a/../../x", "/abs", "a//b"} {
			if _, err := st.Open(ctx, dir, "attempt-1", false); err == nil {
				t.Errorf("Open(%q) succeeded", dir)
			}
		}
		sink, err := st.Open(ctx, "alice/d", "attempt-1", false)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"../x", "a/b", "..", ""} {
			if _, err := sink.Create(ctx, name); err == nil {
				t.Errorf("Create(%q) succeeded", name)
			}
		}
		if err := sink.Discard(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestHungServerTimesOut points the store at a server that accepts connections and never
// answers: each request gives up after ResponseTimeout, is retried, and the operation fails
// in one line instead of hanging.
func TestHungServerTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered, until the test ends
		}
	}()
	t.Setenv("AWS_ENDPOINT_URL", "http://"+l.Addr().String())
	t.Setenv("AWS_ACCESS_KEY_ID", "hung")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "hung-secret-2f9c")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := context.Background()
	st, err := s3store.New(ctx, s3store.Config{Bucket: "out", PathStyle: true, ResponseTimeout: 300 * time.Millisecond, MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = st.Open(ctx, "x", "attempt-1", false)
	if err == nil {
		t.Fatal("Open succeeded against a server that never answers")
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Open took %s", took)
	}
	if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "list s3://out/x: the server did not answer within 300ms, 2 times") || strings.Contains(msg, "hung-secret-2f9c") {
		t.Errorf("error %q: want one line naming the prefix, without the secret", msg)
	}
	t.Logf("error: %v", err)
}
