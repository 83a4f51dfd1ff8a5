package sidecar

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/lakehouse"
	"github.com/pgparquet/pgparquet/outcome"
	"github.com/pgparquet/pgparquet/sql/control"
)

// icebergTimeout bounds one request's Iceberg commit (with its retries on conflicts) and the
// deletion of its files when the commit fails. The commit is not stopped by the request's
// context: a shutdown during it must not turn into a failed commit and a deleted export.
const icebergTimeout = 5 * time.Minute

// icebergDir is the directory, in the requester's directory of the output root, under which
// the Iceberg tables the requester's commits create keep their metadata
// (<role>/.iceberg/<namespace>.db/<name>). No request directory can be there: an output_path
// segment never starts with a dot.
const icebergDir = ".iceberg"

// lakehouses opens the Iceberg catalogs that requests name, once each, and keeps them open
// until close. The database's own catalog ("postgres") is written through the sidecar's
// connection configuration, as the sidecar's role: a requester only names its table (which the
// control tables confine to its own namespace), never a login. It is safe for concurrent use.
type lakehouses struct {
	conn *pgx.ConnConfig
	db   *control.DB
	out  *output

	mu   sync.Mutex
	open map[string]*lakehouse.Catalog
}

func newLakehouses(conn *pgx.ConnConfig, db *control.DB, out *output) *lakehouses {
	return &lakehouses{conn: conn, db: db, out: out, open: map[string]*lakehouse.Catalog{}}
}

// catalog returns the open catalog uri names, opening it the first time. On S3 it gets the
// output's AWS configuration, so that data and metadata are read and written with one
// identity; a REST catalog's bearer token is $PGPARQUET_ICEBERG_TOKEN. The database's own
// catalog is used only while its schema belongs to the sidecar's role or a superuser
// (control.DB.CheckCatalogSchema), checked before every commit.
func (l *lakehouses) catalog(ctx context.Context, uri string) (*lakehouse.Catalog, error) {
	if uri == "" {
		uri = lakehouse.DefaultCatalog
	}
	if uri == lakehouse.DefaultCatalog {
		if err := l.db.CheckCatalogSchema(ctx, lakehouse.SchemaName); err != nil {
			return nil, fmt.Errorf("iceberg catalog postgres: %w", err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.open[uri]; ok {
		return c, nil
	}
	cfg := lakehouse.Config{URI: uri, Conn: l.conn, Token: os.Getenv("PGPARQUET_ICEBERG_TOKEN")}
	if st := l.out.store; st != nil {
		aws := st.AWS()
		cfg.AWS, cfg.S3PathStyle = &aws, st.PathStyle()
	}
	c, err := lakehouse.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	l.open[uri] = c
	return c, nil
}

// close closes every catalog opened.
func (l *lakehouses) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	for uri, c := range l.open {
		err = errors.Join(err, c.Close())
		delete(l.open, uri)
	}
	return err
}

// unsafeSegment matches what may not appear in a path segment of a table's location.
var unsafeSegment = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// location is where a table that a commit of a request of the requester whose directory is
// roleDir creates keeps its metadata: <root>/<roleDir>/.iceberg/<namespace>.db/<name>, as a
// URI, with characters other than letters, digits, '.', '_' and '-' as '_' (a table name never
// makes a path leave the requester's directory). An existing table keeps its own location.
func (l *lakehouses) location(roleDir, table string) (string, error) {
	i := strings.LastIndexByte(table, '.')
	if i <= 0 {
		return "", fmt.Errorf("iceberg table %q is not namespace.name", table)
	}
	ns := unsafeSegment.ReplaceAllString(table[:i], "_")
	name := unsafeSegment.ReplaceAllString(table[i+1:], "_")
	if strings.HasPrefix(name, ".") {
		name = "_" + name
	}
	return l.out.uri(path.Join(roleDir, icebergDir, ns+".db", name))
}

// icebergCommit is the commit of one published export: request id's publication by attempt
// fence, in dir (relative to the output root), whose files the files table names as files.
type icebergCommit struct {
	id, fence int64
	dir       string
	files     []string
	catalog   string
	roleDir   string
	req       lakehouse.Request // Location is filled in by commit
}

// commitPublished commits a published export to its Iceberg table and records the snapshot
// on the request. When the commit fails it deletes the export's files (they belong to no
// table, and the request must not present them as its result) and fails the request with
// the one-line reason; when the files cannot be deleted either, the request stays publishing
// and a janitor rolls it forward (publishes and commits again) once its lease lapses. It
// reports whether the publication may now be recorded as published.
func commitPublished(ctx context.Context, log *slog.Logger, db *control.DB, rec recorder, lh *lakehouses, m *metrics, c icebergCommit) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), icebergTimeout)
	defer cancel()
	ice, err := lh.commit(ctx, c)
	if err == nil {
		log.Info("export committed to its Iceberg table", "iceberg_table", c.req.Table, "snapshot", ice.SnapshotID, "created", ice.Created)
		return rec.record(ctx, log, "Iceberg snapshot", func(ctx context.Context) error {
			return db.IcebergCommitted(ctx, c.id, c.fence, ice.SnapshotID, ice.MetadataLocation)
		})
	}
	if rmErr := lh.out.removePublished(ctx, c.dir, c.files); rmErr != nil {
		log.Error("the Iceberg commit failed, and deleting the export failed; a janitor will try again", "err", oneLine(err), "delete_err", oneLine(rmErr))
		return false
	}
	msg := oneLine(fmt.Errorf("%w; the export's files were deleted", err))
	log.Warn("the Iceberg commit failed", "err", msg)
	if rec.record(ctx, log, "failed Iceberg commit", func(ctx context.Context) error {
		return db.CommitFailed(ctx, c.id, c.fence, msg)
	}) && m != nil {
		m.finished("failed", nil)
	}
	return false
}

// commit opens c's catalog and commits c's files.
func (l *lakehouses) commit(ctx context.Context, c icebergCommit) (*outcome.Iceberg, error) {
	cat, err := l.catalog(ctx, c.catalog)
	if err != nil {
		return nil, err
	}
	if c.req.Location, err = l.location(c.roleDir, c.req.Table); err != nil {
		return nil, err
	}
	return cat.Commit(ctx, c.req)
}

// servedCommit is the Iceberg commit of the export res that req's attempt just published.
func (s *Sidecar) servedCommit(req *control.Request, dirURI string, res *outcome.Result) icebergCommit {
	loc := s.out.location(req.OutputDir)
	files := make([]string, len(res.Files))
	for i, f := range res.Files {
		files[i] = strings.TrimSuffix(loc, "/") + "/" + f.Name
	}
	return icebergCommit{id: req.ID, fence: req.Lease.Fence, dir: req.OutputDir, files: files,
		catalog: req.IcebergCatalog, roleDir: req.RoleDir,
		req: lakehouse.NewRequest(req.IcebergTable, dirURI, res, strconv.FormatInt(req.ID, 10))}
}

// rolledCommit is the Iceberg commit of a publication a janitor rolled forward, from what the
// control tables recorded when it was publishing (the request id makes a commit its dead
// publisher made already a no-op).
func rolledCommit(p control.Publication, version string) icebergCommit {
	// output_uri is recorded at publishing since migration 9, which also brought
	// iceberg_table: a publication with a table has it.
	req := lakehouse.Request{Table: p.IcebergTable, Snapshot: p.Snapshot, LSN: p.LSN, SourceTable: p.SourceTable,
		RequestID: strconv.FormatInt(p.ID, 10), Version: version}
	for _, f := range p.Files {
		req.Files = append(req.Files, strings.TrimSuffix(p.OutputURI, "/")+"/"+path.Base(f))
	}
	return icebergCommit{id: p.ID, fence: p.Fence, dir: p.OutputDir, files: p.Files,
		catalog: p.IcebergCatalog, roleDir: p.RoleDir, req: req}
}
