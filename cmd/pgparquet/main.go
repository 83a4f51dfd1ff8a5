// Command pgparquet exports PostgreSQL tables to Parquet files: one consistent snapshot read
// over several connections in parallel.
//
// Usage:
//
//	pgparquet export --dsn postgres://... --table public.lineorder --output-dir ./out
//	pgparquet export --incremental --dsn postgres://... --table public.orders --output-dir ./orders
//	pgparquet materialize --input ./orders --output-dir ./orders-now
//	pgparquet version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/snapshot"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: pgparquet <command> [flags]

commands:
  export       export one table to Parquet files (pgparquet export -h for flags;
               --incremental: the next run of a snapshot + changes chain)
  materialize  write an incremental chain's table as of its end or an LSN
  sidecar      serve the export requests queued in SQL (pgparquet sidecar -h for flags)
  migrate      create or update the control tables (parquet_export_requests, ...)
  status       print parquet_export_status as a table
  version      print the version
`

// run executes one command and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signalContext(context.Background())
	defer stop()
	var err error
	switch args[0] {
	case "export":
		err = runExport(ctx, args[1:], stdout, stderr)
	case "materialize":
		err = runMaterialize(ctx, args[1:], stdout, stderr)
	case "sidecar":
		err = runSidecar(ctx, args[1:], stderr)
	case "migrate":
		err = runMigrate(ctx, args[1:], stdout, stderr)
	case "status":
		err = runStatus(ctx, args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "pgparquet", export.Version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "pgparquet: unknown command %q\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, errUsage) {
		if err != errUsage {
			fmt.Fprintln(stderr, "pgparquet:", oneLine(err))
		}
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "pgparquet:", oneLine(err))
		return 1
	}
	return 0
}

// errUsage marks a command-line error: run exits 2 for every error that matches it. Returned
// bare, it means the flag package already printed the message; a usageError carries its own.
var errUsage = errors.New("usage")

// usageError is a command-line error with its own one-line message (naming the flag, what is
// wrong and what would work); it matches errUsage, so run prints it and exits 2.
type usageError struct{ err error }

func (e *usageError) Error() string        { return e.err.Error() }
func (e *usageError) Unwrap() error        { return e.err }
func (e *usageError) Is(target error) bool { return target == errUsage }

// usagef formats a usageError as fmt.Errorf does (%w included).
func usagef(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// signalContext is cancelled, with the signal as its cause, on SIGINT or SIGTERM.
func signalContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-ch:
			cancel(fmt.Errorf("interrupted by signal %s", sig))
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(nil)
	}
}

// oneLine folds a (possibly joined, multi-line) error into the one line the CLI prints: lines
// are trimmed and joined with "; ", or with a space after a line that ends in a colon (an
// introduction to what follows).
func oneLine(err error) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(err.Error()), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if b.Len() > 0 {
			if strings.HasSuffix(b.String(), ":") {
				b.WriteString(" ")
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(line)
	}
	return b.String()
}

// defaultConnectTimeout bounds each connection attempt when neither the DSN nor
// PGCONNECT_TIMEOUT sets connect_timeout, so that a server that accepts TCP and never answers
// fails the command instead of hanging it.
const defaultConnectTimeout = 10 * time.Second

// applyConnDefaults completes a configuration from pgx.ParseConfig with the command's
// defaults: a ConnectTimeout of defaultConnectTimeout where none is set (pgx reads
// connect_timeout=0 as none, so it gets the default too). Every command that connects calls it
// before its first connection.
func applyConnDefaults(cfg *pgx.ConnConfig) {
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
}

// explainConnectTimeout adds to an error from a connection attempt that ran out of cfg's
// ConnectTimeout which timeout that was and how to change it. Any other error, including one
// caused by ctx ending (a signal), is returned unchanged.
func explainConnectTimeout(ctx context.Context, err error, cfg *pgx.ConnConfig) error {
	var connectErr *pgconn.ConnectError
	if err == nil || ctx.Err() != nil || !errors.As(err, &connectErr) ||
		!(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded)) {
		return err
	}
	return fmt.Errorf("%w (no answer within connect_timeout %s; set connect_timeout=SECONDS in --dsn or PGCONNECT_TIMEOUT to wait longer)",
		err, cfg.ConnectTimeout)
}

// connectDSN opens one connection for the control-plane commands; an empty dsn means the PG*
// environment variables, as in psql. Connection defaults apply (applyConnDefaults).
func connectDSN(ctx context.Context, dsn string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("--dsn: %w", err)
	}
	applyConnDefaults(cfg)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		// One line: pgx lists every attempt (with sslmode prefer, a TLS refusal first).
		reason := snapshot.ConnectReason(err)
		if explained := explainConnectTimeout(ctx, err, cfg); explained != err {
			reason += strings.TrimPrefix(explained.Error(), err.Error())
		}
		return nil, fmt.Errorf("connect to %s:%d/%s as %s: %s", cfg.Host, cfg.Port, cfg.Database, cfg.User, reason)
	}
	return conn, nil
}
