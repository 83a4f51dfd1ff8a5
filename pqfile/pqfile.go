// Package pqfile assembles a Parquet file from column chunks that arrive already encoded
// (pages whose levels and values were encoded, and compressed, elsewhere: the GPU writer's, or
// this package's CPU twin EncodePlain) beside column chunks that arrow-go encodes from Arrow
// arrays, in the same row groups. It owns the file's layout: the magic, each column chunk's
// pages through arrow-go's page writer (which writes the page headers and records offsets,
// sizes and encodings in the chunk's metadata), and the footer.
//
// arrow-go's file.Writer cannot take encoded pages: its column writers compute a chunk's
// statistics and row count from the values they encoded themselves. pqfile therefore drives
// arrow-go's exported pieces directly (metadata builders, file.NewPageWriter,
// file.NewColumnChunkWriter, pqarrow.WriteArrowToColumn, typed statistics to merge a chunk's);
// the definition and repetition levels of nested fields (AppendField) are computed here, as
// pqarrow's level builder, which is not exported, computes them.
// A Writer, and its open RowGroup, are used by one goroutine.
package pqfile

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

var magic = []byte("PAR1")

// Page is one data page of an encoded column chunk, as Parquet's DataPageV1 holds it: the
// repetition levels (a list's column only) and definition levels (each RLE/bit-packed hybrid,
// 4-byte length prefixed; none for a required flat column) then the values, compressed with
// the file's codec as a whole.
type Page struct {
	Data             []byte // compressed
	UncompressedSize int32
	NumValues        int32 // levels: a flat column's rows, NULLs included
	Rows             int32 // a list column's records (its levels of repetition level 0); 0 for a flat column's page
	Encoding         parquet.Encoding
	Stats            metadata.EncodedStatistics
}

// Chunk is one column's data in one row group: Encoded or Arrow.
type Chunk interface{ chunk() }

// Encoded is a column chunk whose pages were encoded (and compressed) by the caller, with
// the chunk's statistics.
type Encoded struct {
	Pages []Page
	Stats metadata.EncodedStatistics
}

// Arrow is a column chunk arrow-go encodes from an array of the column's Arrow type (flat
// columns: no lists or structs).
type Arrow struct{ Array arrow.Array }

func (Encoded) chunk() {}
func (Arrow) chunk()   {}

// Writer writes one Parquet file: row groups one after the other (WriteRowGroup, or
// NewRowGroup batch by batch), then the footer (Close). A row group sealed (RowGroup.Seal)
// lets the next one start before it closes. It is used by one goroutine.
type Writer struct {
	sink   *tellWriter
	schema *schema.Schema
	arrow  *arrow.Schema
	fields []fieldColumns // per Arrow field, its leaf columns
	props  *parquet.WriterProperties
	meta   *metadata.FileMetaDataBuilder
	groups int16 // row groups written
	mem    memory.Allocator
	open   *RowGroup // the row group taking appends, if any
	// sealed: the row groups sealed (RowGroup.Seal) and not yet closed or aborted, oldest
	// first; they close in that order, while the next one takes appends.
	sealed []*RowGroup
	// compressor, if any, compresses the pages of the columns fed with Arrow (held.go).
	compressor PageCompressor
	err        error // why the file is incomplete: a row group failed half written
	closed     bool
}

// NewWriter starts a file for records of sc on w, with props (codec, statistics, ...) and
// the Arrow schema stored in its key-value metadata as pqarrow stores it.
func NewWriter(w io.Writer, sc *arrow.Schema, props *parquet.WriterProperties) (*Writer, error) {
	return NewWriterWith(w, sc, props, WriterOptions{ArrowProps: pqarrow.NewArrowWriterProperties(), StoreSchema: true})
}

// WriterOptions are the choices pqarrow's FileWriter takes beside the writer properties.
type WriterOptions struct {
	// ArrowProps maps the Arrow schema to Parquet's, as pqarrow.ToParquet does.
	ArrowProps pqarrow.ArrowWriterProperties
	// StoreSchema stores the Arrow schema in the key-value metadata ("ARROW:schema"), as
	// pqarrow.WithStoreSchema does (readers then rebuild Arrow types such as dictionaries).
	StoreSchema bool
	// Compressor, if not nil, compresses the pages arrow-go encodes (the columns fed with
	// Arrow), several at a time: the row groups hold them uncompressed until RowGroup.Compress
	// or Close (held.go). Nil: arrow-go compresses each page as it fills.
	Compressor PageCompressor
}

// NewWriterWith is NewWriter with the Arrow-side options: the file's schema and key-value
// metadata are those pqarrow's FileWriter writes with the same options (the schema's metadata,
// then ARROW:schema if stored).
func NewWriterWith(w io.Writer, sc *arrow.Schema, props *parquet.WriterProperties, opts WriterOptions) (*Writer, error) {
	psc, err := pqarrow.ToParquet(sc, props, opts.ArrowProps)
	if err != nil {
		return nil, fmt.Errorf("parquet schema of %s: %w", sc, err)
	}
	// As pqarrow stores it (list element fields named as the Parquet schema names them).
	kv := make(metadata.KeyValueMetadata, 0, sc.Metadata().Len()+1)
	for i := 0; i < sc.Metadata().Len(); i++ {
		kv.Append(sc.Metadata().Keys()[i], sc.Metadata().Values()[i])
	}
	if opts.StoreSchema {
		stored, err := storedSchema(sc)
		if err != nil {
			return nil, fmt.Errorf("arrow schema to store: %w", err)
		}
		kv.Append("ARROW:schema", base64.StdEncoding.EncodeToString(flight.SerializeSchema(stored, props.Allocator())))
	}
	sink := &tellWriter{w: w}
	if _, err := sink.Write(magic); err != nil {
		return nil, fmt.Errorf("write the file's magic: %w", err)
	}
	return &Writer{sink: sink, schema: psc, arrow: sc, fields: columnsOfFields(psc), props: props, meta: metadata.NewFileMetadataBuilder(psc, props, kv),
		mem: props.Allocator(), compressor: opts.Compressor}, nil
}

// WriteRowGroup writes a row group of rows rows: one chunk per column, in schema order. It is
// NewRowGroup with the file's props, each chunk appended in one call (an Encoded chunk's pages
// are written as they are, an Arrow chunk's array is encoded), and Close; nothing reaches the
// file when it fails before writing (a chunk refused, rows not what the chunks hold). The
// Encoded chunks' page Data must not be modified before it returns.
func (w *Writer) WriteRowGroup(ctx context.Context, rows int, chunks []Chunk) error {
	if len(chunks) != w.schema.NumColumns() {
		return fmt.Errorf("pqfile: %d column chunks for %d columns", len(chunks), w.schema.NumColumns())
	}
	g, err := w.NewRowGroup(w.props)
	if err != nil {
		return err
	}
	for i, c := range chunks {
		switch c := c.(type) {
		case Encoded:
			err = g.AppendPages(i, c)
		case Arrow:
			err = g.AppendArrow(ctx, i, c.Array)
		default:
			err = fmt.Errorf("pqfile: column %s: unknown chunk %T", w.schema.Column(i).Path(), c)
		}
		if err != nil {
			return errors.Join(err, g.Abort())
		}
	}
	if g.Rows() != int64(rows) {
		return errors.Join(fmt.Errorf("pqfile: a row group of %d rows whose chunks hold %d", rows, g.Rows()), g.Abort())
	}
	if err := g.Close(); err != nil {
		return errors.Join(err, g.Abort())
	}
	return nil
}

// Bytes is the number of bytes written to the file so far: the magic and the row groups
// closed (not the footer, until Close).
func (w *Writer) Bytes() int64 { return w.sink.n }

// AppendKeyValueMetadata adds a key-value pair to the file's footer (before Close).
func (w *Writer) AppendKeyValueMetadata(key, value string) error {
	if w.closed {
		return errors.New("pqfile: key-value metadata for a closed file")
	}
	return w.meta.AppendKeyValueMetadata(key, value)
}

// Close writes the footer (the file's metadata, its length, the magic). It does not close
// the underlying writer.
//
// It fails, writing nothing, while a row group is open (Close or Abort it first), and once a
// row group failed half written (the file is then incomplete: remove it).
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	if w.open != nil || len(w.sealed) > 0 {
		return fmt.Errorf("pqfile: close the file with row group %d open", w.groups)
	}
	if w.err != nil {
		return fmt.Errorf("pqfile: the file is incomplete: %w", w.err)
	}
	w.closed = true
	meta, err := w.meta.Finish()
	if err != nil {
		return fmt.Errorf("finish the file's metadata: %w", err)
	}
	n, err := meta.WriteTo(w.sink, nil)
	if err != nil {
		return fmt.Errorf("write the footer: %w", err)
	}
	if err := binary.Write(w.sink, binary.LittleEndian, uint32(n)); err != nil {
		return fmt.Errorf("write the footer: %w", err)
	}
	if _, err := w.sink.Write(magic); err != nil {
		return fmt.Errorf("write the footer: %w", err)
	}
	return nil
}

// tellWriter counts what it writes: the page writer records offsets with Tell.
type tellWriter struct {
	w io.Writer
	n int64
}

func (t *tellWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	t.n += int64(n)
	return n, err
}

func (t *tellWriter) Tell() int64 { return t.n }
