package s3store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/pgparquet/pgparquet/objstore"
	"github.com/pgparquet/pgparquet/outcome"
)

// maxCopy is the largest object one CopyObject copies; larger ones are copied in parts.
const maxCopy = 5 << 30

// copyPart is the size of each part of a multipart copy.
const copyPart = 1 << 30

// Publish copies attempt tag's staged files (Config.Stage), then its manifest, from
// dir/.pgparquet-<tag>/ to dir/, and deletes the staging prefix. It can be repeated, and run
// by several processes at once (the attempt itself and one that rolls its publication forward
// after it died): a file whose staged copy is gone while the published one is there was
// copied already, so all of them end with the same objects.
func (st *Store) Publish(ctx context.Context, dir, tag string) error {
	prefix := objstore.JoinKey(st.cfg.Prefix, dir)
	staging := keyDir(prefix) + objstore.StagingPrefix + tag
	where := st.URI(dir)
	data, err := st.get(ctx, keyDir(staging)+objstore.ManifestName)
	var nsk *types.NoSuchKey
	switch {
	case errors.As(err, &nsk):
		// Published already, if the manifest is in place: its files were copied before it.
		if ok, herr := st.exists(ctx, keyDir(prefix)+objstore.ManifestName); herr != nil {
			return fmt.Errorf("publish %s: %w", where, herr)
		} else if ok {
			return st.removePrefix(ctx, staging)
		}
		return fmt.Errorf("publish %s: the attempt's staged manifest is gone and none was published", where)
	case err != nil:
		return fmt.Errorf("publish %s: read staged manifest: %w", where, err)
	}
	var m outcome.Result
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("publish %s: staged manifest: %w", where, err)
	}
	files := append(m.Files, outcome.File{Name: objstore.ManifestName, Bytes: int64(len(data))})
	for _, f := range files {
		if err := st.copyStaged(ctx, keyDir(staging)+f.Name, keyDir(prefix)+f.Name, f.Bytes); err != nil {
			return fmt.Errorf("publish %s: %w", where, err)
		}
	}
	return st.removePrefix(ctx, staging)
}

// copyStaged copies src to dst on the server, unless src is gone and dst is there (a
// concurrent publisher copied it).
func (st *Store) copyStaged(ctx context.Context, src, dst string, size int64) error {
	var err error
	if size <= maxCopy {
		_, err = st.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(st.cfg.Bucket), Key: aws.String(dst),
			CopySource: aws.String(copySource(st.cfg.Bucket, src))})
	} else {
		err = st.copyParts(ctx, src, dst, size)
	}
	if err == nil {
		return nil
	}
	var nsk *types.NoSuchKey
	var ae interface{ ErrorCode() string }
	if errors.As(err, &nsk) || (errors.As(err, &ae) && ae.ErrorCode() == "NoSuchKey") {
		if ok, herr := st.exists(ctx, dst); herr == nil && ok {
			return nil
		}
		return fmt.Errorf("copy %s: the staged object is gone and was not published", src)
	}
	var se *Error
	if errors.As(err, &se) {
		return err
	}
	return st.explain("copy to", dst, err)
}

// copyParts copies an object larger than one CopyObject allows, copyPart bytes a part.
func (st *Store) copyParts(ctx context.Context, src, dst string, size int64) error {
	b, k := aws.String(st.cfg.Bucket), aws.String(dst)
	up, err := st.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: k})
	if err != nil {
		return err
	}
	var parts []types.CompletedPart
	for n, off := int32(1), int64(0); off < size; n, off = n+1, off+copyPart {
		end := min(off+copyPart, size) - 1
		out, err := st.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: k, UploadId: up.UploadId,
			PartNumber: aws.Int32(n), CopySource: aws.String(copySource(st.cfg.Bucket, src)),
			CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", off, end))})
		if err != nil {
			return errors.Join(err, st.abortUpload(context.WithoutCancel(ctx), dst, aws.ToString(up.UploadId)))
		}
		parts = append(parts, types.CompletedPart{ETag: out.CopyPartResult.ETag, PartNumber: aws.Int32(n)})
	}
	_, err = st.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: k, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	return err
}

// copySource is the x-amz-copy-source of key: the bucket and the key, each segment escaped.
func copySource(bucket, key string) string {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return bucket + "/" + strings.Join(segs, "/")
}

// DiscardStaging deletes attempt tag's staging prefix in dir (Config.Stage): how the attempt
// that lost its claim, and a janitor after it, clean up. It touches nothing published.
func (st *Store) DiscardStaging(ctx context.Context, dir, tag string) error {
	if tag == "" {
		return errors.New("discard staging: no tag")
	}
	return st.removePrefix(ctx, keyDir(objstore.JoinKey(st.cfg.Prefix, dir))+objstore.StagingPrefix+tag)
}

// removePrefix aborts the uploads and deletes the objects below prefix.
func (st *Store) removePrefix(ctx context.Context, prefix string) error {
	uploads, err := st.uploads(ctx, prefix)
	if err != nil {
		return err
	}
	for _, u := range uploads {
		if err := st.abortUpload(ctx, u[0], u[1]); err != nil {
			return err
		}
	}
	keys, err := st.list(ctx, prefix)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := st.deleteKey(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

func (st *Store) get(ctx context.Context, key string) ([]byte, error) {
	out, err := st.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(st.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		var nsk *types.NoSuchKey
		if errors.As(err, &nsk) {
			return nil, err
		}
		return nil, st.explain("read", key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, st.explain("read", key, err)
	}
	return data, nil
}

func (st *Store) exists(ctx context.Context, key string) (bool, error) {
	_, err := st.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(st.cfg.Bucket), Key: aws.String(key)})
	var nf *types.NotFound
	var nsk *types.NoSuchKey
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &nf) || errors.As(err, &nsk):
		return false, nil
	}
	return false, st.explain("look up", key, err)
}

// RemovePublished deletes a published export in dir: its manifest first, so that an export cut
// off half-way never looks complete, then files (as the sidecar's files table records them:
// URIs directly inside dir's, URI(dir)/name). Other objects stay. Keys already gone are
// skipped (S3 deletes are idempotent), so it can be repeated after a crash, and run by several
// processes at once.
func (st *Store) RemovePublished(ctx context.Context, dir string, files []string) error {
	base := keyDir(objstore.JoinKey(st.cfg.Prefix, dir))
	uri := st.URI(dir) + "/"
	keys := make([]string, 0, len(files))
	for _, f := range files {
		name, ok := strings.CutPrefix(f, uri)
		if !ok || name == "" || strings.Contains(name, "/") || strings.HasPrefix(name, ".") {
			return fmt.Errorf("remove export %s: file %s is not one of its files", uri, f)
		}
		keys = append(keys, base+name)
	}
	if err := st.deleteKey(ctx, base+objstore.ManifestName); err != nil {
		return fmt.Errorf("remove export %s: %w", uri, err)
	}
	for _, k := range keys {
		if err := st.deleteKey(ctx, k); err != nil {
			return fmt.Errorf("remove export %s: %w", uri, err)
		}
	}
	return nil
}
