// Package s3store writes exports to S3-compatible object storage through the AWS SDK for Go
// v2: each file streams as a multipart upload with a bounded number of parts in memory, the
// manifest is the last object written (the commit point: a reader that trusts only prefixes
// with a _manifest.json never sees a partial export), and a failed or cancelled attempt
// aborts its uploads and deletes the objects it completed.
//
// Credentials, region and endpoint come from the standard AWS chain: AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL(_S3), the shared
// config and credentials files and AWS_PROFILE, web identity (AWS_WEB_IDENTITY_TOKEN_FILE and
// AWS_ROLE_ARN, as Kubernetes sets them), then the instance's role.
package s3store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pgparquet/pgparquet/objstore"
)

// Defaults of Config.
const (
	DefaultPartSize        = 8 << 20
	MinPartSize            = 5 << 20 // S3's minimum for every part but the last
	DefaultPartsInFlight   = 2
	DefaultMaxAttempts     = 8
	DefaultCleanupTimeout  = 2 * time.Minute
	DefaultResponseTimeout = 2 * time.Minute
	// maxParts is S3's limit of parts per multipart upload.
	maxParts = 10000
)

// Config is one store: a bucket and a root prefix, and how uploads are made. Zero values
// take the defaults above.
type Config struct {
	// Bucket and Prefix are the store's root (objstore.Location's): every key written is
	// Prefix/dir/name, and dir never escapes Prefix.
	Bucket, Prefix string
	// PathStyle addresses the bucket in the URL's path (endpoint/bucket/key) instead of its
	// host name, as most S3-compatible servers on a plain address need.
	PathStyle bool
	// PartSize is the size of each part of a multipart upload (at least 5 MiB); a file
	// smaller than one part is written with one PutObject.
	PartSize int
	// PartsInFlight bounds the parts of one file uploading at once; with the part being
	// filled, a file holds at most PartsInFlight+1 parts in memory.
	PartsInFlight int
	// MaxAttempts is how many times one request is tried when it fails transiently (5xx,
	// throttling, a dropped or refused connection), with exponential backoff between tries.
	MaxAttempts int
	// ResponseTimeout bounds the wait for a response once a request is sent: a server that
	// hangs fails the request, which is retried, instead of the export.
	ResponseTimeout time.Duration
	// CleanupTimeout bounds how long a failed attempt keeps trying to abort its uploads and
	// delete its objects (the server may be coming back).
	CleanupTimeout time.Duration
	// Stage writes each attempt's objects under a staging prefix of its own
	// (dir/.pgparquet-<tag>/, manifest included) and publishes them by server-side copies, the
	// manifest last, as the local directory's renames: an attempt that dies leaves only its
	// staging prefix (Store.DiscardStaging removes it), its publication can be rolled forward
	// by another process (Store.Publish), and a later attempt of the same export is not
	// refused for it. Without Stage, objects go straight to their final keys and the manifest,
	// kept in memory, is put by Publish: no copy, for a single process that cleans up after
	// itself (the CLI).
	Stage bool
	// Load adds options to the AWS configuration loaded from the standard chain (tests give
	// static credentials or an endpoint here).
	Load []func(*config.LoadOptions) error
}

// Store is an objstore.Store on one bucket and root prefix. It is safe for concurrent use.
type Store struct {
	cfg     Config
	aws     aws.Config
	client  *s3.Client
	secrets []string // never shown: redacted from every error message
	parts   sync.Pool
}

// New loads the AWS configuration and returns the store; it makes no request (Open lists the
// export's prefix, which checks the credentials and the bucket before anything is read).
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < MinPartSize {
		return nil, fmt.Errorf("s3 part size %d: must be at least %d (5 MiB)", cfg.PartSize, MinPartSize)
	}
	if cfg.PartsInFlight <= 0 {
		cfg.PartsInFlight = DefaultPartsInFlight
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.CleanupTimeout <= 0 {
		cfg.CleanupTimeout = DefaultCleanupTimeout
	}
	if cfg.ResponseTimeout <= 0 {
		cfg.ResponseTimeout = DefaultResponseTimeout
	}
	if err := objstore.CheckPrefix(cfg.Prefix); err != nil {
		return nil, fmt.Errorf("s3://%s: %w", cfg.Bucket, err)
	}
	load := append([]func(*config.LoadOptions) error{
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.ResponseHeaderTimeout = cfg.ResponseTimeout
		})),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = cfg.MaxAttempts
				o.MaxBackoff = 10 * time.Second
				// Backoff from 1 s (jittered, doubling to MaxBackoff): the SDK's default base
				// since v1.48 is 50 ms, which spent 8 attempts in 2.7 s of a refused connection,
				// too little for a server restart (TestS3ShortOutageRetried failed in CI).
				o.BaseDelay = time.Second
				// An outage longer than the retry budget of the process must not fail
				// requests that would succeed after a backoff.
				o.RateLimiter = ratelimit.None
			})
		}),
	}, cfg.Load...)
	awsCfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("s3://%s: load the AWS configuration: %s", cfg.Bucket, oneLine(err.Error()))
	}
	if awsCfg.Region == "" {
		// S3-compatible servers take any region; AWS redirects to the bucket's, and signing
		// needs one.
		awsCfg.Region = "us-east-1"
	}
	st := &Store{cfg: cfg, aws: awsCfg}
	st.parts.New = func() any { b := make([]byte, 0, cfg.PartSize); return &b }
	st.client = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.UsePathStyle = cfg.PathStyle
		// Parts are hashed for the signature already; CRC trailers are not understood by every
		// S3-compatible server.
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	// Whatever a provider returns is kept out of messages, whoever formats them.
	if awsCfg.Credentials != nil {
		if creds, err := awsCfg.Credentials.Retrieve(ctx); err == nil {
			st.secrets = append(st.secrets, creds.SecretAccessKey, creds.SessionToken)
		}
	}
	return st, nil
}

// AWS returns the AWS configuration the store was opened with (credentials, region,
// endpoint, retries), for other clients that must reach the same objects as the same
// identity (the Iceberg commit's file IO).
func (st *Store) AWS() aws.Config { return st.aws.Copy() }

// PathStyle reports whether the store addresses its bucket in the URL path.
func (st *Store) PathStyle() bool { return st.cfg.PathStyle }

// URI returns s3://bucket/prefix/dir.
func (st *Store) URI(dir string) string {
	return objstore.Location{Scheme: "s3", Bucket: st.cfg.Bucket, Prefix: objstore.JoinKey(st.cfg.Prefix, dir)}.String()
}

// Open starts an attempt writing under Prefix/dir. The prefix must hold no object unless
// overwrite; then a previous export's manifest is deleted first, then its part files (other
// objects stay, as in a local directory).
func (st *Store) Open(ctx context.Context, dir, tag string, overwrite bool) (objstore.Sink, error) {
	if dir != "." {
		if err := objstore.CheckPrefix(dir); err != nil {
			return nil, fmt.Errorf("output %s: %w", st.URI("."), err)
		}
	}
	s := &sink{st: st, dir: dir, tag: tag, prefix: objstore.JoinKey(st.cfg.Prefix, dir), names: map[string]bool{}}
	s.files = s.prefix
	if st.cfg.Stage {
		if tag == "" || strings.ContainsAny(tag, "/.") {
			return nil, fmt.Errorf("output %s: staging tag %q is not a plain name", st.URI(dir), tag)
		}
		s.files = keyDir(s.prefix) + objstore.StagingPrefix + tag
	}
	all, err := st.list(ctx, s.prefix)
	if err != nil {
		return nil, err
	}
	// Other attempts' staging prefixes do not make the directory non-empty.
	var keys []string
	for _, k := range all {
		if !strings.HasPrefix(strings.TrimPrefix(k, keyDir(s.prefix)), objstore.StagingPrefix) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return s, nil
	}
	if !overwrite {
		return nil, fmt.Errorf("output %s is not empty (%d objects): %w", st.URI(dir), len(keys), objstore.ErrNotEmpty)
	}
	// The manifest goes first, so an interrupted overwrite never leaves a manifest that names
	// objects already deleted.
	manifest := keyDir(s.prefix) + objstore.ManifestName
	for _, k := range keys {
		if k == manifest {
			if err := st.deleteKey(ctx, k); err != nil {
				return nil, err
			}
		}
	}
	for _, k := range keys {
		name, below := strings.CutPrefix(k, keyDir(s.prefix))
		if below && isPart(name) {
			if err := st.deleteKey(ctx, k); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// isPart reports whether name is a data file an export of ours publishes.
func isPart(name string) bool {
	return strings.HasPrefix(name, "part-") && strings.HasSuffix(name, ".parquet") && !strings.Contains(name, "/")
}

// keyDir is prefix as the start of the keys below it.
func keyDir(prefix string) string {
	if prefix == "" {
		return ""
	}
	return prefix + "/"
}

// list returns every key below prefix.
func (st *Store) list(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(st.client, &s3.ListObjectsV2Input{Bucket: aws.String(st.cfg.Bucket), Prefix: aws.String(keyDir(prefix))})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, st.explain("list", prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

func (st *Store) deleteKey(ctx context.Context, key string) error {
	_, err := st.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(st.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		return st.explain("delete", key, err)
	}
	return nil
}

func (st *Store) abortUpload(ctx context.Context, key, id string) error {
	_, err := st.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(st.cfg.Bucket), Key: aws.String(key), UploadId: aws.String(id)})
	var nsu *types.NoSuchUpload
	if err != nil && !errors.As(err, &nsu) {
		return st.explain("abort the upload of", key, err)
	}
	return nil
}

// sink is one attempt: its objects go straight to their final keys under prefix and the
// manifest is kept in memory until Publish puts it last, or (Stage) all of them go under the
// attempt's staging prefix until Publish copies them.
type sink struct {
	st     *Store
	dir    string // relative to the store's root prefix
	tag    string
	prefix string // the key prefix of the export
	files  string // the key prefix the files are written under: prefix, or its staging prefix

	mu sync.Mutex
	// names are the files created, finished or not: Discard deletes each of their keys (a
	// key never written is no error), as a request whose response was lost may have
	// written it.
	names    map[string]bool
	aborted  map[string]string // upload ID → key of uploads dropped by File.Abort
	manifest []byte
	put      bool // Publish tried to put the manifest
}

// key is where the attempt writes file name.
func (s *sink) key(name string) string { return keyDir(s.files) + name }

// Create starts the object of file name; nothing is sent before the first part is full.
func (s *sink) Create(ctx context.Context, name string) (objstore.File, error) {
	if name == "" || strings.ContainsRune(name, '/') || name == "." || name == ".." || name == objstore.ManifestName {
		return nil, fmt.Errorf("create %q: not a plain file name", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.names[name] {
		return nil, fmt.Errorf("create %s: the attempt has a file of that name already", name)
	}
	s.names[name] = true
	return s.newFile(ctx, name), nil
}

// WriteManifest keeps the manifest for Publish, or puts it in the staging prefix (Stage).
func (s *sink) WriteManifest(ctx context.Context, data []byte) error {
	s.mu.Lock()
	s.manifest = append([]byte(nil), data...)
	if s.st.cfg.Stage {
		s.names[objstore.ManifestName] = true
	}
	s.mu.Unlock()
	if s.st.cfg.Stage {
		if err := s.st.putObject(ctx, s.key(objstore.ManifestName), data); err != nil {
			return fmt.Errorf("write manifest: %w", err)
		}
	}
	return nil
}

// Publish puts the manifest, the last object of the export: every file it names is complete.
// It works on a context of its own, as a rename would not be interrupted halfway.
func (s *sink) Publish(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.st.cfg.CleanupTimeout)
	defer cancel()
	s.mu.Lock()
	data := s.manifest
	s.put = true
	s.mu.Unlock()
	if data == nil {
		return fmt.Errorf("publish %s: no manifest was written", s.st.URI(s.dir))
	}
	if s.st.cfg.Stage {
		return s.st.Publish(ctx, s.dir, s.tag)
	}
	if err := s.st.putObject(ctx, s.key(objstore.ManifestName), data); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return nil
}

// Discard aborts the attempt's unfinished uploads (those its files dropped, and any other
// upload of its keys: one whose start's response was lost) and deletes its objects, the
// manifest first when Publish may have put it. While the server is unreachable it keeps
// trying, up to Config.CleanupTimeout.
func (s *sink) Discard(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.st.cfg.CleanupTimeout)
	defer cancel()
	s.mu.Lock()
	names, aborted, put := s.names, s.aborted, s.put
	s.names, s.aborted = map[string]bool{}, nil
	s.mu.Unlock()
	var errs []error
	if put && !s.st.cfg.Stage {
		errs = append(errs, persist(ctx, func(ctx context.Context) error { return s.st.deleteKey(ctx, s.key(objstore.ManifestName)) }))
	}
	for id, key := range aborted {
		errs = append(errs, persist(ctx, func(ctx context.Context) error { return s.st.abortUpload(ctx, key, id) }))
	}
	if len(names) > 0 {
		errs = append(errs, persist(ctx, func(ctx context.Context) error {
			uploads, err := s.st.uploads(ctx, s.prefix)
			if err != nil {
				return err
			}
			for _, u := range uploads {
				if name, ok := strings.CutPrefix(u[0], keyDir(s.prefix)); ok && names[name] && aborted[u[1]] == "" {
					if err := s.st.abortUpload(ctx, u[0], u[1]); err != nil {
						return err
					}
				}
			}
			return nil
		}))
	}
	for name := range names {
		errs = append(errs, persist(ctx, func(ctx context.Context) error { return s.st.deleteKey(ctx, s.key(name)) }))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove the attempt's objects from %s: %w", s.st.URI(s.dir), err)
	}
	return nil
}

// uploads lists the multipart uploads in progress below prefix, as (key, upload ID).
func (st *Store) uploads(ctx context.Context, prefix string) ([][2]string, error) {
	var out [][2]string
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(st.cfg.Bucket), Prefix: aws.String(keyDir(prefix))}
	for {
		page, err := st.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return nil, st.explain("list the uploads of", prefix, err)
		}
		for _, u := range page.Uploads {
			out = append(out, [2]string{aws.ToString(u.Key), aws.ToString(u.UploadId)})
		}
		if !aws.ToBool(page.IsTruncated) {
			return out, nil
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
}

// persist retries op while it fails transiently, on top of the client's own retries, until
// ctx ends: a cleanup outlasts an outage of the server.
func persist(ctx context.Context, op func(context.Context) error) error {
	wait := 250 * time.Millisecond
	for {
		err := op(ctx)
		if err == nil || !transient(err) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("gave up at the cleanup's time limit: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up at the cleanup's time limit: %w", err)
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func (s *sink) dropped(key, uploadID string) {
	s.mu.Lock()
	if s.aborted == nil {
		s.aborted = map[string]string{}
	}
	s.aborted[uploadID] = key
	s.mu.Unlock()
}
