// Package resttest runs a real Iceberg REST catalog for tests: Apache Iceberg's own REST
// catalog test server (org.apache.iceberg.rest.RESTCatalogServer, from iceberg-open-api's test
// fixtures: what the apache/iceberg-rest-fixture image runs), serving a JDBC catalog kept in a
// SQLite file of the test's, with its warehouse in the test's temporary directory (file://) or
// on an S3-compatible server (s3://, package s3test's versitygw).
//
// The server is a JVM: Java 17 or later must be on the PATH. Its jars come from Maven Central
// (pom.xml beside this file lists them) into the repository's .cache/iceberg-rest/<pom hash>
// (the first 12 hex digits of pom.xml's sha256: a changed pom.xml is a new classpath), fetched
// with mvn when missing (the Makefile's iceberg-rest target, which `make test` runs first, does
// it once); tests never skip for lack of them.
package resttest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Version is the Apache Iceberg release whose REST catalog server the tests run (pom.xml's
// iceberg.version).
const Version = "1.10.0"

// Server is one running REST catalog server. Start kills it when the test ends.
type Server struct {
	// URI is the catalog's base URL, http://127.0.0.1:port; pgparquet names it
	// rest+http://127.0.0.1:port.
	URI string
	// Warehouse is the server's warehouse, file:///… or s3://…: a table created without a
	// location goes to <Warehouse>/<namespace>/<name> (the JDBC catalog's layout).
	Warehouse string
	logPath   string
	cmd       *exec.Cmd
	exited    chan struct{}
}

var (
	fetchOnce sync.Once
	fetchErr  error
)

// Classpath returns the directory holding the server's jars: $PGPARQUET_ICEBERG_REST_JARS,
// else .cache/iceberg-rest/<pom hash> in the module's root, fetched there with mvn first when
// missing.
func Classpath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PGPARQUET_ICEBERG_REST_JARS"); p != "" {
		return p
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("resttest: find the module root (go env GOMOD): %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	pom, err := os.ReadFile(filepath.Join(root, "lakehouse", "resttest", "pom.xml"))
	if err != nil {
		t.Fatalf("resttest: %v", err)
	}
	sum := sha256.Sum256(pom)
	dir := filepath.Join(root, ".cache", "iceberg-rest", hex.EncodeToString(sum[:])[:12])
	fetchOnce.Do(func() { fetchErr = fetch(root, dir) })
	if fetchErr != nil {
		t.Fatal(fetchErr)
	}
	return dir
}

// fetch copies the server's jars into dir with mvn, through a temporary directory of its own
// renamed into place, so that an interrupted fetch leaves no partial classpath and test
// binaries fetching at once (go test ./... runs packages in parallel) do not mix theirs.
func fetch(root, dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if _, err := exec.LookPath("mvn"); err != nil {
		return fmt.Errorf("resttest: the REST catalog server's jars are not in %s and mvn is not on the PATH to fetch them (run `make iceberg-rest`, or set $PGPARQUET_ICEBERG_REST_JARS)", dir)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("resttest: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("resttest: %w", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("mvn", "-q", "-B", "-f", filepath.Join(root, "lakehouse", "resttest", "pom.xml"),
		"dependency:copy-dependencies", "-DoutputDirectory="+tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("resttest: fetch Iceberg %s's REST catalog server with mvn: %w\n%s", Version, err, out)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(dir); statErr == nil {
			return nil // another test binary fetched it meanwhile
		}
		return fmt.Errorf("resttest: move the jars into %s: %w", dir, err)
	}
	return nil
}

// S3 is a warehouse on an S3-compatible server: the server's S3FileIO writes the tables'
// metadata.json there, with these credentials (path-style addressing).
type S3 struct {
	Endpoint, Key, Secret, Region string
	// Warehouse is s3://bucket/prefix; the bucket must exist.
	Warehouse string
}

// Start runs a server until the test ends: a fresh catalog (no namespace, no table) on a free
// loopback port, its SQLite file and warehouse in a temporary directory of the test's. It
// returns once the server answers GET /v1/config (a JVM start: a few seconds).
//
// The server listens on every interface (RESTCatalogServer binds no address of its own); the
// tests reach it on 127.0.0.1 only.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, nil)
}

// StartS3 runs a server as Start does, with its warehouse on s3.
func StartS3(t testing.TB, s3 S3) *Server {
	t.Helper()
	return start(t, &s3)
}

func start(t testing.TB, s3 *S3) *Server {
	t.Helper()
	cp := Classpath(t)
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatal("resttest: java is not on the PATH: Iceberg's REST catalog server needs Java 17 or later")
	}
	base := t.TempDir()
	wh := filepath.Join(base, "warehouse")
	tmp := filepath.Join(base, "tmp") // sqlite-jdbc unpacks its native library there
	for _, d := range []string{wh, tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{URI: fmt.Sprintf("http://127.0.0.1:%d", port), Warehouse: "file://" + wh, logPath: filepath.Join(base, "server.log")}
	logf, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	// A small, quickly started JVM: the catalog holds a few tables.
	s.cmd = exec.Command(java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.io.tmpdir="+tmp,
		"-cp", filepath.Join(cp, "*"), "org.apache.iceberg.rest.RESTCatalogServer")
	// RESTCatalogServer reads its configuration from CATALOG_* variables (CATALOG_A_B is
	// property a.b, __ a dash): the JDBC catalog on a SQLite file, the warehouse, the port;
	// ResolvingFileIO picks the file IO by scheme (HadoopFileIO for file://, S3FileIO for s3://).
	env := []string{
		"CATALOG_CATALOG__IMPL=org.apache.iceberg.jdbc.JdbcCatalog",
		"CATALOG_URI=jdbc:sqlite:" + filepath.Join(base, "catalog.db"),
		"CATALOG_JDBC_USER=user", "CATALOG_JDBC_PASSWORD=password",
		"CATALOG_IO__IMPL=org.apache.iceberg.io.ResolvingFileIO",
		fmt.Sprintf("CATALOG_REST_PORT=%d", port),
	}
	if s3 != nil {
		s.Warehouse = s3.Warehouse
		env = append(env, "CATALOG_S3_ENDPOINT="+s3.Endpoint, "CATALOG_S3_PATH__STYLE__ACCESS=true",
			"CATALOG_S3_ACCESS__KEY__ID="+s3.Key, "CATALOG_S3_SECRET__ACCESS__KEY="+s3.Secret, "CATALOG_CLIENT_REGION="+s3.Region,
			"AWS_REGION="+s3.Region, "AWS_ACCESS_KEY_ID="+s3.Key, "AWS_SECRET_ACCESS_KEY="+s3.Secret)
	}
	env = append(env, "CATALOG_WAREHOUSE="+s.Warehouse)
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("resttest: start the REST catalog server: %v", err)
	}
	s.exited = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.exited) }() //nolint:errcheck // killed on purpose
	t.Cleanup(s.kill)
	if err := s.wait(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	return s
}

// wait returns once the server answers GET /v1/config.
func (s *Server) wait(limit time.Duration) error {
	cl := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); {
		if resp, err := cl.Get(s.URI + "/v1/config"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("resttest: the REST catalog server exited at start:\n%s", s.Log())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return errors.New("resttest: the REST catalog server did not answer within " + limit.String() + ":\n" + s.Log())
}

// kill stops the server and waits for it.
func (s *Server) kill() {
	s.cmd.Process.Kill() //nolint:errcheck // it may have exited
	<-s.exited
}

// Log is what the server printed (its log), for a failing test's message.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}
