package incremental

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/jackc/pglogrepl"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/pqfile"
)

// MaterializeOptions say which chain to read and where to write the table.
type MaterializeOptions struct {
	// Input is the chain directory.
	Input string
	// OutputDir receives the table as one Parquet file (part-00000.parquet); created if
	// missing, it must hold no such file.
	OutputDir string
	// AsOfLSN, when set, stops after the last transaction that committed at or before it;
	// empty: the chain's end.
	AsOfLSN string
	// Mem allocates the table's Arrow memory, all of it released when Materialize returns;
	// nil: memory.DefaultAllocator.
	Mem memory.Allocator
}

// MaterializeResult says what Materialize wrote.
type MaterializeResult struct {
	File string `json:"file"`
	Rows int64  `json:"rows"`
	// LSN is the position the table is as of: the chain's end, or AsOfLSN.
	LSN  string `json:"lsn"`
	Runs int    `json:"runs"`
}

// Materialize writes the table as of the chain's end (or opts.AsOfLSN): the rows of the last
// snapshot run at or before it, then every change in commit order (_pgparquet_lsn, then _pgparquet_seq), matched to rows by
// the replica identity's columns. An unchanged TOASTed value keeps the row's previous value; a
// column added midway is NULL in rows written before it; a dropped column is left out. A
// column whose type changed between runs is refused. It holds the whole table in memory.
func Materialize(ctx context.Context, opts MaterializeOptions) (*MaterializeResult, error) {
	ch, _, err := readChain(opts.Input)
	if err != nil {
		return nil, err
	}
	if len(ch.runs) == 0 {
		return nil, fmt.Errorf("materialize: %s holds no committed run of an incremental chain", opts.Input)
	}
	asOf := int64(-1)
	if opts.AsOfLSN != "" {
		l, err := pglogrepl.ParseLSN(opts.AsOfLSN)
		if err != nil {
			return nil, fmt.Errorf("materialize: --as-of-lsn: %w", err)
		}
		asOf = int64(l)
		if snapLSN, _ := pglogrepl.ParseLSN(ch.runs[0].Manifest.Incremental.ToLSN); l < snapLSN {
			return nil, fmt.Errorf("materialize: %s is before the chain's snapshot (%s)", opts.AsOfLSN, snapLSN)
		}
	}
	mem := opts.Mem
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	m := newMaterializer(mem)
	defer m.release()
	// Start at the last snapshot run at or before asOf: a chain restarted from a snapshot
	// (its slot dropped or lost) has no changes across the restart.
	start := 0
	for i, r := range ch.runs {
		if l, _ := pglogrepl.ParseLSN(r.Manifest.Incremental.ToLSN); r.Manifest.Incremental.Mode == modeSnapshot && (asOf < 0 || int64(l) <= asOf) {
			start = i
		}
	}
	res := &MaterializeResult{LSN: ch.runs[start].Manifest.Incremental.ToLSN}
	for i, r := range ch.runs[start:] {
		inc := r.Manifest.Incremental
		if inc.Mode == modeSnapshot && i > 0 {
			break // a restart after asOf
		}
		if inc.Mode == modeSnapshot {
			names := make([]string, len(r.Manifest.Files))
			for i, f := range r.Manifest.Files {
				names[i] = f.Name
			}
			var sc string
			if len(inc.Series) > 0 {
				sc = inc.Series[0].ArrowSchema
			}
			if err := m.applyFiles(ctx, r.Dir, names, asOf, true, sc, inc.KeyColumns); err != nil {
				return nil, err
			}
			res.Runs++
			continue
		}
		if from, _ := pglogrepl.ParseLSN(inc.FromLSN); asOf >= 0 && int64(from) > asOf {
			break
		}
		for _, s := range inc.Series {
			var keys []string
			for _, c := range s.Columns {
				if c.Key {
					keys = append(keys, c.Name)
				}
			}
			if err := m.applyFiles(ctx, r.Dir, s.Files, asOf, false, s.ArrowSchema, keys); err != nil {
				return nil, err
			}
		}
		res.Runs++
		res.LSN = inc.ToLSN
	}
	if opts.AsOfLSN != "" {
		res.LSN = opts.AsOfLSN
	}
	if err := os.MkdirAll(opts.OutputDir, 0o755); err != nil {
		return nil, fmt.Errorf("materialize: create %s: %w", opts.OutputDir, err)
	}
	res.File = filepath.Join(opts.OutputDir, "part-00000.parquet")
	n, err := m.write(ctx, res.File)
	if err != nil {
		return nil, err
	}
	res.Rows = n
	return res, nil
}

// materializer is the table being rebuilt: per key, where each column's current value lies
// (an index into that column's values from every file read, -1 for NULL).
type materializer struct {
	mem      memory.Allocator
	colIndex map[string]int // column name -> slot in a row's refs
	colNames []string
	colType  []arrow.DataType
	values   [][]arrow.Array // per column slot: the column's arrays of every file, in order
	offsets  []int64         // per column slot: the number of values read so far
	starts   [][]int64       // per column slot: where each of its arrays starts
	// rows holds, per key, the rows with that key: one with a primary key or replica
	// identity index, any number with REPLICA IDENTITY FULL (every column is the key).
	rows map[string][][]int64
	// keyedBy is the columns rows is keyed by: the replica identity's.
	keyedBy []string
	// schema is the table's columns in order: the snapshot's, then each change series'.
	schema  []string
	pendOld *string // key of the update_old row just read, for the update that follows
}

func newMaterializer(mem memory.Allocator) *materializer {
	return &materializer{mem: mem, colIndex: map[string]int{}, rows: map[string][][]int64{}}
}

// release releases every array read.
func (m *materializer) release() {
	for _, arrays := range m.values {
		for _, a := range arrays {
			a.Release()
		}
	}
	m.values = nil
}

// slot returns the column slot of name with type dt, adding it on first sight.
func (m *materializer) slot(name string, dt arrow.DataType) (int, error) {
	if i, ok := m.colIndex[name]; ok {
		if !arrow.TypeEqual(m.colType[i], dt) {
			return 0, fmt.Errorf("materialize: column %s changed type from %s to %s: materialize cannot convert it (a chain goes on from a snapshot run after a type change)", name, m.colType[i], dt)
		}
		return i, nil
	}
	m.colIndex[name] = len(m.colNames)
	m.colNames = append(m.colNames, name)
	m.colType = append(m.colType, dt)
	m.values = append(m.values, nil)
	m.starts = append(m.starts, nil)
	m.offsets = append(m.offsets, 0)
	return len(m.colNames) - 1, nil
}

// applyFiles reads the files in dir in order and applies their rows: a snapshot's as inserts,
// change rows by their op, up to asOf (-1: all). tableSchema is the series' recorded Arrow
// schema of the table's columns ("": the files' own).
func (m *materializer) applyFiles(ctx context.Context, dir string, names []string, asOf int64, snapshot bool, tableSchema string, keys []string) error {
	full := tableSchema
	if tableSchema != "" && !snapshot {
		b, err := base64.StdEncoding.DecodeString(tableSchema)
		if err != nil {
			return fmt.Errorf("materialize: the Arrow schema of %s: %w", dir, err)
		}
		sc, err := flight.DeserializeSchema(b, m.mem)
		if err != nil {
			return fmt.Errorf("materialize: the Arrow schema of %s: %w", dir, err)
		}
		full = encodeSchema(arrow.NewSchema(append(sc.Fields(), metaFields...), nil))
	}
	for _, name := range names {
		tbl, err := readTable(ctx, filepath.Join(dir, name), m.mem, full)
		if err != nil {
			return err
		}
		err = m.apply(tbl, asOf, snapshot, keys, filepath.Join(filepath.Base(dir), name))
		tbl.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// readTable reads a Parquet file; arrowSchema, when set, is the Arrow schema it was written
// from (Parquet's ARROW:schema form), which pgparquet's files do not store: the columns are
// then given back their types (conform), such as JSON's extension type where Parquet gives
// its storage.
func readTable(ctx context.Context, path string, mem memory.Allocator, arrowSchema string) (arrow.Table, error) {
	rdr, err := file.OpenParquetFile(path, false)
	if err != nil {
		return nil, fmt.Errorf("materialize: open %s: %w", path, err)
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, mem)
	if err != nil {
		return nil, fmt.Errorf("materialize: read %s: %w", path, err)
	}
	tbl, err := fr.ReadTable(ctx)
	if err != nil {
		return nil, fmt.Errorf("materialize: read %s: %w", path, err)
	}
	if arrowSchema == "" {
		return tbl, nil
	}
	defer tbl.Release()
	b, err := base64.StdEncoding.DecodeString(arrowSchema)
	if err != nil {
		return nil, fmt.Errorf("materialize: the Arrow schema of %s: %w", path, err)
	}
	want, err := flight.DeserializeSchema(b, mem)
	if err != nil {
		return nil, fmt.Errorf("materialize: the Arrow schema of %s: %w", path, err)
	}
	if want.NumFields() != int(tbl.NumCols()) {
		return nil, fmt.Errorf("materialize: %s has %d columns, its series %d", path, tbl.NumCols(), want.NumFields())
	}
	cols := make([]arrow.Column, tbl.NumCols())
	defer func() {
		for i := range cols {
			if cols[i].Data() != nil {
				cols[i].Release()
			}
		}
	}()
	for i := range cols {
		f := want.Field(i)
		if got := tbl.Schema().Field(i).Name; got != f.Name {
			return nil, fmt.Errorf("materialize: column %d of %s is %s, its series says %s", i, path, got, f.Name)
		}
		var chunks []arrow.Array
		for _, c := range tbl.Column(i).Data().Chunks() {
			d, err := conform(mem, c.Data(), f.Type)
			if err != nil {
				return nil, fmt.Errorf("materialize: column %s of %s: %w", f.Name, path, err)
			}
			chunks = append(chunks, array.MakeFromData(d))
			d.Release()
		}
		ch := arrow.NewChunked(f.Type, chunks)
		for _, c := range chunks {
			c.Release()
		}
		cols[i] = *arrow.NewColumn(f, ch)
		ch.Release()
	}
	return array.NewTable(want, cols, tbl.NumRows()), nil
}

// conform gives d the type dt where Parquet read it with another type of the same layout: an
// extension type's storage (JSON's string, read as binary), binary for string, a dictionary
// (enums) for its values, and the same within lists, structs and maps.
func conform(mem memory.Allocator, d arrow.ArrayData, dt arrow.DataType) (arrow.ArrayData, error) {
	if arrow.TypeEqual(d.DataType(), dt) {
		d.Retain()
		return d, nil
	}
	if ext, ok := dt.(arrow.ExtensionType); ok {
		st, err := conform(mem, d, ext.StorageType())
		if err != nil {
			return nil, err
		}
		defer st.Release()
		return array.NewData(dt, st.Len(), st.Buffers(), st.Children(), st.NullN(), st.Offset()), nil
	}
	if ext, ok := d.DataType().(arrow.ExtensionType); ok {
		st := array.NewData(ext.StorageType(), d.Len(), d.Buffers(), d.Children(), d.NullN(), d.Offset())
		defer st.Release()
		return conform(mem, st, dt)
	}
	if dict, ok := dt.(*arrow.DictionaryType); ok {
		return dictionaryOf(mem, d, dict)
	}
	from, to := d.DataType().ID(), dt.ID()
	sameLayout := from == to ||
		(from == arrow.BINARY || from == arrow.STRING) && (to == arrow.BINARY || to == arrow.STRING) ||
		(from == arrow.LARGE_BINARY || from == arrow.LARGE_STRING) && (to == arrow.LARGE_BINARY || to == arrow.LARGE_STRING)
	if !sameLayout {
		return nil, fmt.Errorf("read as %s, written as %s", d.DataType(), dt)
	}
	var childTypes []arrow.DataType
	switch t := dt.(type) {
	case arrow.ListLikeType:
		childTypes = []arrow.DataType{t.ElemField().Type}
		if m, ok := dt.(*arrow.MapType); ok {
			childTypes = []arrow.DataType{m.Elem()}
		}
	case *arrow.StructType:
		for _, f := range t.Fields() {
			childTypes = append(childTypes, f.Type)
		}
	}
	if len(childTypes) != len(d.Children()) {
		return nil, fmt.Errorf("read as %s, written as %s", d.DataType(), dt)
	}
	children := make([]arrow.ArrayData, len(childTypes))
	for i, c := range d.Children() {
		var err error
		if children[i], err = conform(mem, c, childTypes[i]); err != nil {
			for _, done := range children[:i] {
				done.Release()
			}
			return nil, err
		}
	}
	nd := array.NewData(dt, d.Len(), d.Buffers(), children, d.NullN(), d.Offset())
	for _, c := range children {
		c.Release()
	}
	return nd, nil
}

// one concatenates a chunked column.
func one(c *arrow.Chunked, mem memory.Allocator) (arrow.Array, error) {
	if len(c.Chunks()) == 1 {
		a := c.Chunk(0)
		a.Retain()
		return a, nil
	}
	if len(c.Chunks()) == 0 {
		return array.MakeArrayOfNull(mem, c.DataType(), 0), nil
	}
	return array.Concatenate(c.Chunks(), mem)
}

func (m *materializer) apply(tbl arrow.Table, asOf int64, snapshot bool, keys []string, where string) error {
	sc := tbl.Schema()
	n := int(tbl.NumRows())
	var tableCols []string
	base := map[string]int64{} // column -> offset of this file's values
	arrays := map[string]arrow.Array{}
	var meta = map[string]arrow.Array{}
	for i, f := range sc.Fields() {
		a, err := one(tbl.Column(i).Data(), m.mem)
		if err != nil {
			return fmt.Errorf("materialize: %s: %w", where, err)
		}
		if strings.HasPrefix(f.Name, "_pgparquet_") {
			meta[f.Name] = a
			continue
		}
		slot, err := m.slot(f.Name, f.Type)
		if err != nil {
			a.Release()
			return err
		}
		tableCols = append(tableCols, f.Name)
		base[f.Name] = m.offsets[slot]
		m.starts[slot] = append(m.starts[slot], m.offsets[slot])
		m.values[slot] = append(m.values[slot], a)
		m.offsets[slot] += int64(a.Len())
		arrays[f.Name] = a
	}
	defer func() {
		for _, a := range meta {
			a.Release()
		}
	}()
	if snapshot {
		m.schema = tableCols
	} else {
		m.schema = tableCols
		for _, c := range []string{colOp, colLSN, colSeq, colUnchanged} {
			if meta[c] == nil {
				return fmt.Errorf("materialize: %s has no column %s: not a change file", where, c)
			}
		}
	}
	keyCols := keys
	if len(keyCols) == 0 {
		// REPLICA IDENTITY FULL: a row is known by all its values.
		keyCols = tableCols
	}
	if !slices.Equal(m.keyedBy, keyCols) {
		// The first file, or the columns or the replica identity changed.
		m.rekey(keyCols)
	}
	for _, k := range keyCols {
		if arrays[k] == nil {
			return fmt.Errorf("materialize: %s has no key column %s", where, k)
		}
	}
	key := func(row int) string {
		var b strings.Builder
		for _, k := range keyCols {
			writeKeyPart(&b, arrays[k], row)
		}
		return b.String()
	}
	full := func(row int) []int64 {
		refs := make([]int64, len(m.colNames))
		for i := range refs {
			refs[i] = -1
		}
		for _, c := range tableCols {
			refs[m.colIndex[c]] = base[c] + int64(row)
		}
		return refs
	}
	if snapshot {
		for r := range n {
			m.put(key(r), full(r))
		}
		return nil
	}
	ops := meta[colOp].(*array.String)
	lsns := meta[colLSN].(*array.Int64)
	unch := meta[colUnchanged].(*array.List)
	unchVals := unch.ListValues().(*array.String)
	uoff := unch.Offsets()
	for r := range n {
		if asOf >= 0 && lsns.Value(r) > asOf {
			break
		}
		switch op := ops.Value(r); op {
		case opInsert:
			m.put(key(r), full(r))
		case opDelete:
			m.take(key(r))
		case opTruncate:
			clear(m.rows)
		case opUpdateOld:
			k := key(r)
			m.pendOld = &k
		case opUpdate:
			k := key(r)
			oldKey := k
			if m.pendOld != nil {
				oldKey = *m.pendOld
				m.pendOld = nil
			}
			refs := full(r)
			if old := m.take(oldKey); old != nil {
				for j := uoff[r]; j < uoff[r+1]; j++ {
					if s, ok := m.colIndex[unchVals.Value(int(j))]; ok && s < len(old) {
						refs[s] = old[s]
					}
				}
			} else if uoff[r+1] > uoff[r] {
				return fmt.Errorf("materialize: %s row %d: an update with unchanged values of a row that does not exist", where, r)
			}
			m.put(k, refs)
		default:
			return fmt.Errorf("materialize: %s row %d: unknown %s %q", where, r, colOp, op)
		}
	}
	return nil
}

// put adds a row under k. A key is unique, but nothing is replaced: a row the changes insert
// twice (which a gap or overlap in the chain would do) shows as two rows.
func (m *materializer) put(k string, refs []int64) {
	m.rows[k] = append(m.rows[k], refs)
}

// take removes a row under k and returns it; nil when there is none.
func (m *materializer) take(k string) []int64 {
	rs := m.rows[k]
	if len(rs) == 0 {
		return nil
	}
	refs := rs[len(rs)-1]
	if len(rs) == 1 {
		delete(m.rows, k)
	} else {
		m.rows[k] = rs[:len(rs)-1]
	}
	return refs
}

// rekey keys the rows by the values of cols: the replica identity changed, or, with REPLICA
// IDENTITY FULL, the columns did (a row's identity is then the values of the columns the table
// has now).
func (m *materializer) rekey(cols []string) {
	old := m.rows
	m.rows = make(map[string][][]int64, len(old))
	m.keyedBy = slices.Clone(cols)
	for _, rs := range old {
		for _, refs := range rs {
			var b strings.Builder
			for _, c := range cols {
				slot, ok := m.colIndex[c]
				if !ok || slot >= len(refs) || refs[slot] < 0 {
					b.WriteString("N")
					continue
				}
				i, _ := slices.BinarySearch(m.starts[slot], refs[slot]+1)
				a := m.values[slot][i-1]
				writeKeyPart(&b, a, int(refs[slot]-m.starts[slot][i-1]))
			}
			m.rows[b.String()] = append(m.rows[b.String()], refs)
		}
	}
}

// writeKeyPart writes the value of a's row, or N for NULL, so that a key's parts cannot run
// into each other.
func writeKeyPart(b *strings.Builder, a arrow.Array, row int) {
	if a.IsNull(row) {
		b.WriteString("N")
		return
	}
	v := a.ValueStr(row)
	b.WriteString("V")
	b.WriteString(strconv.Itoa(len(v)))
	b.WriteByte(':')
	b.WriteString(v)
}

// write writes the rows, ordered by key, with the last schema's columns.
func (m *materializer) write(ctx context.Context, path string) (int64, error) {
	keys := make([]string, 0, len(m.rows))
	for k := range m.rows {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fields := make([]arrow.Field, len(m.schema))
	cols := make([]arrow.Array, len(m.schema))
	defer func() {
		for _, c := range cols {
			if c != nil {
				c.Release()
			}
		}
	}()
	for i, name := range m.schema {
		s := m.colIndex[name]
		fields[i] = arrow.Field{Name: name, Type: m.colType[s], Nullable: true}
		idx := array.NewInt64Builder(m.mem)
		for _, k := range keys {
			for _, refs := range m.rows[k] {
				if s >= len(refs) || refs[s] < 0 {
					idx.AppendNull()
				} else {
					idx.Append(refs[s])
				}
			}
		}
		indices := idx.NewArray()
		idx.Release()
		var values arrow.Array
		var err error
		switch len(m.values[s]) {
		case 0:
			values = array.MakeArrayOfNull(m.mem, m.colType[s], 0)
		default:
			values, err = array.Concatenate(m.values[s], m.mem)
		}
		if err == nil {
			cols[i], err = compute.TakeArray(compute.WithAllocator(ctx, m.mem), values, indices)
			values.Release()
		}
		indices.Release()
		if err != nil {
			return 0, fmt.Errorf("materialize: column %s: %w", name, err)
		}
		// An empty value in a column without value bytes would be left out of arrow-go's min.
		if a, ok := pqfile.WithValueBytes(cols[i]); ok {
			cols[i].Release()
			cols[i] = a
		}
	}
	n := 0
	for _, rs := range m.rows {
		n += len(rs)
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, int64(n))
	defer rec.Release()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, fmt.Errorf("materialize: %w", err)
	}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithStats(true),
		parquet.WithMaxRowGroupLength(export.DefaultRowGroupSize), parquet.WithCreatedBy("pgparquet "+export.Version),
		parquet.WithAllocator(m.mem))
	buf := bufio.NewWriterSize(f, 1<<20)
	fw, err := pqarrow.NewFileWriter(rec.Schema(), buf, props, pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(m.mem)))
	if err == nil {
		err = fw.WriteBuffered(rec)
		err = errors.Join(err, fw.Close(), buf.Flush(), f.Sync())
	}
	if err == nil {
		err = f.Close()
		f = nil
	}
	if err != nil {
		if f != nil {
			f.Close() //nolint:errcheck // failed already
		}
		return 0, errors.Join(fmt.Errorf("materialize: write %s: %w", path, err), os.Remove(path))
	}
	return int64(n), nil
}

// dictionaryOf dictionary-encodes the string or binary values d as dt.
func dictionaryOf(mem memory.Allocator, d arrow.ArrayData, dt *arrow.DictionaryType) (arrow.ArrayData, error) {
	vals, err := conform(mem, d, dt.ValueType)
	if err != nil {
		return nil, err
	}
	defer vals.Release()
	a := array.MakeFromData(vals)
	defer a.Release()
	b := array.NewDictionaryBuilder(mem, dt)
	defer b.Release()
	bb, ok := b.(*array.BinaryDictionaryBuilder)
	if !ok {
		return nil, fmt.Errorf("read as %s, written as %s", d.DataType(), dt)
	}
	for i := range a.Len() {
		if a.IsNull(i) {
			bb.AppendNull()
			continue
		}
		var err error
		switch v := a.(type) {
		case *array.String:
			err = bb.AppendString(v.Value(i))
		case *array.Binary:
			err = bb.Append(v.Value(i))
		default:
			err = fmt.Errorf("read as %s, written as %s", d.DataType(), dt)
		}
		if err != nil {
			return nil, err
		}
	}
	out := bb.NewArray()
	defer out.Release()
	out.Data().Retain()
	return out.Data(), nil
}
