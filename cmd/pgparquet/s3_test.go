package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgparquet/pgparquet/internal/s3test"
)

// TestCLIToS3 runs the binary against versitygw: --output-dir s3://bucket/prefix writes the
// files and the manifest and prints the s3:// URI; SIGINT mid-upload leaves no object; a
// wrong secret exits 1 with one line that does not show it.
func TestCLIToS3(t *testing.T) {
	bin := buildBinary(t)
	dsn := setupTable(t, 200000)
	srv := s3test.Start(t)
	srv.CreateBucket(t, "exports")
	srv.Env(t, s3test.RootAccess, s3test.RootSecret)

	t.Run("export", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, "export", "--dsn", dsn, "--table", "big", "--output-dir", "s3://exports/cli/run", "--s3-path-style", "--parallel", "2")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
		var sum struct {
			Rows      int64
			OutputDir string `json:"output_dir"`
			Files     []struct{ Name string }
		}
		if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
			t.Fatalf("summary %q: %v", stdout.String(), err)
		}
		if sum.Rows != 200000 || sum.OutputDir != "s3://exports/cli/run" {
			t.Fatalf("summary: %+v", sum)
		}
		want := []string{"cli/run/_manifest.json"}
		for _, f := range sum.Files {
			want = append(want, "cli/run/"+f.Name)
		}
		slices.Sort(want)
		if got := srv.Keys(t, "exports", "cli/"); !slices.Equal(got, want) {
			t.Errorf("objects %v, want %v", got, want)
		}
	})

	t.Run("SIGINT mid-upload leaves nothing", func(t *testing.T) {
		var stderr bytes.Buffer
		cmd := exec.Command(bin, "export", "--dsn", dsn, "--table", "big", "--output-dir", "s3://exports/sigint", "--s3-path-style",
			"--parallel", "2", "--compression", "none", "--no-progress")
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); len(srv.Uploads(t, "exports"))+len(srv.Keys(t, "exports", "sigint/")) == 0; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the export wrote nothing within 30 s")
			}
		}
		cmd.Process.Signal(syscall.SIGINT) //nolint:errcheck // it may have finished
		err := cmd.Wait()
		t.Logf("exit: %v; %s", err, strings.TrimSpace(stderr.String()))
		if keys := srv.Keys(t, "exports", "sigint/"); err != nil && len(keys) > 0 {
			t.Errorf("interrupted export left %v\n%s", keys, stderr.String())
		}
		if up := srv.Uploads(t, "exports"); len(up) > 0 {
			t.Errorf("uploads left: %v", up)
		}
	})

	t.Run("wrong secret", func(t *testing.T) {
		t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret-8c1d")
		var stderr bytes.Buffer
		cmd := exec.Command(bin, "export", "--dsn", dsn, "--table", "big", "--output-dir", "s3://exports/wrong", "--s3-path-style", "--no-progress")
		cmd.Stderr = &stderr
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
			t.Fatalf("exit: %v, want 1\n%s", err, stderr.String())
		}
		out := strings.TrimSpace(stderr.String())
		if strings.Contains(out, "\n") || !strings.Contains(out, "the request signature does not match") || strings.Contains(out, "not-the-secret-8c1d") {
			t.Errorf("stderr: %q, want one line about the signature, without the secret", out)
		}
	})
}
