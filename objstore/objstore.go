// Package objstore is where an export's files go: the Store and Sink interfaces the export
// writes through, and the parsing of an output location (a local path or an s3:// URL). The
// local file system's implementation lives in export (staging directories, fsync, no-replace
// renames); objstore/s3store implements them on S3-compatible object storage. export imports
// this package only, never a backend: the caller opens the Store (as it picks the decoder).
package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
)

// ManifestName is the file published last: a directory or prefix without it holds no complete
// export.
const ManifestName = "_manifest.json"

// StagingPrefix starts the name of the private directory (or key prefix), inside the export's
// directory, that one attempt writes its files into before publishing them. Readers skip
// dot-names; an export's directory holding only these is empty.
const StagingPrefix = ".pgparquet-"

// ErrNotEmpty is wrapped by the error of an export whose output directory or prefix holds
// files of its own already (not only attempts' staging directories) and overwrite is not set.
// Callers say what to do in their own terms (the CLI's --overwrite, a request's output_path).
var ErrNotEmpty = errors.New("it holds files that are not this export's")

// Store is a place exports are written to: a bucket and a root prefix. It is safe for
// concurrent use; each Open starts one attempt.
type Store interface {
	// Open starts an attempt writing the export whose files go to dir, a clean relative
	// path below the store's root ("." is the root itself). The directory must hold nothing
	// of another export unless overwrite (then that export's files are removed, its manifest
	// first). tag names the attempt.
	Open(ctx context.Context, dir, tag string, overwrite bool) (Sink, error)
	// URI is how dir is shown to users and recorded: s3://bucket/prefix/dir.
	URI(dir string) string
}

// Sink receives one attempt's files. Files are staged (complete and durable, but not an
// export yet) until Publish writes the manifest last; Discard removes everything the attempt
// wrote. Create may be called from several goroutines; exactly one of Publish and Discard is
// called, after every File is closed or aborted.
type Sink interface {
	// Create starts a new file named name (a plain name, like part-00000.parquet). It fails
	// when the attempt already has a file of that name.
	Create(ctx context.Context, name string) (File, error)
	// WriteManifest stages the manifest; Publish makes it visible after every file.
	WriteManifest(ctx context.Context, data []byte) error
	// Publish makes the staged files, then the manifest, visible to readers.
	Publish(ctx context.Context) error
	// Discard removes every file the attempt wrote, finished or not, even when ctx is
	// cancelled already (it works on a context of its own, bounded in time).
	Discard(ctx context.Context) error
}

// File is one file being written by one goroutine. Exactly one of Close and Abort is called;
// Abort may follow a failed Write or Close.
type File interface {
	io.Writer
	// Close completes the file: it is durable once Close returns nil.
	Close() error
	// Abort drops the file (its bytes may stay until Discard).
	Abort()
}

// FreeChecker is implemented by a Sink on a file system that may run short of space.
type FreeChecker interface {
	// CheckFree fails when the sink's file system has less than reserve bytes available.
	CheckFree(reserve int64) error
}

// Location is a parsed output location: a local path, or a bucket and key prefix.
type Location struct {
	// Scheme is "s3" for object storage, "" for a local path.
	Scheme string
	// Bucket is the bucket of an s3:// location.
	Bucket string
	// Prefix is the key prefix of an s3:// location without leading or trailing slash ("" for
	// the bucket's root), or the local path as given.
	Prefix string
}

// IsLocal reports whether l is a local path.
func (l Location) IsLocal() bool { return l.Scheme == "" }

func (l Location) String() string {
	if l.IsLocal() {
		return l.Prefix
	}
	if l.Prefix == "" {
		return "s3://" + l.Bucket
	}
	return "s3://" + l.Bucket + "/" + l.Prefix
}

var (
	schemeRe = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://`)
	// bucketRe is the S3 bucket naming rule, loosely (S3-compatible servers vary): 3 to 63
	// lower-case letters, digits, dots and hyphens.
	bucketRe = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

// Parse reads an output location: s3://bucket[/prefix] or a local path. Any other URL
// (gs://, http://, file://) is refused, as is a prefix with empty, "." or ".." segments: a
// key prefix means exactly what it says. The error is one line naming what would work.
func Parse(s string) (Location, error) {
	m := schemeRe.FindStringSubmatch(s)
	if m == nil {
		if s == "" {
			return Location{}, errors.New("output location is empty: give a local directory or s3://bucket/prefix")
		}
		return Location{Prefix: s}, nil
	}
	if !strings.EqualFold(m[1], "s3") {
		return Location{}, fmt.Errorf("%q: %s:// output is not supported; give a local directory or s3://bucket/prefix", s, m[1])
	}
	rest := s[len(m[0]):]
	if strings.ContainsAny(rest, "?#") {
		return Location{}, fmt.Errorf("%q: an s3:// location takes no query or fragment; give s3://bucket/prefix", s)
	}
	bucket, prefix, _ := strings.Cut(rest, "/")
	if !bucketRe.MatchString(bucket) {
		return Location{}, fmt.Errorf("%q: %q is not a bucket name (3 to 63 lower-case letters, digits, dots or hyphens); give s3://bucket/prefix", s, bucket)
	}
	prefix = strings.TrimSuffix(prefix, "/")
	if err := CheckPrefix(prefix); err != nil {
		return Location{}, fmt.Errorf("%q: %w", s, err)
	}
	return Location{Scheme: "s3", Bucket: bucket, Prefix: prefix}, nil
}

// CheckPrefix refuses a key prefix that is not a clean relative path: a leading slash, empty,
// "." or ".." segments, or a NUL ("" is the root and is accepted).
func CheckPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if strings.ContainsRune(prefix, 0) || strings.HasPrefix(prefix, "/") || path.Clean(prefix) != prefix ||
		prefix == "." || prefix == ".." || strings.HasPrefix(prefix, "../") {
		return fmt.Errorf("key prefix %q is not a clean path (no empty, \".\" or \"..\" segments)", prefix)
	}
	for _, seg := range strings.Split(prefix, "/") {
		if seg == ".." || seg == "." {
			return fmt.Errorf("key prefix %q is not a clean path (no empty, \".\" or \"..\" segments)", prefix)
		}
	}
	return nil
}

// JoinKey joins a root prefix and a clean relative directory ("." is the root) into a key
// prefix, without a trailing slash.
func JoinKey(root, dir string) string {
	if dir == "." || dir == "" {
		return root
	}
	if root == "" {
		return dir
	}
	return root + "/" + dir
}
