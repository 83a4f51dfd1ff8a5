package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/internal/pgtest"
)

var shared pgtest.Shared

func TestMain(m *testing.M) { pgtest.Main(m, &shared) }

// buildBinary compiles the command once per test that needs the real process (signals,
// exit codes).
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pgparquet")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
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
			Files                        int
			Decoder                      string
		}
		if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
			t.Fatalf("summary %q: %v", stdout.String(), err)
		}
		if sum.Rows != 400000 || sum.Files < 1 || sum.Decoder != "cpu" {
			t.Fatalf("summary: %+v", sum)
		}
		if !strings.Contains(stderr.String(), `msg="export finished"`) {
			t.Errorf("no log line on stderr: %s", stderr.String())
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
	}{
		{"1048576", 1 << 20, false}, {"512MiB", 512 << 20, false}, {"1GB", 1e9, false}, {"4 KiB", 4096, false},
		{"10B", 10, false}, {"1gib", 1 << 30, false}, {"-1", 0, true}, {"x", 0, true}, {"1.5GB", 0, true},
	}
	for _, tc := range tests {
		got, err := parseSize(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v", tc.in, got, err)
		}
	}
}
