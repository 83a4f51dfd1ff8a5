package sidecar

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/device"
	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/objstore"
	"github.com/pgparquet/pgparquet/sql/control"
)

// Defaults for Config; Config.withDefaults applies them to zero fields.
const (
	DefaultConcurrency  = 1
	DefaultParallel     = 4
	DefaultMaxParallel  = 16
	DefaultPollInterval = 5 * time.Second
	DefaultHeartbeat    = time.Second
	DefaultLease        = 30 * time.Second
	DefaultDrainTimeout = 10 * time.Second
	// DefaultOutputReserve is the free space an export leaves on the output root's file
	// system: an export that would go below it stops.
	DefaultOutputReserve = 1 << 30
	// DefaultMaxRetainedWAL is the most WAL an incremental chain's slot may hold back before
	// the sidecar drops it (the chain's next run starts again from a snapshot).
	DefaultMaxRetainedWAL = 10 << 30
)

// Config configures one sidecar. Zero values take the defaults above.
type Config struct {
	// ConnConfig is the sidecar's connection (its role should own the control tables, and be a
	// member of every role it serves). It is never logged.
	ConnConfig *pgx.ConnConfig
	// Schema holds the control tables (default public).
	Schema string
	// AdminRole is recorded by the migrations: its members see every request (default
	// pgparquet_admin).
	AdminRole string
	// SkipMigrate leaves the control tables as they are at start (by default the sidecar
	// applies the embedded migrations, which is safe with several sidecars starting at once).
	SkipMigrate bool
	// OutputRoot is the directory under which every export is written (required, must
	// exist), or an s3://bucket/prefix under which every key is (credentials, region and
	// endpoint from the standard AWS chain). A request's output_path is relative to it;
	// nothing resolving outside it is accepted.
	OutputRoot string
	// S3PathStyle addresses an s3:// output root's bucket in the URL path, as most
	// S3-compatible servers need.
	S3PathStyle bool
	// ID names this sidecar in claimed_by and logs (default host name and process id).
	ID string
	// Concurrency is how many requests this sidecar exports at once (default 1).
	Concurrency int
	// Parallel is the worker connections per export when a request does not say (default 4);
	// MaxParallel caps what a request may ask (default 16).
	Parallel    int
	MaxParallel int
	// Compression is the codec when a request does not say (default zstd).
	Compression string
	// PollInterval is how often the queue is checked without a notification, stale leases
	// re-queued, and (at most a third of Lease) the schedules looked at or the scheduling lead
	// tried for (default 5 s).
	PollInterval time.Duration
	// Heartbeat is how often a running request's lease is renewed and its progress written
	// (default and minimum 1 s: progress is written at most once a second).
	Heartbeat time.Duration
	// Lease is how long a running request may go without a heartbeat before another sidecar
	// re-queues it, and how long a hung scheduling leader keeps the lead before the server ends
	// its session (default 30 s; at least 3 heartbeats).
	Lease time.Duration
	// DrainTimeout is how long a stopping sidecar lets running exports finish before it stops
	// them and puts their requests back in the queue (default 10 s; negative: release at once).
	DrainTimeout time.Duration
	// OutputReserve is the free space (bytes) exports leave on the output root's file system:
	// an export is not started, or is stopped, below it, so that one role's export cannot
	// fill the disk the others write to (default 1 GiB; negative: no reserve).
	OutputReserve int64
	// MaxRetainedWAL is the most WAL (bytes) the slot of an incremental chain may hold back
	// between runs: past it (or past the chain's own max_retained_wal, when lower) the
	// sidecar drops the slot and marks the chain broken, and its next run starts again from a
	// snapshot, so that an idle or failing chain never fills the database's disk (default
	// 10 GiB).
	MaxRetainedWAL int64
	// GPU says whether exports decode and write on the GPU: device.ModeAuto (the default)
	// where a usable one is found, device.ModeOn or the sidecar does not start, device.ModeOff
	// never (a GPU kept for other work).
	GPU device.Mode
	// GPULib names the CUDA library (empty: $PGPARQUET_CUDA_LIB, then beside the executable,
	// ../lib and the loader path, as device.Start looks).
	GPULib string
	// HugeRowMemory bounds, across all of this sidecar's exports, the memory of rows larger
	// than a receive buffer (default export.DefaultHugeRowBytes): such rows wait for each other
	// rather than all being held at once.
	HugeRowMemory int64
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Schema == "" {
		c.Schema = control.DefaultSchema
	}
	if c.AdminRole == "" {
		c.AdminRole = control.DefaultAdminRole
	}
	if c.ID == "" {
		host, _ := os.Hostname()
		c.ID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Parallel == 0 {
		c.Parallel = DefaultParallel
	}
	if c.MaxParallel == 0 {
		c.MaxParallel = DefaultMaxParallel
	}
	if c.Compression == "" {
		c.Compression = export.DefaultCompression
	}
	if c.PollInterval == 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.Lease == 0 {
		c.Lease = DefaultLease
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.HugeRowMemory <= 0 {
		c.HugeRowMemory = export.DefaultHugeRowBytes
	}
	if c.GPU == "" {
		c.GPU = device.ModeAuto
	}
	if c.OutputReserve == 0 {
		c.OutputReserve = DefaultOutputReserve
	}
	if c.MaxRetainedWAL <= 0 {
		c.MaxRetainedWAL = DefaultMaxRetainedWAL
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.ConnConfig == nil {
		errs = append(errs, errors.New("ConnConfig: required"))
	}
	if c.OutputRoot == "" {
		errs = append(errs, errors.New("output root: required"))
	} else if loc, err := objstore.Parse(c.OutputRoot); err != nil {
		errs = append(errs, fmt.Errorf("output root: %w", err))
	} else if !loc.IsLocal() {
		// Checked by opening it.
	} else if st, err := os.Stat(c.OutputRoot); err != nil {
		errs = append(errs, fmt.Errorf("output root: %w", err))
	} else if !st.IsDir() {
		errs = append(errs, fmt.Errorf("output root: %s is not a directory", c.OutputRoot))
	}
	if c.Concurrency < 1 || c.Concurrency > 64 {
		errs = append(errs, fmt.Errorf("concurrency: %d is not between 1 and 64", c.Concurrency))
	}
	if c.MaxParallel < 1 || c.MaxParallel > 256 {
		errs = append(errs, fmt.Errorf("max parallel: %d is not between 1 and 256", c.MaxParallel))
	}
	if c.Parallel < 1 || c.Parallel > c.MaxParallel {
		errs = append(errs, fmt.Errorf("parallel: %d is not between 1 and max parallel %d", c.Parallel, c.MaxParallel))
	}
	if c.PollInterval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("poll interval: %s is below 10ms", c.PollInterval))
	}
	if c.Heartbeat < time.Second {
		errs = append(errs, fmt.Errorf("heartbeat: %s is below 1s (progress is written at most once a second)", c.Heartbeat))
	}
	if c.Lease < 3*c.Heartbeat {
		errs = append(errs, fmt.Errorf("lease: %s is below 3 heartbeats (%s)", c.Lease, 3*c.Heartbeat))
	}
	if !c.GPU.Valid() {
		errs = append(errs, fmt.Errorf("gpu: %q is not auto, on or off", c.GPU))
	}
	return errors.Join(errs...)
}
