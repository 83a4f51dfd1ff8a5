package export

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// FileResult describes one Parquet file of a finished export.
type FileResult struct {
	// Name is the file name inside the output directory.
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// fileFormat is what every file of one export shares.
type fileFormat struct {
	dir         *outputDir
	schema      *arrow.Schema
	props       *parquet.WriterProperties
	arrowProps  pqarrow.ArrowWriterProperties
	metadata    [][2]string // key-value metadata, in order
	maxFileSize int64
	seq         *atomic.Int64 // numbers files across all series
}

// fileSeries writes the record batches of one lane into a sequence of Parquet files, starting
// a new file when one reaches maxFileSize. Files stay under a temporary dot-name until the whole
// export succeeds. A fileSeries is used by one goroutine.
type fileSeries struct {
	format *fileFormat
	cur    *parquetFile
	done   []*parquetFile
}

// parquetFile is one file being written.
type parquetFile struct {
	FileResult
	tmpName string
	f       *os.File
	sink    *hashingWriter
	fw      *pqarrow.FileWriter
}

func (s *fileSeries) write(rec arrow.RecordBatch) error {
	if s.cur == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	p := s.cur
	if err := p.fw.WriteBuffered(rec); err != nil {
		return fmt.Errorf("write %s: %w", p.tmpName, err)
	}
	p.Rows += rec.NumRows()
	if p.fw.RowGroupTotalCompressedBytes() >= rowGroupMaxBytes {
		if err := p.fw.NewBufferedRowGroupChecked(); err != nil {
			return fmt.Errorf("write %s: %w", p.tmpName, err)
		}
	}
	if p.sink.n+p.fw.RowGroupTotalCompressedBytes() >= s.format.maxFileSize {
		return s.closeFile()
	}
	return nil
}

// open starts the next file of the series.
func (s *fileSeries) open() error {
	n := s.format.seq.Add(1) - 1
	p := &parquetFile{}
	p.Name = fmt.Sprintf("part-%05d.parquet", n)
	p.tmpName = "." + p.Name + ".inprogress"
	f, err := s.format.dir.create(p.tmpName)
	if err != nil {
		return err
	}
	p.f = f
	p.sink = &hashingWriter{w: bufio.NewWriterSize(f, 1<<20), h: sha256.New()}
	p.fw, err = pqarrow.NewFileWriter(s.format.schema, p.sink, s.format.props, s.format.arrowProps)
	if err != nil {
		return errors.Join(fmt.Errorf("start Parquet file %s: %w", p.tmpName, err), f.Close())
	}
	s.cur = p
	return nil
}

// closeFile writes the current file's footer, flushes and fsyncs it.
func (s *fileSeries) closeFile() error {
	p := s.cur
	s.cur = nil
	var errs []error
	for _, kv := range s.format.metadata {
		if err := p.fw.AppendKeyValueMetadata(kv[0], kv[1]); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, p.fw.Close(), p.sink.w.Flush(), p.f.Sync(), p.f.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("finish %s: %w", p.tmpName, err)
	}
	p.Bytes = p.sink.n
	p.SHA256 = hex.EncodeToString(p.sink.h.Sum(nil))
	s.done = append(s.done, p)
	return nil
}

// finish closes the current file, if any.
func (s *fileSeries) finish() error {
	if s.cur == nil {
		return nil
	}
	return s.closeFile()
}

// abort closes the current file without caring for its content; the caller removes it.
func (s *fileSeries) abort() {
	if s.cur != nil {
		_ = s.cur.f.Close() // the file is removed next: its close error says nothing useful
		s.cur = nil
	}
}

// hashingWriter counts and hashes everything written to the file, so the manifest's sha256
// costs no second read.
type hashingWriter struct {
	w *bufio.Writer
	h hash.Hash
	n int64
}

func (h *hashingWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}
