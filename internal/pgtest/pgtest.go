// Package pgtest starts throwaway PostgreSQL clusters for tests and benchmarks, so that every
// test talks to a real server and `make test` passes on a fresh machine where PostgreSQL is
// installed but not running.
//
// A Cluster is initdb'd into a fresh temporary directory, listens on a random free port on
// 127.0.0.1 only, runs with fsync off, and is removed by Stop. When the test process runs as
// root (as CI does), the server runs as an unprivileged OS user ("postgres" if it exists, else
// "nobody"), because PostgreSQL refuses to run as root.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Options tunes a cluster. The zero value gives a cluster fit for tests.
type Options struct {
	// BinDir holds initdb, postgres and pg_ctl. Empty: $PGTEST_BINDIR, then `pg_config --bindir`,
	// then the newest /usr/lib/postgresql/*/bin.
	BinDir string
	// Settings are extra postgresql.conf lines (name -> value, written as name = 'value').
	Settings map[string]string
	// Logf receives progress lines (initdb, start, stop); nil discards them.
	Logf func(format string, args ...any)
}

// Cluster is one running throwaway PostgreSQL server. Its methods are safe to call from one
// goroutine at a time; DSN and AdminDSN may be called concurrently.
type Cluster struct {
	binDir  string
	dir     string // temporary root: data/ and the server log live here
	dataDir string
	logFile string
	port    int
	cred    *syscall.Credential // nil when not running as root
	logf    func(string, ...any)
}

// Start runs initdb and starts the server. The caller must Stop it.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	binDir, err := findBinDir(opts.BinDir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{binDir: binDir, logf: opts.Logf}
	if c.logf == nil {
		c.logf = func(string, ...any) {}
	}
	if c.cred, err = serverCredential(); err != nil {
		return nil, err
	}
	// MkdirTemp, not t.TempDir: the unprivileged server user must be able to reach the path.
	if c.dir, err = os.MkdirTemp("", "pgtest-"); err != nil {
		return nil, fmt.Errorf("pgtest: create temp dir: %w", err)
	}
	if err := os.Chmod(c.dir, 0o755); err != nil {
		return nil, errors.Join(fmt.Errorf("pgtest: chmod %s: %w", c.dir, err), c.removeDir())
	}
	c.dataDir = filepath.Join(c.dir, "data")
	c.logFile = filepath.Join(c.dir, "server.log")
	if err := c.chown(c.dir); err != nil {
		return nil, errors.Join(err, c.removeDir())
	}
	if err := c.initdb(ctx, opts.Settings); err != nil {
		return nil, errors.Join(err, c.removeDir())
	}
	// A free port can be taken by another process between probing and binding: retry a few times.
	for attempt := 0; ; attempt++ {
		if c.port, err = freePort(); err != nil {
			return nil, errors.Join(err, c.removeDir())
		}
		err = c.start(ctx)
		if err == nil {
			return c, nil
		}
		if attempt == 4 || ctx.Err() != nil {
			return nil, errors.Join(err, c.removeDir())
		}
		c.logf("pgtest: start on port %d failed, retrying: %v", c.port, err)
	}
}

// Port is the TCP port the server listens on (127.0.0.1).
func (c *Cluster) Port() int { return c.port }

// DataDir is the cluster's data directory.
func (c *Cluster) DataDir() string { return c.dataDir }

// DSN returns a connection string for database db as the superuser "postgres" (trust auth).
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// DSNAs returns a connection string for database db as role user with password pass.
func (c *Cluster) DSNAs(db, user, pass string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", user, pass, c.port, db)
}

// CreateDatabase creates a fresh database named name and returns its superuser DSN, so that
// tests sharing a cluster do not see each other's tables.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgtest: connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	return c.DSN(name), nil
}

// Restart stops the server (fast shutdown) and starts it again on the same port, for tests of
// reconnection.
func (c *Cluster) Restart(ctx context.Context) error {
	if err := c.pgctl(ctx, "stop", "-m", "fast", "-w"); err != nil {
		return err
	}
	return c.start(ctx)
}

// Stop shuts the server down immediately and removes its files.
func (c *Cluster) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := c.pgctl(ctx, "stop", "-m", "immediate", "-w")
	return errors.Join(err, c.removeDir())
}

// ServerLog returns the server's log so far, for failing tests to print.
func (c *Cluster) ServerLog() string {
	b, err := os.ReadFile(c.logFile)
	if err != nil {
		return fmt.Sprintf("(server log unreadable: %v)", err)
	}
	return string(b)
}

func (c *Cluster) initdb(ctx context.Context, settings map[string]string) error {
	c.logf("pgtest: initdb %s", c.dataDir)
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, "initdb"),
		"-D", c.dataDir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	if err := c.run(cmd); err != nil {
		return fmt.Errorf("pgtest: initdb: %w", err)
	}
	conf := map[string]string{
		"listen_addresses":        "127.0.0.1",
		"unix_socket_directories": "",
		"fsync":                   "off",
		"synchronous_commit":      "off",
		"full_page_writes":        "off",
		"max_connections":         "200",
		"shared_buffers":          "128MB",
		"wal_level":               "logical",
		"max_replication_slots":   "10",
		"max_wal_senders":         "10",
		"jit":                     "off",
		"log_min_messages":        "warning",
		// PostgreSQL 13 stores md5 by default, which the scram-sha-256 lines below refuse.
		"password_encryption": "scram-sha-256",
	}
	for k, v := range settings {
		conf[k] = v
	}
	keys := make([]string, 0, len(conf))
	for k := range conf {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("\n# pgtest\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = '%s'\n", k, strings.ReplaceAll(conf[k], "'", "''"))
	}
	f, err := os.OpenFile(filepath.Join(c.dataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgtest: open postgresql.conf: %w", err)
	}
	_, werr := f.WriteString(b.String())
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("pgtest: write postgresql.conf: %w", err)
	}
	hba := "local all all trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\nhost replication all 127.0.0.1/32 trust\n"
	if err := os.WriteFile(filepath.Join(c.dataDir, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return fmt.Errorf("pgtest: write pg_hba.conf: %w", err)
	}
	return c.chown(filepath.Join(c.dataDir, "pg_hba.conf"))
}

func (c *Cluster) start(ctx context.Context) error {
	c.logf("pgtest: start on 127.0.0.1:%d", c.port)
	return c.pgctl(ctx, "start", "-w", "-t", "60", "-l", c.logFile, "-o", "-p "+strconv.Itoa(c.port))
}

func (c *Cluster) pgctl(ctx context.Context, args ...string) error {
	full := append([]string{"-D", c.dataDir}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, "pg_ctl"), full...)
	if err := c.run(cmd); err != nil {
		return fmt.Errorf("pgtest: pg_ctl %s: %w\nserver log:\n%s", args[0], err, tail(c.ServerLog(), 2000))
	}
	return nil
}

// run executes cmd as the server user, returning its output in the error.
func (c *Cluster) run(cmd *exec.Cmd) error {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	// pg_ctl start leaves the postmaster running with our stdout: do not wait for the pipe to close.
	cmd.WaitDelay = time.Second
	if err := cmd.Run(); err != nil && !errors.Is(err, exec.ErrWaitDelay) {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(out.String()))
	}
	return nil
}

func (c *Cluster) chown(path string) error {
	if c.cred == nil {
		return nil
	}
	if err := os.Chown(path, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
		return fmt.Errorf("pgtest: chown %s: %w", path, err)
	}
	return nil
}

func (c *Cluster) removeDir() error {
	if err := os.RemoveAll(c.dir); err != nil {
		return fmt.Errorf("pgtest: remove %s: %w", c.dir, err)
	}
	return nil
}

// serverCredential picks the OS user the server runs as when we are root.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("pgtest: running as root and found no unprivileged user (postgres or nobody) to run the server as")
}

func findBinDir(explicit string) (string, error) {
	return findTool("initdb", explicit, os.Getenv("PGTEST_BINDIR"))
}

// tool is the path of client program name (psql, pg_basebackup): from the cluster's own
// binaries when they hold it, else from the system's (a server-only build, such as the
// embedded-postgres-binaries the version matrix uses, has none; any client of 13 or later
// talks to every server the tests run).
func (c *Cluster) tool(name string) string {
	if _, err := os.Stat(filepath.Join(c.binDir, name)); err == nil {
		return filepath.Join(c.binDir, name)
	}
	if dir, err := findTool(name, ""); err == nil {
		return filepath.Join(dir, name)
	}
	return name
}

// findTool returns the first directory, of the given ones, `pg_config --bindir` and
// /usr/lib/postgresql/*/bin (newest first), that holds program name.
func findTool(name string, dirs ...string) (string, error) {
	candidates := dirs
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	globbed, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(globbed)))
	candidates = append(candidates, globbed...)
	for _, d := range candidates {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, name)); err == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("pgtest: no %s found (set PGTEST_BINDIR to the directory holding the server binaries)", name)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
