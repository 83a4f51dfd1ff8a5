package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/internal/pgtest"
)

var shared pgtest.Shared

// binDir holds the binary buildBinary builds once for the package's tests.
var binDir string

// runMainEnv makes the test binary run the command instead of the tests: buildBinary's
// stand-in where there is no Go toolchain (the GPU host), see testBinaryEnv.
const runMainEnv = "PGPARQUET_TEST_RUN_MAIN"

// testBinaryEnv, set to "self", makes buildBinary return the test binary itself, which runs
// the command when started with $PGPARQUET_TEST_RUN_MAIN=1: tests of the real process then run
// where Go is not installed, on the command as this test binary was built.
const testBinaryEnv = "PGPARQUET_TEST_BINARY"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	dir, err := os.MkdirTemp("", "pgparquet-cmd-test-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	pgtest.Main(m, &shared, func() { os.RemoveAll(dir) })
}

var (
	binOnce sync.Once
	binErr  error
)

// buildBinary compiles the command, once for all the tests that need the real process
// (signals, exit codes): linking it takes a while. With $PGPARQUET_TEST_BINARY=self it returns
// this test binary instead, and sets $PGPARQUET_TEST_RUN_MAIN=1 for the processes the tests
// start from then on.
func buildBinary(t *testing.T) string {
	t.Helper()
	if os.Getenv(testBinaryEnv) == "self" {
		self, err := os.Executable()
		if err != nil {
			t.Fatalf("find the test binary: %v", err)
		}
		if err := os.Setenv(runMainEnv, "1"); err != nil {
			t.Fatal(err)
		}
		return self
	}
	bin := filepath.Join(binDir, "pgparquet")
	binOnce.Do(func() {
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return bin
}

func setupTable(t *testing.T, rows int) string {
	t.Helper()
	ctx := context.Background()
	dsn := shared.NewDB(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{
		`CREATE TABLE big (id bigint, s text, n numeric(12,2), ts timestamptz)`,
		fmt.Sprintf(`INSERT INTO big SELECT g, repeat(md5(g::text), 3), g / 100.0, now() FROM generate_series(1, %d) g`, rows),
		`ANALYZE big`,
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	return dsn
}

func TestCLI(t *testing.T) {
	bin := buildBinary(t)
	dsn := setupTable(t, 400000)

	t.Run("export prints a JSON summary", func(t *testing.T) {
		dir := t.TempDir()
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, "export", "--dsn", dsn, "--table", "big", "--output-dir", dir, "--parallel", "2", "--compression", "snappy")
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%v\n%s", err, stderr.String())
		}
		var sum struct {
			Rows, CopyBytes, OutputBytes int64
			Files                        []json.RawMessage
			Decoder                      string
		}
		if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
			t.Fatalf("summary %q: %v", stdout.String(), err)
		}
		if sum.Rows != 400000 || len(sum.Files) < 1 || sum.Decoder != "cpu" {
			t.Fatalf("summary: %+v", sum)
		}
		if !strings.Contains(stderr.String(), `msg="export finished"`) {
			t.Errorf("no log line on stderr: %s", stderr.String())
		}
	})

	t.Run("non-empty output dir says --overwrite", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd := exec.Command(bin, "export", "--dsn", dsn, "--table", "big", "--output-dir", dir, "--parallel", "1", "--no-progress")
		cmd.Stderr = &stderr
		if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), "is not empty (1 entries): it holds files that are not this export's; use --overwrite") {
			t.Errorf("export into a non-empty dir: %v\n%s", err, stderr.String())
		}
	})

	t.Run("PG environment variables", func(t *testing.T) {
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "export", "--table", "big", "--columns", "id", "--output-dir", t.TempDir(), "--parallel", "1")
		cmd.Env = append(os.Environ(), "PGHOST=127.0.0.1", fmt.Sprintf("PGPORT=%d", cfg.Port), "PGUSER=postgres", "PGDATABASE="+cfg.Database, "PGSSLMODE=disable")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	})

	t.Run("usage errors exit 2", func(t *testing.T) {
		err := exec.Command(bin, "export", "--nope").Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			t.Fatalf("exit: %v", err)
		}
	})

	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run("interrupted by "+sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			var stderr bytes.Buffer
			cmd := exec.Command(bin, "export", "--dsn", dsn, "--table", "big", "--output-dir", dir,
				"--parallel", "2", "--chunks", "2", "--buffer-size", "256KiB", "--row-group-size", "10000")
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Interrupt once a partial file exists, so the export is really mid-way.
			deadline := time.Now().Add(30 * time.Second)
			for {
				entries, _ := os.ReadDir(dir)
				if len(entries) > 0 || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v (stderr %s)", err, stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, "pgparquet: export stopped: interrupted by signal") {
				t.Errorf("last stderr line %q does not give the reason", last)
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				t.Errorf("files left behind: %v", entries)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		bad  bool
		msg  string // the error, when bad and not empty
	}{
		{"1048576", 1 << 20, false, ""}, {"512MiB", 512 << 20, false, ""}, {"1GB", 1e9, false, ""}, {"4 KiB", 4096, false, ""},
		{"10B", 10, false, ""}, {"1gib", 1 << 30, false, ""}, {"-1", 0, true, ""}, {"x", 0, true, ""}, {"1.5GB", 0, true, ""},
		{"0", 0, false, ""}, {"1TB", 1e12, false, ""}, {"2tib", 2 << 40, false, ""},
		{"8388607TiB", 8388607 << 40, false, ""},
		{"9223372036854775807", math.MaxInt64, false, ""},
		{"9223372036854775807B", math.MaxInt64, false, ""},
		{"16777217TiB", 0, true, `"16777217TiB" is too large: sizes go up to 9223372036854775807 bytes (just under 8EiB)`},
		{"8388608TiB", 0, true, `"8388608TiB" is too large: sizes go up to 9223372036854775807 bytes (just under 8EiB)`},
		{"9223372036854775808", 0, true, `"9223372036854775808" is too large: sizes go up to 9223372036854775807 bytes (just under 8EiB)`},
		{"9223372036854776KB", 0, true, `"9223372036854776KB" is too large: sizes go up to 9223372036854775807 bytes (just under 8EiB)`},
		{"-1", 0, true, `"-1" is negative: give a size in bytes (e.g. 536870912, 512MiB, 1GB)`},
		{"-4MiB", 0, true, `"-4MiB" is negative: give a size in bytes (e.g. 536870912, 512MiB, 1GB)`},
		{"-9223372036854775809", 0, true, `"-9223372036854775809" is negative: give a size in bytes (e.g. 536870912, 512MiB, 1GB)`},
		{"1.5GB", 0, true, `"1.5GB" is not a size in bytes (e.g. 536870912, 512MiB, 1GB)`},
		{"", 0, true, `"" is not a size in bytes (e.g. 536870912, 512MiB, 1GB)`},
		{"MiB", 0, true, `"MiB" is not a size in bytes (e.g. 536870912, 512MiB, 1GB)`},
	}
	for _, tc := range tests {
		got, err := parseSize(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v", tc.in, got, err)
		}
		if tc.msg != "" && (err == nil || err.Error() != tc.msg) {
			t.Errorf("parseSize(%q): error %v, want %s", tc.in, err, tc.msg)
		}
	}
}

// TestExportUsageErrors runs the binary with bad export command lines: each must exit 2 with
// exactly one stderr line naming the flag, what is wrong and what would work, before it
// connects or creates anything.
// TestFormatSize checks that the flag defaults print as sizes parseSize reads back.
func TestFormatSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{1 << 30, "1GiB"}, {4 << 20, "4MiB"}, {1536 << 10, "1536KiB"}, {3 << 40, "3TiB"}, {1000, "1000"}, {0, "0"}} {
		got := formatSize(tc.n)
		back, err := parseSize(got)
		if got != tc.want || err != nil || back != tc.n {
			t.Errorf("formatSize(%d) = %q (parsed back: %d, %v), want %q", tc.n, got, back, err, tc.want)
		}
	}
}

func TestExportUsageErrors(t *testing.T) {
	bin := buildBinary(t)
	// Were a case not refused, the export would fail fast on this closed port (exit 1).
	base := []string{"export", "--dsn", "postgres://nobody@127.0.0.1:1/x?connect_timeout=2"}
	const hint = " (pgparquet export -h lists the flags)"
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no --table", []string{"--output-dir", "out"},
			"export: --table is required (e.g. --table public.orders)"},
		{"--slot without --incremental", []string{"--table", "t", "--output-dir", "out", "--slot", "s"},
			"export: --slot and --restart need --incremental"},
		{"--incremental --columns", []string{"--table", "t", "--output-dir", "out", "--incremental", "--columns", "a"},
			"export: --columns is not supported with --incremental: every run of a chain exports all columns with the default types"},
		{"--incremental to S3", []string{"--table", "t", "--output-dir", "s3://bkt/x", "--incremental"},
			"export: --incremental writes its chain to a local directory; s3://bkt/x is not one (export the chain locally, or export the whole table to object storage without --incremental)"},
		{"--incremental --iceberg-table without a namespace", []string{"--table", "t", "--output-dir", "out", "--incremental", "--iceberg-table", "orders"},
			`export: --iceberg-table: "orders" is not namespace.name (e.g. sales.orders)`},
		{"blank --table", []string{"--table", " ", "--output-dir", "out"},
			"export: --table is required (e.g. --table public.orders)"},
		{"no --output-dir", []string{"--table", "t"},
			"export: --output-dir is required (e.g. --output-dir ./out)"},
		{"bad s3 bucket", []string{"--table", "t", "--output-dir", "s3://Bucket/x"},
			`export: --output-dir "s3://Bucket/x": "Bucket" is not a bucket name (3 to 63 lower-case letters, digits, dots or hyphens); give s3://bucket/prefix`},
		{"gs output", []string{"--table", "t", "--output-dir", "gs://bucket"},
			`export: --output-dir "gs://bucket": gs:// output is not supported; give a local directory or s3://bucket/prefix`},
		{"http output", []string{"--table", "t", "--output-dir", "http://host/x"},
			`export: --output-dir "http://host/x": http:// output is not supported; give a local directory or s3://bucket/prefix`},
		{"s3 prefix with ..", []string{"--table", "t", "--output-dir", "s3://bucket/a/../b"},
			`export: --output-dir "s3://bucket/a/../b": key prefix "a/../b" is not a clean path (no empty, "." or ".." segments)`},
		{"--parallel 0", []string{"--table", "t", "--output-dir", "out", "--parallel", "0"},
			"export: --parallel 0 is out of range: give 1 to 256 (default 16)"},
		{"--parallel -1", []string{"--table", "t", "--output-dir", "out", "--parallel", "-1"},
			"export: --parallel -1 is out of range: give 1 to 256 (default 16)"},
		{"--parallel 257", []string{"--table", "t", "--output-dir", "out", "--parallel", "257"},
			"export: --parallel 257 is out of range: give 1 to 256 (default 16)"},
		{"--chunks 0", []string{"--table", "t", "--output-dir", "out", "--chunks", "0"},
			"export: --chunks 0 is out of range: give 1 or more (default 4 per worker)"},
		{"--chunks -3", []string{"--table", "t", "--output-dir", "out", "--chunks", "-3"},
			"export: --chunks -3 is out of range: give 1 or more (default 4 per worker)"},
		{"--row-group-size 0", []string{"--table", "t", "--output-dir", "out", "--row-group-size", "0"},
			"export: --row-group-size 0 is out of range: give 1 or more rows (default 122880)"},
		{"--row-group-size -5", []string{"--table", "t", "--output-dir", "out", "--row-group-size", "-5"},
			"export: --row-group-size -5 is out of range: give 1 or more rows (default 122880)"},
		{"--max-file-size 0", []string{"--table", "t", "--output-dir", "out", "--max-file-size", "0"},
			`export: --max-file-size "0" is out of range: give 1MiB or more (default 1GiB)`},
		{"--max-file-size 512KiB", []string{"--table", "t", "--output-dir", "out", "--max-file-size", "512KiB"},
			`export: --max-file-size "512KiB" is out of range: give 1MiB or more (default 1GiB)`},
		{"--max-file-size overflow", []string{"--table", "t", "--output-dir", "out", "--max-file-size", "16777217TiB"},
			`export: --max-file-size "16777217TiB" is too large: sizes go up to 9223372036854775807 bytes (just under 8EiB)`},
		{"--max-file-size negative", []string{"--table", "t", "--output-dir", "out", "--max-file-size", "-1GiB"},
			`export: --max-file-size "-1GiB" is negative: give a size in bytes (e.g. 536870912, 512MiB, 1GB)`},
		{"--buffer-size 64GiB", []string{"--table", "t", "--output-dir", "out", "--buffer-size", "64GiB"},
			`export: --buffer-size "64GiB" is out of range: give 64KiB to 256MiB (default 4MiB where the GPU decodes, else 2MiB)`},
		{"--iceberg-table without namespace", []string{"--table", "t", "--output-dir", "out", "--iceberg-table", "orders"},
			`export: --iceberg-table: "orders" is not namespace.name (e.g. sales.orders)`},
		{"--iceberg-catalog of another kind", []string{"--table", "t", "--output-dir", "out", "--iceberg-table", "s.t", "--iceberg-catalog", "mysql://u:secret@h/db"},
			`export: --iceberg-catalog: iceberg catalog "mysql://u@h/db": give postgres (the exported database), postgres://… or rest+http(s)://…`},
		{"--iceberg-catalog alone", []string{"--table", "t", "--output-dir", "out", "--iceberg-catalog", "postgres"},
			"export: --iceberg-catalog needs --iceberg-table (e.g. --iceberg-table sales.orders)"},
		{"--iceberg-table with --overwrite", []string{"--table", "t", "--output-dir", "out", "--iceberg-table", "s.t", "--overwrite"},
			"export: --overwrite with --iceberg-table would delete files the table's earlier snapshots read; give each export a --output-dir of its own"},
		{"--buffer-size 257MiB", []string{"--table", "t", "--output-dir", "out", "--buffer-size", "257MiB"},
			`export: --buffer-size "257MiB" is out of range: give 64KiB to 256MiB (default 4MiB where the GPU decodes, else 2MiB)`},
		{"--buffer-size 32KiB", []string{"--table", "t", "--output-dir", "out", "--buffer-size", "32KiB"},
			`export: --buffer-size "32KiB" is out of range: give 64KiB to 256MiB (default 4MiB where the GPU decodes, else 2MiB)`},
		{"--buffer-size 0", []string{"--table", "t", "--output-dir", "out", "--buffer-size", "0"},
			`export: --buffer-size "0" is out of range: give 64KiB to 256MiB (default 4MiB where the GPU decodes, else 2MiB)`},
		{"--buffer-size garbage", []string{"--table", "t", "--output-dir", "out", "--buffer-size", "lots"},
			`export: --buffer-size "lots" is not a size in bytes (e.g. 536870912, 512MiB, 1GB)`},
		{"--gpu maybe", []string{"--table", "t", "--output-dir", "out", "--gpu", "maybe"},
			`export: --gpu "maybe" is not auto, on or off`},
		{"--log-format xml", []string{"--table", "t", "--output-dir", "out", "--log-format", "xml"},
			`export: --log-format "xml" is not text or json`},
		{"unknown flag", []string{"--table", "t", "--output-dir", "out", "--nope"},
			"export: flag provided but not defined: -nope" + hint},
		{"--parallel not a number", []string{"--table", "t", "--output-dir", "out", "--parallel", "many"},
			`export: invalid value "many" for flag -parallel: parse error` + hint},
		{"argument after the flags", []string{"--table", "t", "--output-dir", "out", "orders"},
			`export: unexpected argument "orders": export takes flags only (pgparquet export -h lists them)`},
		{"bad --dsn", []string{"--table", "t", "--output-dir", "out", "--dsn", "postgres://u@h:port/db"},
			"export: --dsn: cannot parse `postgres://u@h:port/db`: invalid port (e.g. --dsn postgres://user@host:5432/db; without --dsn the PG* variables apply)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cwd := t.TempDir()
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, append(append([]string{}, base...), tc.args...)...)
			cmd.Dir, cmd.Stdout, cmd.Stderr = cwd, &stdout, &stderr
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
				t.Errorf("exit: %v, want exit status 2", err)
			}
			if got, want := stderr.String(), "pgparquet: "+tc.want+"\n"; got != want {
				t.Errorf("stderr:\n%s\nwant:\n%s", got, want)
			}
			if stdout.Len() > 0 {
				t.Errorf("stdout: %q", stdout.String())
			}
			if entries, _ := os.ReadDir(cwd); len(entries) > 0 {
				t.Errorf("a usage error created %v", entries)
			}
		})
	}
}

// silentServer listens on 127.0.0.1 and accepts connections without ever answering, as a
// stuck server or a firewall that accepts and drops does; it closes when the test ends.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestConnectTimeout runs the commands that connect against a server that never answers:
// without connect_timeout they give up after the 10 s default, otherwise after the one set,
// and the error says which timeout ran out and how to change it.
func TestConnectTimeout(t *testing.T) {
	bin := buildBinary(t)
	addr := silentServer(t)
	dsn := "postgres://nobody@" + addr + "/x"
	const hint = "; set connect_timeout=SECONDS in --dsn or PGCONNECT_TIMEOUT to wait longer)"
	tests := []struct {
		name     string
		args     []string
		env      string // PGCONNECT_TIMEOUT
		min, max time.Duration
		prefix   string
		suffix   string
	}{
		{"export, the default", []string{"export", "--dsn", dsn, "--table", "t"}, "",
			9 * time.Second, 15 * time.Second, "pgparquet: coordinator: connect to ", "(no answer within connect_timeout 10s" + hint},
		{"export, connect_timeout in the DSN", []string{"export", "--dsn", dsn + "?connect_timeout=1", "--table", "t"}, "",
			0, 5 * time.Second, "pgparquet: coordinator: connect to ", "(no answer within connect_timeout 1s" + hint},
		{"export, PGCONNECT_TIMEOUT", []string{"export", "--dsn", dsn, "--table", "t"}, "2",
			time.Second, 6 * time.Second, "pgparquet: coordinator: connect to ", "(no answer within connect_timeout 2s" + hint},
		{"export, sslmode disable", []string{"export", "--dsn", dsn + "?sslmode=disable", "--table", "t"}, "",
			9 * time.Second, 15 * time.Second, "pgparquet: coordinator: connect to ", "(no answer within connect_timeout 10s" + hint},
		{"status, the default", []string{"status", "--dsn", dsn}, "",
			9 * time.Second, 15 * time.Second, "pgparquet: connect to ", "(no answer within connect_timeout 10s" + hint},
		{"migrate, the default", []string{"migrate", "--dsn", dsn}, "",
			9 * time.Second, 15 * time.Second, "pgparquet: connect to ", "(no answer within connect_timeout 10s" + hint},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := tc.args
			if args[0] == "export" {
				args = append(args, "--output-dir", t.TempDir())
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			var stdout, stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT="+tc.env)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			err := cmd.Run()
			took := time.Since(start)
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Errorf("exit: %v after %s, want exit status 1", err, took)
			}
			if took < tc.min || took > tc.max {
				t.Errorf("gave up after %s, want %s to %s", took, tc.min, tc.max)
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			last := lines[len(lines)-1]
			if !strings.HasPrefix(last, tc.prefix) || !strings.HasSuffix(last, tc.suffix) {
				t.Errorf("last stderr line %q, want %q...%q", last, tc.prefix, tc.suffix)
			}
		})
	}
}

// TestApplyConnDefaults checks that connect_timeout from the DSN or PGCONNECT_TIMEOUT is kept
// and that none (or 0, which pgx cannot tell from none) gets the 10 s default.
func TestApplyConnDefaults(t *testing.T) {
	tests := []struct {
		dsn, env string
		want     time.Duration
	}{
		{"postgres://u@h/db", "", 10 * time.Second},
		{"postgres://u@h/db?connect_timeout=0", "", 10 * time.Second},
		{"postgres://u@h/db?connect_timeout=3", "", 3 * time.Second},
		{"host=h user=u connect_timeout=120", "", 120 * time.Second},
		{"postgres://u@h/db", "7", 7 * time.Second},
		{"postgres://u@h/db?connect_timeout=3", "7", 3 * time.Second},
	}
	for _, tc := range tests {
		t.Setenv("PGCONNECT_TIMEOUT", tc.env)
		cfg, err := pgx.ParseConfig(tc.dsn)
		if err != nil {
			t.Fatal(err)
		}
		applyConnDefaults(cfg)
		if cfg.ConnectTimeout != tc.want {
			t.Errorf("%s with PGCONNECT_TIMEOUT=%q: ConnectTimeout %s, want %s", tc.dsn, tc.env, cfg.ConnectTimeout, tc.want)
		}
	}
}
