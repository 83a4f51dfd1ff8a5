package sidecar

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/objstore"
	"github.com/pgparquet/pgparquet/objstore/s3store"
)

// output is where the sidecar's exports go: a directory of the local file system, every file
// opened beneath it (os.Root), or an S3 bucket and prefix, every key below it. Requests name
// a clean relative directory in it (checkOutputDir). It is safe for concurrent use.
type output struct {
	root    *os.Root
	rootDir string         // the local root's absolute path
	store   *s3store.Store // attempts staged under dir/.pgparquet-<tag>/ and published by copy
}

// openOutput opens cfg.OutputRoot: an s3://bucket/prefix URL or a local directory.
func openOutput(cfg *Config) (*output, error) {
	loc, err := objstore.Parse(cfg.OutputRoot)
	if err != nil {
		return nil, fmt.Errorf("output root: %w", err)
	}
	if loc.IsLocal() {
		abs, err := filepath.Abs(cfg.OutputRoot)
		if err != nil {
			return nil, fmt.Errorf("output root: %w", err)
		}
		root, err := os.OpenRoot(abs)
		if err != nil {
			return nil, fmt.Errorf("output root: %w", err)
		}
		return &output{root: root, rootDir: abs}, nil
	}
	// Loading the AWS configuration may ask a web identity or the instance for credentials.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := s3store.New(ctx, s3store.Config{Bucket: loc.Bucket, Prefix: loc.Prefix, PathStyle: cfg.S3PathStyle, Stage: true})
	if err != nil {
		return nil, fmt.Errorf("output root: %w", err)
	}
	return &output{store: st}, nil
}

// apply points an export's options at the output.
func (o *output) apply(opts *export.Options) {
	if o.store != nil {
		opts.Store = o.store
	} else {
		opts.Root = o.root
	}
}

// location is how a request's directory is recorded with its files: relative to the root for
// a local directory (the requester's output_path), the s3:// URI of its prefix on S3.
func (o *output) location(dir string) string {
	if o.store != nil {
		return o.store.URI(dir)
	}
	return dir
}

// uri is a directory's absolute URI (recorded as the request's output_uri, and what an
// Iceberg table references its files by): s3://bucket/prefix/dir on S3, file:///root/dir for
// a local root.
func (o *output) uri(dir string) (string, error) {
	if o.store != nil {
		return o.store.URI(dir), nil
	}
	if err := checkOutputDir(dir); err != nil {
		return "", err
	}
	return "file://" + filepath.ToSlash(filepath.Join(o.rootDir, filepath.FromSlash(dir))), nil
}

// publish makes attempt tag's staged files, then its manifest, visible in dir; it can be
// repeated and run by several processes at once (export.Publish, s3store.Store.Publish).
func (o *output) publish(ctx context.Context, dir, tag string) error {
	if o.store != nil {
		return o.store.Publish(ctx, dir, tag)
	}
	return export.Publish(o.root, dir, tag)
}

// discardStaging removes attempt tag's staged files in dir, and dir when removeDir and it is
// empty then (a local directory: object storage has no empty directories).
func (o *output) discardStaging(ctx context.Context, dir, tag string, removeDir bool) error {
	if o.store != nil {
		return o.store.DiscardStaging(ctx, dir, tag)
	}
	return export.DiscardStaging(o.root, dir, tag, removeDir)
}

// removePublished deletes the published export in dir (files as the files table records
// them), manifest first; it can be repeated (export.RemovePublished, s3store's).
func (o *output) removePublished(ctx context.Context, dir string, files []string) error {
	if o.store != nil {
		return o.store.RemovePublished(ctx, dir, files)
	}
	return export.RemovePublished(o.root, dir, files)
}

func (o *output) close() {
	if o.root != nil {
		o.root.Close()
	}
}
