package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/incremental"
	"github.com/pgparquet/pgparquet/lakehouse"
	"github.com/pgparquet/pgparquet/objstore"
	"github.com/pgparquet/pgparquet/objstore/s3store"
	"github.com/pgparquet/pgparquet/outcome"
)

// icebergArgs are the export command's Iceberg flags.
type icebergArgs struct {
	table     string // --iceberg-table; empty: no commit
	catalog   string // --iceberg-catalog
	warehouse string // --iceberg-warehouse; empty: the directory holding --output-dir
}

// icebergCleanupTimeout bounds the deletion of an export whose commit failed.
const icebergCleanupTimeout = 2 * time.Minute

// openIceberg opens the catalog before the export starts, so that a wrong catalog fails
// before anything is read or written. st is the S3 store of an s3:// output, else nil.
func openIceberg(ctx context.Context, a exportArgs, conn *pgx.ConnConfig, st *s3store.Store) (*lakehouse.Catalog, error) {
	cfg := lakehouse.Config{URI: a.iceberg.catalog, Conn: conn, Warehouse: a.iceberg.warehouse}
	switch l, err := objstore.Parse(cfg.Warehouse); {
	case cfg.Warehouse == "" && lakehouse.IsREST(cfg.URI):
		// A REST catalog places new tables itself; a warehouse sent to it means what the
		// server says (a location, or a catalog's name), so none is made up.
	case cfg.Warehouse == "":
		cfg.Warehouse = parentURI(a.output)
	case err == nil && l.IsLocal():
		if cfg.Warehouse, err = outputURI(l); err != nil {
			return nil, err
		}
	}
	if st != nil {
		aws := st.AWS()
		cfg.AWS, cfg.S3PathStyle = &aws, st.PathStyle()
	}
	cfg.Token = os.Getenv("PGPARQUET_ICEBERG_TOKEN")
	cat, err := lakehouse.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("--iceberg-catalog: %w", err)
	}
	return cat, nil
}

// commitIceberg commits the published export res to the table; when the commit fails it
// deletes the export (manifest first, then its files: they belong to no table) and says so.
func commitIceberg(ctx context.Context, cat *lakehouse.Catalog, a exportArgs, st *s3store.Store, res *outcome.Result) error {
	dirURI, err := outputURI(a.output)
	if err != nil {
		return err
	}
	ice, err := cat.Commit(ctx, lakehouse.NewRequest(a.iceberg.table, dirURI, res, ""))
	if err == nil {
		res.Iceberg = ice
		return nil
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), icebergCleanupTimeout)
	defer cancel()
	if rmErr := removeExport(cctx, a, st, res); rmErr != nil {
		return fmt.Errorf("%w; and deleting the export failed: %w", err, rmErr)
	}
	return fmt.Errorf("%w; the export's files were deleted", err)
}

// commitChain commits the run of an incremental chain just published, res, to the table (the
// snapshot run) or its changelog table (change runs with rows), after any earlier run of the
// chain whose commit failed or never happened. A failed commit deletes nothing: the run is
// published and its slot position confirmed (its changes are nowhere else), so it stays, and
// the next run commits it first.
func commitChain(ctx context.Context, cat *lakehouse.Catalog, a exportArgs, res *outcome.Result) error {
	dir, err := filepath.Abs(a.output.Prefix)
	if err != nil {
		return fmt.Errorf("--output-dir: %w", err)
	}
	runs, err := publishedRuns(dir)
	if err != nil {
		return err
	}
	done, err := cat.CommitChain(ctx, a.iceberg.table, runs, nil)
	if len(done) > 0 {
		res.Iceberg = done[len(done)-1] // this run's (nil when it had no rows)
	}
	var ie *lakehouse.IncompatibleError
	switch {
	case errors.As(err, &ie):
		return fmt.Errorf("the run is published in %s, but committing the chain to Iceberg failed: %w; a chain whose column changed type needs a new chain and a new --iceberg-table", dir, err)
	case err != nil:
		return fmt.Errorf("the run is published in %s, but committing the chain to Iceberg failed (the runs not committed are kept, and the next run commits them first): %w", dir, err)
	}
	return nil
}

// publishedRuns lists the published runs of the incremental chain in dir, in order, as
// CommitChain takes them.
func publishedRuns(dir string) ([]lakehouse.ChainRun, error) {
	published, err := incremental.PublishedRuns(dir)
	if err != nil {
		return nil, err
	}
	runs := make([]lakehouse.ChainRun, len(published))
	for i, r := range published {
		runs[i] = lakehouse.ChainRun{Result: r.Manifest, Dir: "file://" + filepath.ToSlash(r.Dir)}
	}
	return runs, nil
}

// removeExport deletes a published export: its manifest, then its files.
func removeExport(ctx context.Context, a exportArgs, st *s3store.Store, res *outcome.Result) error {
	if st != nil {
		dir := a.opts.OutputDir
		uris := make([]string, len(res.Files))
		for i, f := range res.Files {
			uris[i] = st.URI(dir) + "/" + f.Name
		}
		return st.RemovePublished(ctx, dir, uris)
	}
	abs, err := filepath.Abs(a.output.Prefix)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(filepath.Dir(abs))
	if err != nil {
		return err
	}
	defer root.Close()
	dir := filepath.Base(abs)
	files := make([]string, len(res.Files))
	for i, f := range res.Files {
		files[i] = path.Join(dir, f.Name)
	}
	return export.RemovePublished(root, dir, files)
}

// outputURI is the output directory as an absolute URI: file:///abs/path or s3://bucket/prefix.
func outputURI(l objstore.Location) (string, error) {
	if !l.IsLocal() {
		return l.String(), nil
	}
	abs, err := filepath.Abs(l.Prefix)
	if err != nil {
		return "", fmt.Errorf("--output-dir: %w", err)
	}
	return "file://" + filepath.ToSlash(abs), nil
}

// parentURI is the directory (or prefix) holding the output directory, as an absolute URI:
// the default warehouse, beside the exports.
func parentURI(l objstore.Location) string {
	if !l.IsLocal() {
		p := path.Dir(l.Prefix)
		if p == "." {
			p = ""
		}
		return objstore.Location{Scheme: "s3", Bucket: l.Bucket, Prefix: p}.String()
	}
	abs, err := filepath.Abs(l.Prefix)
	if err != nil {
		return ""
	}
	return "file://" + filepath.ToSlash(filepath.Dir(abs))
}

// checkIcebergArgs validates the Iceberg flags against the others.
func checkIcebergArgs(a exportArgs, given map[string]bool) error {
	if a.iceberg.table == "" {
		for _, f := range []string{"iceberg-catalog", "iceberg-warehouse"} {
			if given[f] {
				return usagef("export: --%s needs --iceberg-table (e.g. --iceberg-table sales.orders)", f)
			}
		}
		return nil
	}
	if err := lakehouse.CheckTable(a.iceberg.table); err != nil {
		return usagef("export: --iceberg-table: %w", err)
	}
	if err := lakehouse.CheckCatalog(a.iceberg.catalog); err != nil {
		return usagef("export: --iceberg-catalog: %w", err)
	}
	if a.opts.Overwrite {
		return usagef("export: --overwrite with --iceberg-table would delete files the table's earlier snapshots read; give each export a --output-dir of its own")
	}
	if a.iceberg.warehouse != "" {
		if _, err := objstore.Parse(a.iceberg.warehouse); err != nil && !isFileURI(a.iceberg.warehouse) {
			return usagef("export: --iceberg-warehouse %w", err)
		}
	}
	return nil
}

func isFileURI(s string) bool { return len(s) > len("file:///") && s[:len("file:///")] == "file:///" }
