package s3store

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// file streams one object: bytes fill a part buffer; a full part is uploaded in the
// background (a multipart upload starts with the first full part) while the next one fills,
// at most PartsInFlight at once, so a file holds at most PartsInFlight+1 parts in memory. A
// file smaller than a part is one PutObject. It is used by one goroutine; its uploads report
// to it under mu.
type file struct {
	s   *sink
	key string
	ctx context.Context // the uploads': cancelled by Abort
	// cancel stops the uploads in flight.
	cancel context.CancelFunc

	buf      *[]byte // the part being filled
	uploadID string
	next     int32         // the next part's number
	slots    chan struct{} // one per part uploading
	wg       sync.WaitGroup

	mu    sync.Mutex
	parts []types.CompletedPart
	err   error // the first upload error
}

func (s *sink) newFile(ctx context.Context, name string) *file {
	ctx, cancel := context.WithCancel(ctx)
	return &file{s: s, key: s.key(name), ctx: ctx, cancel: cancel, next: 1,
		slots: make(chan struct{}, s.st.cfg.PartsInFlight), buf: s.st.parts.Get().(*[]byte)}
}

// Write copies p into part buffers, sending each one that fills.
func (f *file) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		b := *f.buf
		c := min(len(p), cap(b)-len(b))
		*f.buf = append(b, p[:c]...)
		n += c
		p = p[c:]
		if len(*f.buf) == cap(*f.buf) {
			if err := f.sendPart(); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// sendPart starts the upload of the full part buffer, after the multipart upload itself
// when it is the first part, and waits while PartsInFlight parts are uploading.
func (f *file) sendPart() error {
	if err := f.failed(); err != nil {
		return err
	}
	if f.next > maxParts {
		return fmt.Errorf("write s3 object %s: more than %d parts of %d bytes; lower the maximum file size", f.key, maxParts, f.s.st.cfg.PartSize)
	}
	if f.uploadID == "" {
		if f.ctx.Err() != nil {
			return context.Cause(f.ctx)
		}
		// Not abandoned if the file is cancelled meanwhile: a request the server carries out
		// after the client gave up on it leaves an upload whose ID nobody knows, which the
		// sink's Discard misses when it lists the uploads first. Bounded as cleanup is.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(f.ctx), f.s.st.cfg.CleanupTimeout)
		out, err := f.s.st.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
			Bucket: aws.String(f.s.st.cfg.Bucket), Key: aws.String(f.key)})
		cancel()
		if err != nil {
			return f.s.st.explain("start the upload of", f.key, err)
		}
		f.uploadID = aws.ToString(out.UploadId) // Abort hands it to Discard from now on
	}
	select {
	case f.slots <- struct{}{}:
	case <-f.ctx.Done():
		// A failed part cancels the file's other requests: its error is the one to tell.
		if err := f.failed(); err != nil {
			return err
		}
		return context.Cause(f.ctx)
	}
	buf, num := f.buf, f.next
	f.buf = f.s.st.parts.Get().(*[]byte)
	f.next++
	f.wg.Go(func() {
		defer func() {
			*buf = (*buf)[:0]
			f.s.st.parts.Put(buf)
			<-f.slots
		}()
		out, err := f.s.st.client.UploadPart(f.ctx, &s3.UploadPartInput{
			Bucket: aws.String(f.s.st.cfg.Bucket), Key: aws.String(f.key), UploadId: aws.String(f.uploadID),
			PartNumber: aws.Int32(num), Body: bytes.NewReader(*buf), ContentLength: aws.Int64(int64(len(*buf)))})
		f.mu.Lock()
		defer f.mu.Unlock()
		if err != nil {
			if f.err == nil {
				f.err = f.s.st.explain(fmt.Sprintf("upload part %d of", num), f.key, err)
				f.cancel() // the other parts are of no use now
			}
			return
		}
		f.parts = append(f.parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
	})
	return nil
}

func (f *file) failed() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Close sends what is left and completes the object. On error the file is aborted.
func (f *file) Close() error {
	err := f.complete()
	if err != nil {
		f.Abort()
		return err
	}
	f.release()
	return nil
}

func (f *file) complete() error {
	if f.uploadID == "" {
		err := f.s.st.putObject(f.ctx, f.key, *f.buf)
		if err != nil {
			return err
		}
		return nil
	}
	if len(*f.buf) > 0 {
		if err := f.sendPart(); err != nil {
			return err
		}
	}
	f.wg.Wait()
	if err := f.failed(); err != nil {
		return err
	}
	slices.SortFunc(f.parts, func(a, b types.CompletedPart) int { return int(*a.PartNumber - *b.PartNumber) })
	_, err := f.s.st.client.CompleteMultipartUpload(f.ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(f.s.st.cfg.Bucket), Key: aws.String(f.key), UploadId: aws.String(f.uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: f.parts}})
	if err != nil {
		return f.s.st.explain("complete the upload of", f.key, err)
	}
	return nil
}

// Abort stops the uploads in flight and leaves the multipart upload, if one was started, to
// the sink's Discard to abort on the server (which retries while the server is away).
func (f *file) Abort() {
	f.cancel()
	f.wg.Wait()
	if f.uploadID != "" {
		f.s.dropped(f.key, f.uploadID)
		f.uploadID = ""
	}
	f.release()
}

func (f *file) release() {
	f.cancel()
	if f.buf != nil {
		*f.buf = (*f.buf)[:0]
		f.s.st.parts.Put(f.buf)
		f.buf = nil
	}
}

// putObject writes a whole object in one request.
func (st *Store) putObject(ctx context.Context, key string, data []byte) error {
	_, err := st.client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(st.cfg.Bucket), Key: aws.String(key),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))})
	if err != nil {
		return st.explain("write", key, err)
	}
	return nil
}
