// Package s3test runs a real S3 server for tests: versitygw (an S3 gateway with a POSIX
// backend) on a free loopback port, its objects in a temporary directory, with root
// credentials and optional IAM users. Tests never skip for lack of it: the binary is
// installed with `go install` into the repository's .cache/bin when missing (the Makefile's
// test target does it first).
package s3test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Version is the versitygw release the tests run.
const Version = "v1.8.0"

// Root credentials of every server.
const (
	RootAccess = "pgparquet-root"
	RootSecret = "root-secret-9f2c1e7a4b"
	Region     = "us-east-1"
)

// Server is one running versitygw. Its methods are safe for one test's goroutines.
type Server struct {
	Endpoint string // http://127.0.0.1:port
	addr     string
	dir      string // the POSIX backend's root: one directory per bucket
	iamDir   string
	logPath  string
	mu       sync.Mutex
	cmd      *exec.Cmd
	exited   chan struct{}
}

// User is an IAM account of role "user": it may use buckets it owns only.
type User struct{ Access, Secret string }

var installOnce sync.Once

// Bin returns the versitygw binary: $PGPARQUET_VERSITYGW, else .cache/bin/versitygw in the
// module's root, installed there first when missing.
func Bin(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PGPARQUET_VERSITYGW"); p != "" {
		return p
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("s3test: find the module root (go env GOMOD): %v", err)
	}
	binDir := filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), ".cache", "bin")
	bin := filepath.Join(binDir, "versitygw")
	var installErr error
	installOnce.Do(func() {
		if _, err := os.Stat(bin); err == nil {
			return
		}
		cmd := exec.Command("go", "install", "github.com/versity/versitygw/cmd/versitygw@"+Version)
		cmd.Env = append(os.Environ(), "GOBIN="+binDir)
		if out, err := cmd.CombinedOutput(); err != nil {
			installErr = fmt.Errorf("go install versitygw@%s: %w\n%s", Version, err, out)
		}
	})
	if installErr != nil {
		t.Fatal(installErr)
	}
	return bin
}

// Start runs a server until the test ends, with users (may be none) beside root.
func Start(t testing.TB, users ...User) *Server {
	t.Helper()
	base := t.TempDir()
	s := &Server{dir: filepath.Join(base, "data"), iamDir: filepath.Join(base, "iam"), logPath: filepath.Join(base, "versitygw.log")}
	for _, d := range []string{s.dir, s.iamDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	accounts := map[string]any{}
	for _, u := range users {
		accounts[u.Access] = map[string]any{"access": u.Access, "secret": u.Secret, "role": "user", "userID": 0, "groupID": 0, "projectID": 0}
	}
	data, _ := json.Marshal(map[string]any{"accessAccounts": accounts})
	if err := os.WriteFile(filepath.Join(s.iamDir, "users.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	l.Close()
	s.Endpoint = "http://" + s.addr
	bin := Bin(t)
	if err := s.start(bin); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Kill() })
	return s
}

func (s *Server) start(bin string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "--port", s.addr, "--access", RootAccess, "--secret", RootSecret, "--region", Region,
		"--iam-dir", s.iamDir, "--quiet", "posix", s.dir)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("s3test: start versitygw: %w", err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) { cmd.Wait(); close(exited) }(s.exited) //nolint:errcheck // killed on purpose
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		select {
		case <-s.exited:
			log, _ := os.ReadFile(s.logPath)
			return fmt.Errorf("s3test: versitygw exited at start: %s", log)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("s3test: versitygw did not listen within 30s")
}

// Kill stops the server at once (SIGKILL), as a crash would; its data stays for Restart.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill() //nolint:errcheck // gone already is fine
	<-exited
}

// Restart starts the killed server again on the same address and data.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.start(Bin(t)); err != nil {
		t.Fatal(err)
	}
}

// Client returns an S3 client of root's.
func (s *Server) Client() *s3.Client {
	return s.ClientAs(RootAccess, RootSecret)
}

// ClientAs returns an S3 client with these credentials.
func (s *Server) ClientAs(access, secret string) *s3.Client {
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(access, secret, ""),
	})
}

// CreateBucket creates bucket, owned by root.
func (s *Server) CreateBucket(t testing.TB, bucket string) {
	t.Helper()
	if _, err := s.Client().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
}

// Env points the standard AWS chain at the server, with these credentials, for the rest of
// the test (t.Setenv: the test must not be parallel). Shared config files and the instance
// metadata service are kept out.
func (s *Server) Env(t testing.TB, access, secret string) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": access, "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": "",
		"AWS_REGION": Region, "AWS_ENDPOINT_URL": s.Endpoint, "AWS_ENDPOINT_URL_S3": "",
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": none, "AWS_SHARED_CREDENTIALS_FILE": none,
		"AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
}

// Keys lists every object key in bucket below prefix.
func (s *Server) Keys(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.Client(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list s3://%s/%s: %v", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// Uploads lists the multipart uploads in progress in bucket, as their keys.
func (s *Server) Uploads(t testing.TB, bucket string) []string {
	t.Helper()
	out, err := s.Client().ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("list uploads of %s: %v", bucket, err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}

// Get reads one object.
func (s *Server) Get(t testing.TB, bucket, key string) []byte {
	t.Helper()
	out, err := s.Client().GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get s3://%s/%s: %v", bucket, key, err)
	}
	defer out.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(out.Body); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Put writes one object.
func (s *Server) Put(t testing.TB, bucket, key string, data []byte) {
	t.Helper()
	if _, err := s.Client().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
		t.Fatalf("put s3://%s/%s: %v", bucket, key, err)
	}
}

// Log returns what the server printed.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}
