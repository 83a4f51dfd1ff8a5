// Package incremental exports a table as a chain of runs: a first run reads the table at the
// consistent point of a logical replication slot (the export package's parallel ctid ranges,
// under the slot's exported snapshot), and each later run streams the changes committed since
// the previous run from the slot (pgoutput) into change files. Materialize turns a chain back
// into the table as of any LSN it covers.
//
// Runs of one chain must not run concurrently (the slot serves one stream at a time, and
// PostgreSQL refuses a second). A run confirms its end position to the slot only after its
// files and manifest are durable in place: a crash before that re-delivers the run's changes
// to the next run, which starts at the last published run's end, so nothing is lost or
// written twice.
package incremental

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/outcome"
	"github.com/pgparquet/pgparquet/snapshot"
)

// Options describe one run of a chain.
type Options struct {
	// Export holds the connection, the table, the chain directory (OutputDir) and the tuning
	// of the snapshot run (Parallel, Chunks, Compression, ...). Columns, AsText, Role, Root
	// and the type options other than their defaults are refused: every run of a chain must
	// map the same columns to the same types.
	Export export.Options
	// Slot is the logical replication slot; empty: DefaultSlot of the table's
	// schema-qualified name. The publication has the same name.
	Slot string
	// Control, when set, is the connection for the catalog, the publication, the slot and the
	// change stream (the sidecar's own login, which holds REPLICATION); Export.ConnConfig then
	// only reads the snapshot run's rows. Nil: Export.ConnConfig does everything (the CLI).
	Control *pgx.ConnConfig
	// Requester, when set, is the role the chain exports for (Export.Role must name it too):
	// the table is refused unless it may SELECT it and no row-level security applies to it,
	// checked at every run, since change runs read the WAL as Control's role.
	Requester string
	// Restart, when set, makes this run a snapshot run even though the chain has runs (its
	// slot was dropped or lost; Restart says why, for the manifest's note): the chain goes on
	// from a new slot's snapshot, and Materialize starts from the last snapshot run.
	Restart string
	// BeforePublish, when set, is called once the run's files and manifest are durable but
	// not yet in place; an error abandons the run (its files are removed and the slot is not
	// confirmed). The sidecar records the publication under its lease there.
	BeforePublish func(ctx context.Context, res *outcome.Result) error

	// skipConfirm leaves the slot where it was after publishing (tests: a crash between
	// publication and confirmation).
	skipConfirm bool
	// changeFileBytes, when set, overrides Export.MaxFileSize for change files (tests: below
	// the 1MiB export allows).
	changeFileBytes int64
	// mem, when set, allocates the change runs' Arrow memory (tests: a checked allocator).
	mem memory.Allocator
}

// slotMarker, in the chain directory, names the slot the chain created: a first run that
// failed after creating it may drop it, and no other slot is ever dropped.
const slotMarker = ".pgparquet-slot"

// Run performs the next run of the chain in opts.Export.OutputDir: the snapshot run when the
// directory holds no committed run, else a change run. It returns the run's manifest.
func Run(ctx context.Context, opts Options) (*outcome.Result, error) {
	o := opts.Export
	switch {
	case o.ConnConfig == nil || o.Table == "" || o.OutputDir == "":
		return nil, errors.New("incremental: ConnConfig, Table and OutputDir are required")
	case len(o.Columns) > 0 || len(o.AsText) > 0 || o.Root != nil || o.Store != nil:
		return nil, errors.New("incremental: columns, as-text and an output root or store are not supported in incremental mode")
	case o.Role != opts.Requester:
		return nil, errors.New("incremental: a role is supported only as the chain's requester (Options.Requester)")
	case (o.Compat != "" && o.Compat != export.DefaultCompat) || (o.Numeric != "" && o.Numeric != export.DefaultNumeric) ||
		(o.WideNumeric != "" && o.WideNumeric != export.DefaultWideNumeric) || (o.Timestamp != "" && o.Timestamp != export.DefaultTimestamp):
		return nil, errors.New("incremental: type options (compat, numeric, wide-numeric, timestamp) must keep their defaults in incremental mode")
	}
	if opts.Slot != "" && !validSlot(opts.Slot) {
		return nil, fmt.Errorf("incremental: slot name %q: use 1 to 63 lower-case letters, digits and underscores", opts.Slot)
	}
	ch, incomplete, err := readChain(o.OutputDir)
	if err != nil {
		return nil, err
	}
	for _, dir := range incomplete {
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("remove the unfinished run %s: %w", dir, err)
		}
	}
	control := opts.Control
	if control == nil {
		control = o.ConnConfig
	}
	opts.Control = control
	conn, err := snapshot.Connect(ctx, control)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	t, err := inspect(ctx, conn, o.Table, opts.Requester)
	if err != nil {
		return nil, err
	}
	if opts.Slot == "" {
		// From the resolved name: "orders" and "public.orders" name the same slot.
		opts.Slot = DefaultSlot(t.name)
	}
	last, ok := ch.last()
	if !ok {
		return snapshotRun(ctx, opts, conn, t, ch)
	}
	if s := last.Manifest.Incremental.Slot; s != opts.Slot {
		return nil, fmt.Errorf("incremental: the chain in %s reads slot %s, not %s", o.OutputDir, s, opts.Slot)
	}
	if last.Manifest.Table != t.name {
		return nil, fmt.Errorf("incremental: the chain in %s is of table %s, not %s", o.OutputDir, last.Manifest.Table, t.name)
	}
	if opts.Restart != "" {
		return snapshotRun(ctx, opts, conn, t, ch)
	}
	if oid := last.Manifest.Incremental.TableOID; oid != t.oid {
		return nil, fmt.Errorf("incremental: %w: table %s was dropped and created again since the chain started (oid %d, now %d): the chain must start again from a snapshot", ErrSlotLost, t.name, oid, t.oid)
	}
	return changeRun(ctx, opts, conn, t, ch)
}

// snapshotRun creates the publication and the slot, and exports the table under the slot's
// snapshot into 0001-snapshot (or, restarting a chain, the next run's number). The replication
// connection that exported the snapshot stays open (idle) until the export is done.
func snapshotRun(ctx context.Context, opts Options, conn *pgx.Conn, t *tableInfo, ch *chain) (*outcome.Result, error) {
	o := opts.Export
	number := 1
	if last, ok := ch.last(); ok {
		number = last.Number + 1
	}
	schema, err := planSnapshot(ctx, conn, t, opts.Requester)
	if err != nil {
		return nil, err
	}
	slot, err := readSlot(ctx, conn, opts.Slot)
	if err != nil {
		return nil, err
	}
	marker := filepath.Join(o.OutputDir, slotMarker)
	if slot.exists {
		if err := waitInactive(ctx, conn, opts.Slot); err != nil {
			return nil, err
		}
		b, _ := os.ReadFile(marker)
		if string(b) != opts.Slot {
			return nil, fmt.Errorf("incremental: slot %s exists but %s holds no chain of it: choose another --slot, or drop it (SELECT pg_drop_replication_slot('%s')) if nothing else reads it", opts.Slot, o.OutputDir, opts.Slot)
		}
		// Our own first run failed after creating it (nothing was published from it), or the
		// chain restarts from a new snapshot.
		if err := dropSlot(ctx, conn, opts.Slot); err != nil {
			return nil, err
		}
	}
	if err := ensurePublication(ctx, conn, opts.Slot, t, opts.Requester); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.OutputDir, 0o755); err != nil {
		return nil, fmt.Errorf("create chain directory %s: %w", o.OutputDir, err)
	}
	if err := os.WriteFile(marker, []byte(opts.Slot), 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", marker, err)
	}
	repl, err := replicationConn(ctx, opts.Control)
	if err != nil {
		return nil, err
	}
	defer repl.Close(context.WithoutCancel(ctx))
	created, err := createSlot(ctx, repl, opts.Slot)
	if err != nil {
		return nil, err
	}
	version, _ := ch.schema()
	version++
	o.OutputDir = filepath.Join(o.OutputDir, runName(number, modeSnapshot))
	o.Snapshot, o.SnapshotLSN = created.SnapshotName, created.ConsistentPoint
	o.Incremental = &outcome.Incremental{
		Mode: modeSnapshot, Run: number, Slot: opts.Slot, Publication: opts.Slot,
		TableOID: t.oid, ToLSN: created.ConsistentPoint, KeyColumns: t.keys, SchemaVersion: version,
		Series:  []outcome.Series{{SchemaVersion: version, Columns: t.columns, ArrowSchema: encodeSchema(schema)}},
		Restart: opts.Restart,
	}
	staged, err := export.Stage(ctx, o)
	if err != nil {
		return nil, err
	}
	res := staged.Result
	// The export planned the columns itself, inside the snapshot: it must agree with the plan
	// the chain recorded, which change runs and materialize rely on.
	same := len(res.Columns) == schema.NumFields()
	for i := 0; same && i < len(res.Columns); i++ {
		same = res.Columns[i].Name == schema.Field(i).Name && res.Columns[i].ArrowType == schema.Field(i).Type.String()
	}
	if !same {
		return nil, errors.Join(fmt.Errorf("incremental: the table %s changed while its chain started; run it again", t.name),
			staged.Discard(), os.RemoveAll(o.OutputDir))
	}
	if opts.BeforePublish != nil {
		if err := opts.BeforePublish(ctx, res); err != nil {
			return nil, errors.Join(err, staged.Discard())
		}
	}
	if err := staged.Publish(); err != nil {
		return nil, errors.Join(err, staged.Discard())
	}
	return res, nil
}

// RunDirName is the directory, inside the chain's, of run number n in mode (snapshot or
// changes).
func RunDirName(n int, mode string) string { return runName(n, mode) }
