package lakehouse

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	iceio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"

	"github.com/pgparquet/pgparquet/outcome"
)

// Summary properties of every snapshot Commit makes.
const (
	SummarySnapshot    = "pgparquet.snapshot"     // the exported PostgreSQL snapshot
	SummaryLSN         = "pgparquet.lsn"          // the WAL position then
	SummarySourceTable = "pgparquet.source_table" // the exported relation
	SummaryRequestID   = "pgparquet.request_id"   // the sidecar's request, when there is one
	SummaryVersion     = "pgparquet.version"
	// An incremental chain's runs (see CommitChain) also name the run: its slot, the WAL
	// range it holds (from_lsn only for change runs) and its number in the chain.
	SummarySlot    = "pgparquet.slot"
	SummaryFromLSN = "pgparquet.from_lsn"
	SummaryToLSN   = "pgparquet.to_lsn"
	SummaryRun     = "pgparquet.run"
)

// Commit retries: a commit that conflicts with another writer's (the table moved between
// load and commit) is rebuilt on the table's new state and tried again, up to maxAttempts
// times, waiting retryWait, then twice as long each time (with jitter).
const (
	maxAttempts = 5
	retryWait   = 100 * time.Millisecond
)

// Request is one export to commit.
type Request struct {
	// Table is the table's identifier: namespace.name (the namespace may have dots itself:
	// a.b.name is table name in namespace a.b). The namespace is created when missing.
	Table string
	// Files are the export's Parquet files, every one of them, as absolute URIs
	// (s3://bucket/key or file:///path). They stay where they are: the table references them.
	Files []string
	// Location, when set, is the location of a table created by this commit (else the
	// catalog's warehouse decides). An existing table keeps its own.
	Location string
	// Snapshot, LSN, SourceTable and RequestID go into the snapshot's summary (RequestID
	// only when set), with Version.
	Snapshot, LSN, SourceTable, RequestID, Version string
	// Append adds Files to the table's data in an append snapshot instead of replacing it
	// (the changelog table of an incremental chain). The files may differ in schema (a
	// change run's series): the table gets every column of any of them.
	Append bool
	// Slot, FromLSN, ToLSN and Run name the incremental run committed (empty for a plain
	// export): they go into the summary, and like RequestID make the commit happen once.
	Slot, FromLSN, ToLSN string
	Run                  int
}

// NewRequest is the commit of the published export res, whose directory is dirURI (an
// absolute URI: s3://bucket/prefix or file:///path), to table; requestID names the sidecar's
// request ("" for none).
func NewRequest(table, dirURI string, res *outcome.Result, requestID string) Request {
	req := Request{Table: table, Snapshot: res.Snapshot, LSN: res.LSN, SourceTable: res.Table, RequestID: requestID, Version: res.Version}
	if inc := res.Incremental; inc != nil {
		req.Slot, req.FromLSN, req.ToLSN, req.Run = inc.Slot, inc.FromLSN, inc.ToLSN, inc.Run
	}
	for _, f := range res.Files {
		req.Files = append(req.Files, strings.TrimSuffix(dirURI, "/")+"/"+f.Name)
	}
	return req
}

// Commit makes req's files the table's data in one new snapshot: an overwrite of every data
// file the table had (an append when it had none), or with req.Append an append of the files
// to the table's data. It creates the table (and namespace) when missing, with the schema of
// the files (read from the first file's footer; with Append, from every file's); when the
// files have columns the table lacks it adds them (a schema evolution: older snapshots read
// them as null), and a column the files lack stays in the table and reads as null. A column
// whose type changed in a way Iceberg cannot promote fails with *IncompatibleError before
// anything is written.
//
// A request (RequestID) or incremental run (Slot, FromLSN, ToLSN) is committed once: when a
// snapshot of the table already names it, Commit returns that snapshot and commits nothing,
// so a commit may be repeated after a crash.
//
// A commit that loses a race with another writer is rebuilt on the table's new state and
// retried (maxAttempts). On error the table is left at the snapshot it had: the catalog
// either took the whole commit or none of it (a table the failed commit created, still
// without a snapshot, is dropped). Deleting the files of an export whose commit
// failed is the caller's (they are the export's, not the table's).
func (c *Catalog) Commit(ctx context.Context, req Request) (*outcome.Iceberg, error) {
	ctx = c.ctx(ctx)
	ident, err := parseIdent(req.Table)
	if err != nil {
		return nil, fmt.Errorf("iceberg table: %w", err)
	}
	if len(req.Files) == 0 {
		return nil, fmt.Errorf("iceberg table %s: no files to commit", req.Table)
	}
	fsys, err := iceio.LoadFS(ctx, c.props, req.Files[0])
	if err != nil {
		return nil, fmt.Errorf("iceberg table %s: open %s: %w", req.Table, req.Files[0], err)
	}
	// An export's files share one schema; a change run's series may not.
	schemaOf := req.Files[:1]
	if req.Append {
		schemaOf = req.Files
	}
	sc, err := filesSchema(fsys, schemaOf)
	if err != nil {
		return nil, fmt.Errorf("iceberg table %s: %w", req.Table, err)
	}
	wait := retryWait
	created := false
	for attempt := 1; ; attempt++ {
		res, err := c.commitOnce(ctx, ident, sc, req)
		if res != nil && res.Created {
			created = true // by this commit, in an attempt that lost a race after
		}
		if err == nil {
			res.Created = created
			return res, nil
		}
		if !retryable(err) || attempt == maxAttempts {
			if retryable(err) {
				err = fmt.Errorf("%w (after %d attempts)", err, attempt)
			}
			if created {
				if dropErr := c.dropIfEmpty(context.WithoutCancel(ctx), ident); dropErr != nil {
					err = fmt.Errorf("%w; and dropping the table it created failed: %w", err, dropErr)
				}
			}
			return nil, fmt.Errorf("iceberg table %s in catalog %s: %w", req.Table, c.shown, err)
		}
		t := time.NewTimer(wait + rand.N(wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("iceberg table %s: %w", req.Table, context.Cause(ctx))
		case <-t.C:
		}
		wait *= 2
	}
}

// dropIfEmpty drops a table this commit created and left without a snapshot, so that a
// failed first commit leaves the catalog as it was. A table another writer has committed to
// meanwhile is kept.
func (c *Catalog) dropIfEmpty(ctx context.Context, ident table.Identifier) error {
	tbl, err := c.cat.LoadTable(ctx, ident)
	if errors.Is(err, catalog.ErrNoSuchTable) {
		return nil
	}
	if err != nil {
		return err
	}
	if tbl.CurrentSnapshot() != nil {
		return nil
	}
	return c.cat.DropTable(ctx, ident)
}

// retryable reports whether a commit failed only because the table moved underneath it:
// the REST catalog's 409 and iceberg-go's own conflict checks are ErrCommitFailed; the SQL
// catalog checks the commit's requirements on the table it loads and fails them with a
// plain "requirement failed: …" error (iceberg-go v0.7.0 has no sentinel for it).
func retryable(err error) bool {
	return errors.Is(err, table.ErrCommitFailed) || errors.Is(err, table.ErrCommitDiverged) ||
		errors.Is(err, catalog.ErrTableAlreadyExists) || strings.Contains(err.Error(), "requirement failed: ")
}

// commitOnce loads (or creates) the table and commits req on its current state.
func (c *Catalog) commitOnce(ctx context.Context, ident table.Identifier, sc *iceberg.Schema, req Request) (*outcome.Iceberg, error) {
	res := &outcome.Iceberg{Catalog: c.shown, Table: req.Table}
	tbl, err := c.cat.LoadTable(ctx, ident)
	if errors.Is(err, catalog.ErrNoSuchTable) {
		if tbl, err = c.create(ctx, ident, sc, req.Location); err != nil {
			return nil, err
		}
		res.Created = true
	}
	if err != nil {
		return nil, err
	}
	if id, ok := committed(tbl, req); ok {
		// A repeated commit of one request (a sidecar rolling a publication forward) is done.
		res.SnapshotID, res.MetadataLocation = id, tbl.MetadataLocation()
		return res, nil
	}
	fail := func(err error) (*outcome.Iceberg, error) {
		if res.Created {
			return res, err // Commit remembers that the table is its own
		}
		return nil, err
	}
	added, err := compatible(req.Table, tbl.Schema(), sc)
	if err != nil {
		return fail(err)
	}
	txn := tbl.NewTransaction()
	if len(added) > 0 {
		var opts []table.UpdateSchemaOption
		if nm := tbl.NameMapping(); nm != nil {
			opts = append(opts, table.WithNameMapping(nm))
		}
		if err := txn.UpdateSchema(true, false, opts...).UnionByNameWith(sc).Commit(); err != nil {
			return fail(fmt.Errorf("add columns %s: %w", strings.Join(added, ", "), err))
		}
		res.AddedColumns = added
	}
	if req.Append {
		// Duplicates are not looked for in the table's files (that reads every manifest of a
		// table that only grows): a run is known by its summary (committed, above).
		if err := txn.AddFiles(ctx, req.Files, summary(req), true); err != nil {
			return fail(fmt.Errorf("add the files: %w", err))
		}
	} else {
		old, err := dataFiles(ctx, tbl)
		if err != nil {
			return fail(err)
		}
		if err := txn.ReplaceDataFiles(ctx, old, req.Files, summary(req)); err != nil {
			return fail(fmt.Errorf("add the export's files: %w", err))
		}
	}
	done, err := txn.Commit(ctx)
	if err != nil {
		return fail(err)
	}
	snap := done.CurrentSnapshot()
	if snap == nil {
		return fail(errors.New("internal error: the commit left the table without a snapshot"))
	}
	res.SnapshotID = snap.SnapshotID
	res.MetadataLocation = done.MetadataLocation()
	return res, nil
}

// committed finds the snapshot that an earlier commit of req made, by its summary: the
// sidecar's request (pgparquet.request_id), or the incremental run (its slot and WAL range:
// a new chain on the same slot starts at a later position).
func committed(tbl *table.Table, req Request) (int64, bool) {
	if req.RequestID == "" && req.Slot == "" {
		return 0, false
	}
	for _, s := range tbl.Metadata().Snapshots() {
		if s.Summary == nil {
			continue
		}
		p := s.Summary.Properties
		if req.RequestID != "" && p[SummaryRequestID] == req.RequestID ||
			req.RequestID == "" && p[SummarySlot] == req.Slot && p[SummaryFromLSN] == req.FromLSN && p[SummaryToLSN] == req.ToLSN {
			return s.SnapshotID, true
		}
	}
	return 0, false
}

// create creates the table, and its namespace when missing. Data files carry no field ids:
// readers map their columns by name (the table's schema.name-mapping.default, which adding
// the files sets).
func (c *Catalog) create(ctx context.Context, ident table.Identifier, sc *iceberg.Schema, location string) (*table.Table, error) {
	ns := catalog.NamespaceFromIdent(ident)
	if err := c.cat.CreateNamespace(ctx, ns, nil); err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
		return nil, fmt.Errorf("create namespace %s: %w", strings.Join(ns, "."), err)
	}
	var opts []catalog.CreateTableOpt
	if location != "" {
		opts = append(opts, catalog.WithLocation(location))
	}
	tbl, err := c.cat.CreateTable(ctx, ident, sc, opts...)
	if err != nil {
		return nil, fmt.Errorf("create table: %w", err)
	}
	return tbl, nil
}

// dataFiles lists the data files of the table's current snapshot.
func dataFiles(ctx context.Context, tbl *table.Table) ([]string, error) {
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return nil, nil
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return nil, fmt.Errorf("open the table's files: %w", err)
	}
	manifests, err := snap.Manifests(fsys)
	if err != nil {
		return nil, fmt.Errorf("read snapshot %d's manifest list: %w", snap.SnapshotID, err)
	}
	var paths []string
	for _, m := range manifests {
		for e, err := range m.Entries(fsys, true) {
			if err != nil {
				return nil, fmt.Errorf("read manifest %s: %w", m.FilePath(), err)
			}
			if e.DataFile().ContentType() == iceberg.EntryContentData {
				paths = append(paths, e.DataFile().FilePath())
			}
		}
	}
	return paths, nil
}

// summary is the snapshot summary's pgparquet properties.
func summary(req Request) iceberg.Properties {
	p := iceberg.Properties{SummarySnapshot: req.Snapshot, SummaryLSN: req.LSN, SummarySourceTable: req.SourceTable}
	if req.RequestID != "" {
		p[SummaryRequestID] = req.RequestID
	}
	if req.Version != "" {
		p[SummaryVersion] = req.Version
	}
	if req.Slot != "" {
		p[SummarySlot], p[SummaryToLSN], p[SummaryRun] = req.Slot, req.ToLSN, fmt.Sprint(req.Run)
		if req.FromLSN != "" {
			p[SummaryFromLSN] = req.FromLSN
		}
	}
	for k, v := range p {
		if v == "" {
			delete(p, k) // a change run has no exported snapshot
		}
	}
	return p
}

// CheckTable checks that s is a table identifier Commit takes: namespace.name.
func CheckTable(s string) error {
	_, err := parseIdent(s)
	return err
}

// parseIdent reads namespace.name; the name is after the last dot.
func parseIdent(s string) (table.Identifier, error) {
	i := strings.LastIndexByte(s, '.')
	if i <= 0 || i == len(s)-1 || strings.Contains(s, "..") || strings.HasPrefix(s, ".") {
		return nil, fmt.Errorf("%q is not namespace.name (e.g. sales.orders)", s)
	}
	return catalog.ToIdentifier(append(strings.Split(s[:i], "."), s[i+1:])...), nil
}
