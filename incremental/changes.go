package incremental

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/outcome"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/snapshot"
)

// planColumns plans the decoding of cols (as a Relation message describes them) as the
// snapshot run plans them (default type options): a column the table still has with the same
// type from the table's current catalog, any other (dropped or changed since the changes
// being read) from its type alone. A column that decodes only through a text cast is refused.
func planColumns(ctx context.Context, q snapshot.Querier, cat *snapshot.Relation, current []outcome.SchemaColumn, cols []outcome.SchemaColumn) ([]pgarrow.Column, error) {
	byName := map[string]snapshot.Column{}
	for _, c := range cat.Columns {
		byName[c.Name] = c
	}
	declared := map[string]outcome.SchemaColumn{}
	for _, c := range current {
		declared[c.Name] = c
	}
	out := make([]pgarrow.Column, len(cols))
	for i, c := range cols {
		cc, ok := byName[c.Name]
		if d := declared[c.Name]; !ok || d.TypeOID != c.TypeOID || d.Typmod != c.Typmod {
			t, err := snapshot.DescribeType(ctx, q, c.TypeOID, c.Typmod, 0)
			if err != nil {
				return nil, fmt.Errorf("column %s of %s (type oid %d, changed since): %w", c.Name, cat.Name, c.TypeOID, err)
			}
			cc = snapshot.Column{Name: c.Name, PGType: t.PGType, Type: t}
		}
		p := pgarrow.PlanType(cc.Name, cc.Type, cc.PGType, pgarrow.PlanOptions{})
		if p.CastText || p.CastTextArray {
			return nil, fmt.Errorf("column %s of %s (%s) is exported through its text form, which logical replication does not send: incremental mode cannot read it yet", c.Name, cat.Name, cc.PGType)
		}
		out[i] = p
	}
	return out, nil
}

// planSnapshot plans the table's columns as the snapshot run will, refusing a table whose
// columns change runs could not decode; it returns their Arrow schema. requester (empty: the
// current role) must be allowed to read them.
func planSnapshot(ctx context.Context, conn *pgx.Conn, t *tableInfo, requester string) (*arrow.Schema, error) {
	cat, err := snapshot.Resolve(ctx, conn, t.name, nil, requester)
	if err != nil {
		return nil, err
	}
	cols, err := planColumns(ctx, conn, cat, t.columns, t.columns)
	if err != nil {
		return nil, err
	}
	return pgarrow.ArrowSchema(cols), nil
}

// changeRun streams the changes committed since the chain's last run up to the position the
// run fixes at its start, writes them into a new run directory and publishes it, then
// confirms the position to the slot.
func changeRun(ctx context.Context, opts Options, conn *pgx.Conn, t *tableInfo, ch *chain) (*outcome.Result, error) {
	o := opts.Export
	start := time.Now()
	last, _ := ch.last()
	from, err := pglogrepl.ParseLSN(last.Manifest.Incremental.ToLSN)
	if err != nil {
		return nil, fmt.Errorf("chain %s: last run's to_lsn: %w", o.OutputDir, err)
	}
	slot, err := readSlot(ctx, conn, opts.Slot)
	if err != nil {
		return nil, err
	}
	switch {
	case !slot.exists:
		return nil, fmt.Errorf("incremental: %w: slot %s does not exist (dropped?): the chain must start again from a snapshot", ErrSlotLost, opts.Slot)
	case slot.plugin != "pgoutput" || slot.database != opts.Control.Database && opts.Control.Database != "":
		return nil, fmt.Errorf("incremental: slot %s is a %s slot of database %s, not this chain's", opts.Slot, slot.plugin, slot.database)
	case slot.walStatus == "lost":
		return nil, fmt.Errorf("incremental: %w: slot %s lost the WAL it needed (max_slot_wal_keep_size): the chain must start again from a snapshot", ErrSlotLost, opts.Slot)
	case slot.confirmed > from:
		return nil, fmt.Errorf("incremental: %w: slot %s was confirmed up to %s, past the chain's last run (%s): the chain must start again from a snapshot", ErrSlotLost, opts.Slot, slot.confirmed, from)
	}
	target, err := fixTarget(ctx, conn)
	if err != nil {
		return nil, err
	}
	if target < from {
		target = from
	}
	cat, err := snapshot.Resolve(ctx, conn, t.name, nil, opts.Requester)
	if err != nil {
		return nil, err
	}
	if err := checkRewritten(ctx, conn, cat, t, ch); err != nil {
		return nil, err
	}
	number := last.Number + 1
	name := runName(number, modeChanges)
	// The staging directory is the attempt's own (Export.Tag): an attempt that froze and
	// wakes after another ran the run again removes only its own files.
	staging := filepath.Join(o.OutputDir, partialPrefix+name)
	if o.Tag != "" {
		staging += "-" + o.Tag
	}
	if err := os.RemoveAll(staging); err != nil {
		return nil, fmt.Errorf("clear %s: %w", staging, err)
	}
	if err := os.Mkdir(staging, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", staging, err)
	}
	version, cols := ch.schema()
	if opts.changeFileBytes > 0 {
		o.MaxFileSize = opts.changeFileBytes
	}
	w, err := newChangeWriter(staging, o, t.name, version, cols, func(c []outcome.SchemaColumn) ([]pgarrow.Column, error) {
		return planColumns(ctx, conn, cat, t.columns, c)
	})
	if err != nil {
		return nil, errors.Join(err, os.RemoveAll(staging))
	}
	if opts.mem != nil {
		w.mem = opts.mem
	}
	w.checkAdded = func(names []string) error { return checkAdded(ctx, conn, t, names) }
	res, repl, err := func() (*outcome.Result, *pgconn.PgConn, error) {
		if err := waitInactive(ctx, conn, opts.Slot); err != nil {
			return nil, nil, err
		}
		repl, err := replicationConn(ctx, opts.Control)
		if err != nil {
			return nil, nil, err
		}
		s := &streamer{conn: repl, w: w, rel: t.oid, from: from, target: target, progress: o.Progress, start: start}
		if err := s.run(ctx, opts.Slot); err != nil {
			return nil, repl, err
		}
		series, files, err := w.finish()
		if err != nil {
			return nil, repl, err
		}
		res := &outcome.Result{
			Version: export.Version, Table: t.name, LSN: target.String(), Decoder: "cpu",
			Compression: "zstd", Compat: export.DefaultCompat, Files: files, Columns: w.columns(),
			StartedAt: start.UTC().Format(time.RFC3339Nano),
			Incremental: &outcome.Incremental{Mode: modeChanges, Run: number, Slot: opts.Slot, Publication: opts.Slot, TableOID: t.oid,
				FromLSN: from.String(), ToLSN: target.String(), KeyColumns: t.keys, Ops: w.ops,
				SchemaVersion: w.version, Series: series},
		}
		for _, f := range files {
			res.Rows += f.Rows
			res.OutputBytes += f.Bytes
		}
		res.Seconds = time.Since(start).Seconds()
		res.Timings.Total = res.Seconds
		res.CopyBytes = int64(target - from) // the WAL the run covered
		if err := publishRun(ctx, staging, filepath.Join(o.OutputDir, name), res, opts.BeforePublish); err != nil {
			return nil, repl, err
		}
		return res, repl, nil
	}()
	if repl != nil {
		defer repl.Close(context.WithoutCancel(ctx))
	}
	if err != nil {
		w.abort()
		return nil, errors.Join(err, os.RemoveAll(staging))
	}
	if opts.skipConfirm {
		return res, nil
	}
	if err := confirm(ctx, repl, conn, opts.Slot, target); err != nil {
		return nil, fmt.Errorf("run %s is published, but %w (the next run re-reads nothing twice: it starts at this run's end)", name, err)
	}
	res.OutputDir = filepath.Join(o.OutputDir, name)
	return res, nil
}

// checkRewritten refuses a table one of whose columns is now of another Arrow type than the
// chain's schema says: ALTER TYPE rewrote it, and pgoutput would only say so at the next change
// of the table (a Relation message), while the rows it converted are in no change.
func checkRewritten(ctx context.Context, conn *pgx.Conn, cat *snapshot.Relation, t *tableInfo, ch *chain) error {
	_, chainCols := ch.schema()
	planned, err := planColumns(ctx, conn, cat, t.columns, t.columns)
	if err != nil {
		return err
	}
	return typeChanged(chainCols, t.columns, planned)
}

// typeChanged refuses a column of cols (planned as planned) whose Arrow type is not that of
// the column of the same name in chain (the chain's current schema): ALTER TYPE rewrote the
// table. Columns new to the chain, or recorded without an Arrow type, are not compared.
func typeChanged(chain, cols []outcome.SchemaColumn, planned []pgarrow.Column) error {
	now := pgarrow.ArrowSchema(planned)
	for i, c := range cols {
		j := slices.IndexFunc(chain, func(o outcome.SchemaColumn) bool { return o.Name == c.Name })
		if j < 0 || chain[j].ArrowType == "" || chain[j].ArrowType == now.Field(i).Type.String() {
			continue
		}
		return fmt.Errorf("incremental: %w: column %s changed type from %s to %s (ALTER TYPE rewrote it, and the rows it converted are not in the WAL): the chain must start again from a snapshot",
			ErrRewritten, c.Name, chain[j].PGType, planned[i].PGType)
	}
	return nil
}

// checkAdded refuses columns added with a default that existing rows hold without any change
// in the WAL (pg_attribute.atthasmissing: ADD COLUMN ... DEFAULT with a non-volatile
// default): the chain's rows written before would read NULL there, silently.
func checkAdded(ctx context.Context, conn *pgx.Conn, t *tableInfo, names []string) error {
	var filled []string
	err := conn.QueryRow(ctx, `SELECT coalesce(array_agg(attname::text ORDER BY attnum), '{}') FROM pg_attribute
		WHERE attrelid = $1 AND attname = ANY($2) AND NOT attisdropped AND atthasmissing`, t.oid, names).Scan(&filled)
	if err != nil {
		return fmt.Errorf("check the columns added to %s: %w", t.name, err)
	}
	if len(filled) > 0 {
		return fmt.Errorf("incremental: %w: columns %s were added to %s with a DEFAULT that existing rows hold without any change in the WAL: the chain must start again from a snapshot", ErrRewritten, strings.Join(filled, ", "), t.name)
	}
	return nil
}

// fixTarget fixes the run's end: the WAL insert position now, made durable. Every
// transaction that committed before the run started ends before it (pg_current_wal_lsn, the
// write position, may lag behind commits made with synchronous_commit off); the walsender
// decodes only flushed WAL, so a transaction of our own commits synchronously after reading
// it, which flushes everything before.
func fixTarget(ctx context.Context, conn *pgx.Conn) (pglogrepl.LSN, error) {
	var text string
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = on"); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text, pg_current_xact_id()::text").Scan(&text, new(string))
	})
	if err != nil {
		return 0, fmt.Errorf("fix the run's end position: %w", err)
	}
	lsn, err := pglogrepl.ParseLSN(text)
	if err != nil {
		return 0, fmt.Errorf("fix the run's end position: %w", err)
	}
	return lsn, nil
}

// publishRun writes the manifest into the staging directory, makes it durable, calls
// before (when set) and renames the directory into place: the run exists, complete, or not at
// all.
func publishRun(ctx context.Context, staging, final string, res *outcome.Result, before func(context.Context, *outcome.Result) error) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	if err := writeDurable(filepath.Join(staging, manifestName), append(b, '\n')); err != nil {
		return err
	}
	if err := syncPath(staging); err != nil {
		return err
	}
	if _, err := os.Stat(final); err == nil {
		return fmt.Errorf("publish %s: it exists already (is another run of this chain running?)", final)
	}
	if before != nil {
		if err := before(ctx, res); err != nil {
			return err
		}
	}
	if err := os.Rename(staging, final); err != nil {
		return fmt.Errorf("publish %s: %w", final, err)
	}
	return syncPath(filepath.Dir(final))
}

func writeDurable(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := f.Write(b)
	serr := f.Sync()
	if err := errors.Join(werr, serr, f.Close()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return nil
}

// confirm tells the slot that everything before target is safely stored, then waits until
// pg_replication_slots shows it (the walsender applies the reply asynchronously).
func confirm(ctx context.Context, repl *pgconn.PgConn, conn *pgx.Conn, slot string, target pglogrepl.LSN) error {
	if err := pglogrepl.SendStandbyStatusUpdate(ctx, repl, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: target, WALFlushPosition: target, WALApplyPosition: target}); err != nil {
		return fmt.Errorf("confirm %s to slot %s: %w", target, slot, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := readSlot(ctx, conn, slot)
		if err != nil {
			return fmt.Errorf("confirm %s to slot %s: %w", target, slot, err)
		}
		if s.confirmed >= target {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("confirm %s to slot %s: the slot still shows %s", target, slot, s.confirmed)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("confirm %s to slot %s: %w", target, slot, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
