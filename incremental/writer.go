package incremental

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/jackc/pglogrepl"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/gpuparse"
	"github.com/pgparquet/pgparquet/outcome"
	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
	"github.com/pgparquet/pgparquet/pqfile"
)

// The values of _pgparquet_op. An update that changed the replica identity (pgoutput then
// sends the old key) is two rows: update_old with the old key's columns, then update.
const (
	opInsert    = "insert"
	opUpdate    = "update"
	opUpdateOld = "update_old"
	opDelete    = "delete"
	opTruncate  = "truncate"
)

// The metadata columns of change files, after the table's columns.
const (
	colOp         = "_pgparquet_op"
	colLSN        = "_pgparquet_lsn"
	colSeq        = "_pgparquet_seq"
	colXid        = "_pgparquet_xid"
	colCommitTime = "_pgparquet_commit_time"
	colUnchanged  = "_pgparquet_unchanged"
)

// flushRows and flushBytes bound the change rows buffered before they are decoded and
// appended to the file (whose row group, up to export.DefaultRowGroupSize rows, is held in
// memory until complete).
const (
	flushRows  = 8192
	flushBytes = 8 << 20
)

var metaFields = []arrow.Field{
	{Name: colOp, Type: arrow.BinaryTypes.String},
	{Name: colLSN, Type: arrow.PrimitiveTypes.Int64},
	{Name: colSeq, Type: arrow.PrimitiveTypes.Int64},
	{Name: colXid, Type: arrow.PrimitiveTypes.Int64},
	{Name: colCommitTime, Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
	{Name: colUnchanged, Type: arrow.ListOf(arrow.BinaryTypes.String)},
}

// changeMeta is what a change row carries besides the table's columns.
type changeMeta struct {
	op         string
	lsn, xid   int64
	commitTime time.Time
}

// changeWriter writes one run's change rows into Parquet files in dir, one series of files
// per schema version. Values arrive in their binary send form (pgoutput binary), framed here
// as COPY BINARY tuples and decoded by the export's own Go decoder, so change files hold the
// table's columns in exactly the snapshot's Arrow types. It is used by one goroutine.
type changeWriter struct {
	dir   string
	table string
	plan  func([]outcome.SchemaColumn) ([]pgarrow.Column, error)
	// checkAdded, when set, is called with the columns a new schema adds.
	checkAdded func(names []string) error
	mem        memory.Allocator
	// maxFileSize starts a new file of the series once the rows of a file reach it in their
	// binary form.
	maxFileSize int64

	version int
	cols    []outcome.SchemaColumn
	planned []pgarrow.Column
	dec     *gpuparse.CPUDecoder
	schema  *arrow.Schema

	// buffered rows
	tuples    []byte
	metas     []changeMeta
	unchanged [][]string

	seq    int64
	ops    map[string]int64
	fileNo int
	cur    *changeFile
	series []outcome.Series
	files  []outcome.File
}

type changeFile struct {
	name string
	f    *os.File
	buf  *bufio.Writer
	sum  hash.Hash
	tee  *teeWriter
	fw   *pqarrow.FileWriter
	// inBytes is the binary form of the rows written to the file, which bounds its size
	// (compressed Parquet of the same values is smaller).
	inBytes int64
	rows    int64
}

func newChangeWriter(dir string, o export.Options, table string, version int, cols []outcome.SchemaColumn,
	plan func([]outcome.SchemaColumn) ([]pgarrow.Column, error)) (*changeWriter, error) {
	maxFileSize := o.MaxFileSize
	if maxFileSize <= 0 {
		maxFileSize = export.DefaultMaxFileSize
	}
	return &changeWriter{dir: dir, table: table, plan: plan, mem: memory.DefaultAllocator,
		maxFileSize: maxFileSize, version: version, cols: cols, ops: map[string]int64{}}, nil
}

// setSchema makes cols (a Relation message's) the schema of the rows that follow; columns
// that differ from the current schema in name, type or key start a new series, one schema
// version up.
func (w *changeWriter) setSchema(ctx context.Context, cols []outcome.SchemaColumn) error {
	same := len(cols) == len(w.cols)
	for i := 0; same && i < len(cols); i++ {
		a, b := cols[i], w.cols[i]
		same = a.Name == b.Name && a.TypeOID == b.TypeOID && a.Typmod == b.Typmod && a.Key == b.Key
	}
	if same && w.dec != nil {
		return nil
	}
	if err := w.closeSeries(ctx); err != nil {
		return err
	}
	if w.checkAdded != nil && w.cols != nil {
		var added []string
		for _, c := range cols {
			if !slices.ContainsFunc(w.cols, func(o outcome.SchemaColumn) bool { return o.Name == c.Name }) {
				added = append(added, c.Name)
			}
		}
		if len(added) > 0 {
			if err := w.checkAdded(added); err != nil {
				return err
			}
		}
	}
	planned, err := w.plan(cols)
	if err != nil {
		return err
	}
	if err := typeChanged(w.cols, cols, planned); err != nil {
		return err
	}
	if !same {
		w.version++
	}
	w.cols, w.planned = cols, planned
	w.dec = gpuparse.NewCPUDecoder(planned, w.mem)
	fields := append([]arrow.Field{}, w.dec.Schema().Fields()...)
	w.schema = arrow.NewSchema(append(fields, metaFields...), nil)
	for i := range w.cols {
		w.cols[i].PGType = planned[i].PGType
		w.cols[i].ArrowType = fields[i].Type.String()
	}
	w.series = append(w.series, outcome.Series{SchemaVersion: w.version, Columns: append([]outcome.SchemaColumn(nil), w.cols...),
		ArrowSchema: encodeSchema(w.dec.Schema())})
	return nil
}

// add buffers one change row; tuple is nil for a truncate (every column NULL).
func (w *changeWriter) add(ctx context.Context, m changeMeta, tuple *pglogrepl.TupleData) error {
	if w.dec == nil {
		return errors.New("a change arrived before its relation's description")
	}
	if tuple != nil && len(tuple.Columns) != len(w.cols) {
		return fmt.Errorf("a change of %s has %d columns, its relation %d", w.table, len(tuple.Columns), len(w.cols))
	}
	w.tuples = binary.BigEndian.AppendUint16(w.tuples, uint16(len(w.cols)))
	var unchanged []string
	for i := range w.cols {
		if tuple == nil {
			w.tuples = binary.BigEndian.AppendUint32(w.tuples, 0xFFFFFFFF)
			continue
		}
		c := tuple.Columns[i]
		switch c.DataType {
		case pglogrepl.TupleDataTypeNull:
			w.tuples = binary.BigEndian.AppendUint32(w.tuples, 0xFFFFFFFF)
		case pglogrepl.TupleDataTypeToast:
			// An unchanged TOASTed value the server did not send: NULL here, and named.
			w.tuples = binary.BigEndian.AppendUint32(w.tuples, 0xFFFFFFFF)
			unchanged = append(unchanged, w.cols[i].Name)
		case pglogrepl.TupleDataTypeBinary:
			w.tuples = binary.BigEndian.AppendUint32(w.tuples, uint32(len(c.Data)))
			w.tuples = append(w.tuples, c.Data...)
		default:
			return fmt.Errorf("column %s of a change of %s came as %q, not binary", w.cols[i].Name, w.table, c.DataType)
		}
	}
	w.metas = append(w.metas, m)
	w.unchanged = append(w.unchanged, unchanged)
	w.ops[m.op]++
	if len(w.metas) >= flushRows || len(w.tuples) >= min(flushBytes, int(w.maxFileSize)) {
		return w.flush(ctx)
	}
	return nil
}

// flush decodes the buffered rows and appends them to the series' file.
func (w *changeWriter) flush(ctx context.Context) error {
	if len(w.metas) == 0 {
		return nil
	}
	if w.cur == nil {
		if err := w.openFile(); err != nil {
			return err
		}
	}
	rec, err := w.dec.Decode(ctx, &pgcopy.Chunk{Data: w.tuples, Source: "changes of " + w.table, FirstRow: w.seq})
	if err != nil {
		return fmt.Errorf("decode changes of %s: %w", w.table, err)
	}
	defer rec.Release()
	n := len(w.metas)
	ops := array.NewStringBuilder(w.mem)
	lsns := array.NewInt64Builder(w.mem)
	seqs := array.NewInt64Builder(w.mem)
	xids := array.NewInt64Builder(w.mem)
	times := array.NewTimestampBuilder(w.mem, metaFields[4].Type.(*arrow.TimestampType))
	unch := array.NewListBuilder(w.mem, arrow.BinaryTypes.String)
	unchValues := unch.ValueBuilder().(*array.StringBuilder)
	builders := []array.Builder{ops, lsns, seqs, xids, times, unch}
	defer func() {
		for _, b := range builders {
			b.Release()
		}
	}()
	for i, m := range w.metas {
		w.seq++
		ops.Append(m.op)
		lsns.Append(m.lsn)
		seqs.Append(w.seq)
		xids.Append(m.xid)
		times.Append(arrow.Timestamp(m.commitTime.UnixMicro()))
		unch.Append(true)
		for _, name := range w.unchanged[i] {
			unchValues.Append(name)
		}
	}
	cols := append([]arrow.Array{}, rec.Columns()...)
	// An empty value in a batch without value bytes would be left out of arrow-go's min.
	for i, c := range cols {
		if a, ok := pqfile.WithValueBytes(c); ok {
			defer a.Release()
			cols[i] = a
		}
	}
	for _, b := range builders {
		a := b.NewArray()
		defer a.Release()
		cols = append(cols, a)
	}
	out := array.NewRecordBatch(w.schema, cols, int64(n))
	defer out.Release()
	if err := w.cur.fw.WriteBuffered(out); err != nil {
		return fmt.Errorf("write %s: %w", w.cur.name, err)
	}
	w.cur.rows += int64(n)
	w.cur.inBytes += int64(len(w.tuples))
	w.tuples, w.metas, w.unchanged = w.tuples[:0], w.metas[:0], w.unchanged[:0]
	if w.cur.inBytes >= w.maxFileSize {
		return w.closeFile()
	}
	return nil
}

func (w *changeWriter) openFile() error {
	w.fileNo++
	name := fmt.Sprintf("changes-%05d.parquet", w.fileNo)
	f, err := os.OpenFile(filepath.Join(w.dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create change file: %w", err)
	}
	cf := &changeFile{name: name, f: f, sum: sha256.New()}
	cf.buf = bufio.NewWriterSize(f, 1<<20)
	md := arrow.NewMetadata([]string{"pgparquet.version", "pgparquet.source_table", "pgparquet.schema_version"},
		[]string{export.Version, w.table, strconv.Itoa(w.version)})
	schema := arrow.NewSchema(w.schema.Fields(), &md)
	cf.tee = &teeWriter{w: cf.buf, h: cf.sum}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithStats(true),
		parquet.WithMaxRowGroupLength(export.DefaultRowGroupSize), parquet.WithCreatedBy("pgparquet "+export.Version),
		parquet.WithAllocator(w.mem))
	cf.fw, err = pqarrow.NewFileWriter(schema, cf.tee, props, pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(w.mem)))
	if err != nil {
		return errors.Join(fmt.Errorf("create change file %s: %w", name, err), f.Close())
	}
	w.cur = cf
	s := &w.series[len(w.series)-1]
	s.Files = append(s.Files, name)
	return nil
}

// teeWriter hashes what it writes; it has no Close, so the Parquet writer leaves the file
// open for the sync.
type teeWriter struct {
	w interface{ Write([]byte) (int, error) }
	h hash.Hash
	n int64
}

func (t *teeWriter) Write(p []byte) (int, error) {
	t.h.Write(p)
	n, err := t.w.Write(p)
	t.n += int64(n)
	return n, err
}

// closeSeries flushes the buffered rows and finishes the current file.
func (w *changeWriter) closeSeries(ctx context.Context) error {
	if err := w.flush(ctx); err != nil {
		return err
	}
	return w.closeFile()
}

// closeFile finishes the current file, if any: the next rows start a new one in the same
// series.
func (w *changeWriter) closeFile() error {
	if w.cur == nil {
		return nil
	}
	cf := w.cur
	w.cur = nil
	if err := cf.fw.Close(); err != nil {
		return errors.Join(fmt.Errorf("finish %s: %w", cf.name, err), cf.f.Close())
	}
	err := errors.Join(cf.buf.Flush(), cf.f.Sync(), cf.f.Close())
	if err != nil {
		return fmt.Errorf("finish %s: %w", cf.name, err)
	}
	st, err := os.Stat(filepath.Join(w.dir, cf.name))
	if err != nil {
		return fmt.Errorf("finish %s: %w", cf.name, err)
	}
	w.files = append(w.files, outcome.File{Name: cf.name, Rows: cf.rows, Bytes: st.Size(), SHA256: hex.EncodeToString(cf.sum.Sum(nil))})
	return nil
}

// finish completes the run's files; series without files (a schema seen with no rows) are
// dropped.
func (w *changeWriter) finish() ([]outcome.Series, []outcome.File, error) {
	if err := w.closeSeries(context.Background()); err != nil {
		return nil, nil, err
	}
	var series []outcome.Series
	for _, s := range w.series {
		if len(s.Files) > 0 {
			series = append(series, s)
		}
	}
	return series, w.files, nil
}

// abort closes an unfinished file; the caller removes the directory.
func (w *changeWriter) abort() {
	if w.cur != nil {
		w.cur.f.Close() //nolint:errcheck // the run failed; its directory is removed
		w.cur = nil
	}
}

// columns describes the table's columns of the last schema, for the manifest.
func (w *changeWriter) columns() []outcome.Column {
	out := make([]outcome.Column, len(w.cols))
	for i, c := range w.cols {
		out[i] = outcome.Column{Name: c.Name, PGType: c.PGType, ArrowType: c.ArrowType}
	}
	return out
}
