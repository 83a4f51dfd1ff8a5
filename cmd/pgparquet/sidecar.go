package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/device"
	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/sidecar"
	"github.com/pgparquet/pgparquet/sql/control"
)

// runSidecar parses the sidecar command's flags (each defaulting to its PGPARQUET_* variable)
// and serves requests (and, when it leads, schedules) until SIGINT or SIGTERM, then drains.
func runSidecar(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("sidecar", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := envDefaults{}
	var cfg sidecar.Config
	dsn := fs.String("dsn", env.str("PGPARQUET_DSN", ""), "PostgreSQL connection string (default: the PG* environment variables) [PGPARQUET_DSN]")
	fs.StringVar(&cfg.Schema, "schema", env.str("PGPARQUET_SCHEMA", control.DefaultSchema), "schema of the control tables [PGPARQUET_SCHEMA]")
	fs.StringVar(&cfg.AdminRole, "admin-role", env.str("PGPARQUET_ADMIN_ROLE", control.DefaultAdminRole), "role whose members see every request [PGPARQUET_ADMIN_ROLE]")
	fs.BoolVar(&cfg.SkipMigrate, "no-migrate", env.boolean("PGPARQUET_NO_MIGRATE", false), "do not apply migrations at start [PGPARQUET_NO_MIGRATE]")
	fs.StringVar(&cfg.OutputRoot, "output-root", env.str("PGPARQUET_OUTPUT_ROOT", ""), "directory, or s3://bucket/prefix, under which every export is written (required; S3 credentials, region and endpoint from the AWS_* variables, shared config or web identity) [PGPARQUET_OUTPUT_ROOT]")
	fs.BoolVar(&cfg.S3PathStyle, "s3-path-style", env.boolean("PGPARQUET_S3_PATH_STYLE", false), "address an s3:// output root's bucket in the URL path, as most S3-compatible servers need [PGPARQUET_S3_PATH_STYLE]")
	fs.StringVar(&cfg.ID, "id", env.str("PGPARQUET_ID", ""), "name of this sidecar in claimed_by (default host-pid) [PGPARQUET_ID]")
	fs.IntVar(&cfg.Concurrency, "concurrency", env.integer("PGPARQUET_CONCURRENCY", sidecar.DefaultConcurrency), "exports at once [PGPARQUET_CONCURRENCY]")
	fs.IntVar(&cfg.Parallel, "parallel", env.integer("PGPARQUET_PARALLEL", sidecar.DefaultParallel), "worker connections per export unless the request says [PGPARQUET_PARALLEL]")
	fs.IntVar(&cfg.MaxParallel, "max-parallel", env.integer("PGPARQUET_MAX_PARALLEL", sidecar.DefaultMaxParallel), "most worker connections a request may ask [PGPARQUET_MAX_PARALLEL]")
	fs.StringVar(&cfg.Compression, "compression", env.str("PGPARQUET_COMPRESSION", export.DefaultCompression), "codec unless the request says [PGPARQUET_COMPRESSION]")
	fs.DurationVar(&cfg.PollInterval, "poll-interval", env.duration("PGPARQUET_POLL_INTERVAL", sidecar.DefaultPollInterval), "queue poll without notifications, stale-lease check and schedule check [PGPARQUET_POLL_INTERVAL]")
	fs.DurationVar(&cfg.Heartbeat, "heartbeat", env.duration("PGPARQUET_HEARTBEAT", sidecar.DefaultHeartbeat), "lease renewal and progress interval [PGPARQUET_HEARTBEAT]")
	fs.DurationVar(&cfg.Lease, "lease", env.duration("PGPARQUET_LEASE", sidecar.DefaultLease), "a running request without heartbeat this long is re-queued [PGPARQUET_LEASE]")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", env.duration("PGPARQUET_DRAIN_TIMEOUT", sidecar.DefaultDrainTimeout), "on SIGTERM, time given to running exports before they are released [PGPARQUET_DRAIN_TIMEOUT]")
	reserve := fs.String("output-reserve", env.str("PGPARQUET_OUTPUT_RESERVE", formatSize(sidecar.DefaultOutputReserve)), "free space exports leave on the output root's file system; 0: none [PGPARQUET_OUTPUT_RESERVE]")
	maxWAL := fs.String("max-retained-wal", env.str("PGPARQUET_MAX_RETAINED_WAL", formatSize(sidecar.DefaultMaxRetainedWAL)), "most WAL an incremental chain's slot may hold back before the sidecar drops it (the chain's next run re-snapshots) [PGPARQUET_MAX_RETAINED_WAL]")
	listen := fs.String("listen", env.str("PGPARQUET_LISTEN", "127.0.0.1:9187"), "address of /healthz and /metrics (loopback by default; :9187 for every interface); empty: none [PGPARQUET_LISTEN]")
	gpu := fs.String("gpu", env.str("PGPARQUET_GPU", string(device.ModeAuto)), "GPU decoder and page writer: auto (where a usable GPU is found), on (refuse to start without one) or off [PGPARQUET_GPU]")
	fs.StringVar(&cfg.GPULib, "gpu-lib", env.str("PGPARQUET_GPU_LIB", ""), "CUDA decoder library (default: $PGPARQUET_CUDA_LIB, then libpgparquet_cuda.so beside the binary, ../lib, the loader path) [PGPARQUET_GPU_LIB]")
	logLevel := fs.String("log-level", env.str("PGPARQUET_LOG_LEVEL", "info"), "debug, info, warn or error [PGPARQUET_LOG_LEVEL]")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sidecar: unexpected argument %q", fs.Arg(0))
	}
	if err := env.err(); err != nil {
		return err
	}
	if n, err := parseSize(*reserve); err != nil {
		return fmt.Errorf("--output-reserve: %w", err)
	} else if n == 0 {
		cfg.OutputReserve = -1
	} else {
		cfg.OutputReserve = n
	}
	wal, err := parseSize(*maxWAL)
	if err != nil || wal <= 0 {
		return fmt.Errorf("--max-retained-wal: %q is not a size above 0, like 10GB", *maxWAL)
	}
	cfg.MaxRetainedWAL = wal
	if cfg.GPU, err = device.ParseMode(*gpu); err != nil {
		return fmt.Errorf("--gpu: %w", err)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	conn, err := pgx.ParseConfig(*dsn)
	if err != nil {
		return fmt.Errorf("--dsn: %w", err)
	}
	applyConnDefaults(conn)
	cfg.ConnConfig = conn
	s, err := sidecar.New(cfg)
	if err != nil {
		return err
	}
	if *listen != "" {
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return fmt.Errorf("--listen: %w", err)
		}
		srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				cfg.Logger.Error("metrics server stopped", "err", err)
			}
		}()
		defer srv.Close() //nolint:errcheck // shutting down
	}
	return s.Run(ctx)
}

// envDefaults reads flag defaults from the environment and remembers malformed values.
type envDefaults struct{ errs []error }

func (e *envDefaults) str(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func (e *envDefaults) integer(name string, def int) int {
	v, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s: %q is not an integer", name, v))
		return def
	}
	return n
}

func (e *envDefaults) duration(name string, def time.Duration) time.Duration {
	v, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s: %q is not a duration (like 30s)", name, v))
		return def
	}
	return d
}

func (e *envDefaults) boolean(name string, def bool) bool {
	v, ok := os.LookupEnv(name)
	if !ok {
		return def
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s: %q is not a boolean", name, v))
		return def
	}
	return b
}

func (e *envDefaults) err() error { return errors.Join(e.errs...) }
