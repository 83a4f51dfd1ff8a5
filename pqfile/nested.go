package pqfile

import (
	"context"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// fieldColumns is where a top-level Arrow field's Parquet leaf columns are: first, first+1, ...,
// first+n-1 (a flat field has one, a struct one per primitive below it).
type fieldColumns struct{ first, n int }

// columnsOfFields maps each top-level field of psc (pqarrow.ToParquet's: one top-level node per
// Arrow field, in order) to its leaf columns.
func columnsOfFields(psc *schema.Schema) []fieldColumns {
	out := make([]fieldColumns, psc.Root().NumFields())
	for i := range out {
		out[i].first = -1
	}
	for i := 0; i < psc.NumColumns(); i++ {
		f := psc.Root().FieldIndexByField(psc.ColumnRoot(i))
		if out[f].first < 0 {
			out[f].first = i
		}
		out[f].n++
	}
	return out
}

// ColumnPath is the dotted path of Parquet column col (a leaf), as the writer properties name
// columns (parquet.WithDictionaryFor, ...).
func (w *Writer) ColumnPath(col int) string { return w.schema.Column(col).Path() }

// ColumnLevels is the maximum definition and repetition levels of Parquet column col (a leaf):
// those the pages given to AppendPages for it must have (ListColumn.Levels).
func (w *Writer) ColumnLevels(col int) (maxDef, maxRep int16) {
	c := w.schema.Column(col)
	return c.MaxDefinitionLevel(), c.MaxRepetitionLevel()
}

// FieldColumns returns the Parquet leaf columns of the file's top-level Arrow field: first is
// the index (for AppendPages, AppendArrow, ...) of its first leaf, n its number of leaves,
// which follow first. A flat field (no list or struct) has one leaf.
func (w *Writer) FieldColumns(field int) (first, n int, err error) {
	if field < 0 || field >= len(w.fields) {
		return 0, 0, fmt.Errorf("pqfile: field %d of %d", field, len(w.fields))
	}
	fc := w.fields[field]
	if fc.n == 0 {
		return 0, 0, fmt.Errorf("pqfile: field %s has no Parquet column", w.arrow.Field(field).Name)
	}
	return fc.first, fc.n, nil
}

// AppendField has arrow-go encode a, an array of the file's top-level Arrow field field (any
// type: lists, structs, maps, lists of structs, ..., and flat ones), as the next rows of every
// Parquet leaf column of the field. The definition and repetition levels of each leaf are
// computed here, as arrow-go's pqarrow.FileWriter computes them (its level builder is not
// exported), and each leaf's values and levels go to its column writer, which stays open across
// the row group's calls as AppendArrow's does: pages are compressed as they fill and held in
// memory until Close, page and chunk statistics are computed by arrow-go's column writers, as
// in pqarrow.FileWriter's files, but for the leaves below a list, which are fed in calls its
// statistics count right (writeLeaf) where pqarrow.FileWriter's can be wrong. A row is a record: every leaf of the field counts a.Len()
// more rows whatever the number of values its levels hold, so that Close's row-count check
// compares records.
//
// A flat field is AppendArrow of its column (dictionary arrays included); the leaves of a
// nested field are fed with AppendField only (AppendArrow refuses them). a is not retained. a's
// type must be the field's. An array refused before anything is encoded (a type that is not the
// field's, a NULL list with elements, a leaf fed with AppendPages in this row group) leaves the
// row group taking other calls; a failure while encoding leaves it refusing everything but
// Abort. A call of no rows encodes nothing.
func (g *RowGroup) AppendField(ctx context.Context, field int, a arrow.Array) error {
	first, n, err := g.w.FieldColumns(field)
	if err != nil {
		return err
	}
	f := g.w.arrow.Field(field)
	if n == 1 && len(g.w.schema.Column(first).ColumnPath()) == 1 {
		return g.AppendArrow(ctx, first, a)
	}
	if !arrow.TypeEqual(a.DataType(), f.Type) {
		return fmt.Errorf("pqfile: field %s: an array of %s, the field's type is %s", f.Name, a.DataType(), f.Type)
	}
	for col := first; col < first+n; col++ {
		if _, err := g.column(col, fedArrow); err != nil {
			return err
		}
	}
	if a.Len() == 0 {
		return nil
	}
	leaves, err := shred(a, f.Nullable)
	if err != nil {
		return fmt.Errorf("pqfile: field %s: levels of %d rows: %w", f.Name, a.Len(), err)
	}
	defer func() {
		for _, l := range leaves {
			l.values.Release()
		}
	}()
	if len(leaves) != n {
		return fmt.Errorf("pqfile: field %s: %d leaves in an array of %s, %d Parquet columns", f.Name, len(leaves), a.DataType(), n)
	}
	for k, l := range leaves {
		desc := g.w.schema.Column(first + k)
		if l.maxDef != desc.MaxDefinitionLevel() || l.maxRep != desc.MaxRepetitionLevel() {
			return fmt.Errorf("pqfile: field %s: leaf %d of %s with definition level %d and repetition level %d, column %s %d and %d",
				f.Name, k, a.DataType(), l.maxDef, l.maxRep, desc.Path(), desc.MaxDefinitionLevel(), desc.MaxRepetitionLevel())
		}
	}
	wctx := pqarrow.NewArrowWriteContext(ctx, nil)
	for k, l := range leaves {
		c := g.cols[first+k]
		if d, ok := l.values.(*array.Dictionary); ok {
			done, err := writeDictLeaf(ctx, c.cw, d, l.def, l.rep, l.nullable)
			if err != nil {
				return g.fail(fmt.Errorf("pqfile: column %s: encode %d rows of %s (%d levels): %w", c.desc.Path(), a.Len(), a.DataType(), l.levels, err))
			}
			if done {
				continue
			}
		}
		if err := writeLeaf(wctx, c.cw, l); err != nil {
			return g.fail(fmt.Errorf("pqfile: column %s: encode %d rows of %s (%d levels): %w", c.desc.Path(), a.Len(), a.DataType(), l.levels, err))
		}
	}
	for col := first; col < first+n; col++ {
		g.cols[col].rows += int64(a.Len())
	}
	return nil
}

// writeLeaf writes l's values and levels into cw with pqarrow.WriteArrowToColumn, a leaf below
// a list in calls that arrow-go's statistics count right. arrow-go (v18.8.0, the typed
// UpdateSpaced) takes a batch's non-NULL values to be its slots (levels with a value, or a NULL
// below the innermost list) less its levels without a value, which is wrong for a batch that
// also holds levels without a slot (NULL or empty lists, NULLs between lists): one holding as
// many values as such levels is left out of min and max (the chunk's range then misses values,
// and readers skipping by it lose rows), and one with no value but such levels gets the type's
// extremes reversed as min and max (min 2147483647, max -2147483648), which a page or chunk
// without values then claims. So each call is one arrow-go batch (WriteBatchSize levels) that
// count gets right, or else a run of levels all with a slot or all without one, the latter
// written with no values (writeNoValues). Where arrow-go's batches must start at a record
// (data page V2, page index), calls are runs cut at records, and a record of both kinds in a
// column with statistics is refused: its statistics would be wrong.
func writeLeaf(ctx context.Context, cw file.ColumnChunkWriter, l leafLevels) error {
	if l.maxRep == 0 || l.def == nil {
		return pqarrow.WriteArrowToColumn(ctx, cw, l.values, l.def, l.rep, l.nullable)
	}
	info := cw.LevelInfo()
	rad := info.RepeatedAncestorDefLevel
	props, path := cw.Properties(), cw.Descr().Path()
	aligned := props.DataPageVersion() != parquet.DataPageV1 || props.PageIndexEnabledFor(path)
	stats := props.StatisticsEnabledFor(path)
	batch := int(props.WriteBatchSize())
	slot := 0
	write := func(start, end, slots int) error {
		if slot+slots > l.values.Len() {
			return fmt.Errorf("levels %d-%d need %d values, %d are left", start, end-1, slots, l.values.Len()-slot)
		}
		var err error
		if slots == 0 {
			err = writeNoValues(cw, l.def[start:end], l.rep[start:end])
		} else {
			vals := array.NewSlice(l.values, int64(slot), int64(slot+slots))
			err = pqarrow.WriteArrowToColumn(ctx, cw, vals, l.def[start:end], l.rep[start:end], l.nullable)
			vals.Release()
		}
		slot += slots
		return err
	}
	for start := 0; start < len(l.def); {
		if !aligned {
			// One batch, if arrow-go counts its values right: those it counts are its values
			// less its levels without a slot, and a count of 0 skips min and max.
			end := min(start+batch, len(l.def))
			values, slots := 0, 0
			for _, d := range l.def[start:end] {
				if d >= rad {
					slots++
					if d == info.DefLevel {
						values++
					}
				}
			}
			if counted := values - (end - start - slots); (counted != 0) == (values != 0) {
				if err := write(start, end, slots); err != nil {
					return err
				}
				start = end
				continue
			}
		}
		slotted := l.def[start] >= rad
		end, mixed, slots := start, false, 0
		for end < len(l.def) && ((l.def[end] >= rad) == slotted || aligned && l.rep[end] != 0) {
			if l.def[end] >= rad {
				slots++
			}
			mixed = mixed || (l.def[end] >= rad) != slotted
			end++
		}
		if mixed && stats {
			return fmt.Errorf("a record of both values and NULL or empty lists below its first list, in pages that start at records: arrow-go's statistics of it would be wrong")
		}
		if err := write(start, end, slots); err != nil {
			return err
		}
		start = end
	}
	if slot != l.values.Len() {
		return fmt.Errorf("%d levels hold %d values, the leaf array %d", len(l.def), slot, l.values.Len())
	}
	return nil
}

// writeNoValues writes levels that hold no value into cw: NULLs, in its statistics too.
func writeNoValues(cw file.ColumnChunkWriter, def, rep []int16) error {
	var err error
	switch w := cw.(type) {
	case *file.BooleanColumnChunkWriter:
		_, err = w.WriteBatch(nil, def, rep)
	case *file.Int32ColumnChunkWriter:
		_, err = w.WriteBatch(nil, def, rep)
	case *file.Int64ColumnChunkWriter:
		_, err = w.WriteBatch(nil, def, rep)
	case *file.Int96ColumnChunkWriter:
		_, err = w.WriteBatch(nil, def, rep)
	case *file.Float32ColumnChunkWriter:
		_, err = w.WriteBatch(nil, def, rep)
	case *file.Float64ColumnChunkWriter:
		_, err = w.WriteBatch(nil, def, rep)
	case *file.ByteArrayColumnChunkWriter:
		_, err = w.WriteBatch(nil, def, rep)
	case *file.FixedLenByteArrayColumnChunkWriter:
		_, err = w.WriteBatch(nil, def, rep)
	default:
		return fmt.Errorf("NULLs into a column writer of %T", cw)
	}
	return err
}

// dictLeafEncoder is what arrow-go's dictionary encoders offer (parquet/internal/encoding's
// DictEncoder, not importable) that writeDictLeaf needs: the dictionary the chunk holds.
type dictLeafEncoder interface {
	PutDictionary(arrow.Array) error
	PreservedDictionary() arrow.Array
	NumEntries() int
}

// writeDictLeaf writes d's indices with their levels into cw, as pqarrow.WriteArrowToColumn
// would, when cw's chunk is dictionary-encoded and takes d's dictionary (a string or binary
// one: the chunk's first batch puts it, the others must carry the same), and says whether it
// did; otherwise (another dictionary, one with duplicate entries) the caller hands the batch to
// pqarrow, which writes it plain. The difference is the page statistics, those of the
// dictionary entries the indices use, found here by marking them. pqarrow hashes every index
// to find them (compute.UniqueArray) whenever a batch's dictionary is not the very array it
// preserved, which a slice's never is (each Dictionary() is a new array): 6% of the GPU
// writer's CPU on the wide table; and it counts NULL as one of them, so a batch with NULLs that
// uses all but one entry gets the statistics of every entry (arrow-go v18.8): a minimum or
// maximum no value of the row group has.
func writeDictLeaf(ctx context.Context, cw file.ColumnChunkWriter, d *array.Dictionary, def, rep []int16, nullable bool) (bool, error) {
	enc, ok := cw.CurrentEncoder().(dictLeafEncoder)
	e := cw.CurrentEncoder().Encoding()
	dict := d.Dictionary()
	if vt := dict.DataType().ID(); !ok || (e != parquet.Encodings.PlainDict && e != parquet.Encodings.RLEDict) ||
		d.Indices().DataType().ID() != arrow.INT32 || (vt != arrow.STRING && vt != arrow.BINARY) {
		return false, nil
	}
	switch preserved := enc.PreservedDictionary(); {
	case preserved == nil:
		if err := enc.PutDictionary(dict); err != nil {
			return false, fmt.Errorf("dictionary: %w", err)
		}
		if enc.NumEntries() != dict.Len() { // duplicate entries
			cw.FallbackToPlain()
			return false, nil
		}
	case !sameArray(preserved, dict) && !array.Equal(preserved, dict):
		return false, nil
	}
	// As pqarrow.WriteArrowToColumn: a bitmap for the validity of slots whose NULL may lie in
	// a parent.
	info := cw.LevelInfo()
	singleNullable := info.DefLevel == info.RepeatedAncestorDefLevel+1 && nullable
	if info.HasNullableValues() && !singleNullable && !cw.HasBitsBuffer() {
		buf := memory.NewResizableBuffer(cw.Properties().Allocator())
		buf.Resize(int(bitutil.BytesForBits(cw.Properties().WriteBatchSize())))
		cw.SetBitsBuffer(buf)
	}
	indices := d.Indices().(*array.Int32)
	if st := cw.PageStatistics(); st != nil {
		used := make([]bool, dict.Len())
		var idx []int32
		nulls := indices.NullN() > 0
		for i, k := range indices.Int32Values() {
			if nulls && indices.IsNull(i) {
				continue
			}
			if k < 0 || int(k) >= len(used) {
				return false, fmt.Errorf("dictionary index %d of %d entries", k, len(used))
			}
			if !used[k] {
				used[k] = true
				idx = append(idx, k)
			}
		}
		nonNull := indices.Len() - indices.NullN()
		st.IncNulls(int64(max(len(def)-nonNull, 0)))
		st.IncNumValues(int64(nonNull))
		ref := dict
		if len(idx) < dict.Len() {
			ia := array.NewInt32Data(array.NewData(arrow.PrimitiveTypes.Int32, len(idx),
				[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(idx))}, nil, 0, 0))
			defer ia.Release()
			taken, err := compute.TakeArrayOpts(ctx, dict, ia, compute.TakeOptions{BoundsCheck: false})
			if err != nil {
				return false, fmt.Errorf("the dictionary entries used: %w", err)
			}
			defer taken.Release()
			ref = taken
		}
		if err := st.UpdateFromArrow(ref, false); err != nil {
			return false, fmt.Errorf("statistics: %w", err)
		}
	}
	return true, cw.WriteDictIndices(indices, def, rep)
}

// leafLevels is one Parquet leaf column's share of a nested array: its definition levels (nil
// when the leaf has neither a nullable nor a repeated ancestor), repetition levels (nil without
// a list above it), and values: the slots of the leaf's Arrow array the levels account for (one
// per level whose value or NULL lies below the innermost list, or per row without a list),
// retained. nullable is the leaf's own nullability as pqarrow passes it to
// pqarrow.WriteArrowToColumn (false when the leaf array holds no NULL).
type leafLevels struct {
	def, rep       []int16
	levels         int
	values         arrow.Array
	nullable       bool
	maxDef, maxRep int16
}

// levelStep is one step of the path from a top-level array down to a leaf array.
type levelStep struct {
	nullable arrow.Array    // a nullable array: its NULLs end the path at the levels so far
	list     array.ListLike // a list: each element goes on, an empty list ends the path
	fixed    bool           // list is a fixed-size list (pqarrow's empty level for it differs)
}

// levelPath is a leaf's path and the array its values are in.
type levelPath struct {
	steps    []levelStep
	leaf     arrow.Array
	nullable bool // the leaf's field is nullable
}

// shred computes the levels of every leaf of a (a top-level field's array; nullable: the
// field's nullability), in Parquet's leaf order, as pqarrow's level builder does: the same
// levels, the same leaf slots, the same leaf nullability.
func shred(a arrow.Array, nullable bool) ([]leafLevels, error) {
	var paths []levelPath
	if err := levelPaths(a, nullable, nil, &paths); err != nil {
		return nil, err
	}
	out := make([]leafLevels, 0, len(paths))
	for _, p := range paths {
		l, err := p.levels(a.Len())
		if err != nil {
			for _, l := range out {
				l.values.Release()
			}
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// levelPaths appends the paths to the leaves of a, reached through steps, to paths, in depth
// first order (Parquet's). nullable says whether a's field is nullable.
func levelPaths(a arrow.Array, nullable bool, steps []levelStep, paths *[]levelPath) error {
	switch a.DataType().ID() {
	case arrow.LIST, arrow.LARGE_LIST, arrow.MAP, arrow.FIXED_SIZE_LIST:
		l := a.(array.ListLike)
		if nullable {
			steps = append(steps, levelStep{nullable: a})
		}
		steps = append(steps, levelStep{list: l, fixed: a.DataType().ID() == arrow.FIXED_SIZE_LIST})
		elem := a.DataType().(arrow.ListLikeType).ElemField()
		return levelPaths(l.ListValues(), elem.Nullable, steps, paths)
	case arrow.STRUCT:
		s := a.(*array.Struct)
		if nullable {
			steps = append(steps, levelStep{nullable: a})
		}
		for i, f := range s.DataType().(*arrow.StructType).Fields() {
			// Each child's path is its own copy of steps.
			if err := levelPaths(s.Field(i), f.Nullable, steps[:len(steps):len(steps)], paths); err != nil {
				return err
			}
		}
		return nil
	case arrow.EXTENSION:
		return levelPaths(a.(array.ExtensionArray).Storage(), nullable, steps, paths)
	case arrow.SPARSE_UNION, arrow.DENSE_UNION:
		return errors.New("union types have no Parquet type")
	}
	*paths = append(*paths, levelPath{steps: steps, leaf: a, nullable: nullable})
	return nil
}

// levels computes the path's levels over rows rows of the top-level array (Dremel's striping):
// every row, every element of its lists, ends with one level, at the leaf's value or NULL, at a
// NULL of a nullable ancestor, or at an empty list.
func (p levelPath) levels(rows int) (leafLevels, error) {
	l := leafLevels{nullable: p.nullable && p.leaf.NullN() > 0}
	lastList := -1
	reps := make([]int16, len(p.steps))
	for i, s := range p.steps {
		l.maxDef++
		if s.list != nil {
			l.maxRep++
			reps[i], lastList = l.maxRep, i
		}
	}
	if p.nullable {
		l.maxDef++
	}
	w := levelWalk{p: p, reps: reps, lastList: lastList, leafNulls: p.leaf.NullN() > 0, first: -1}
	if p.nullable {
		w.leafDef = 1
	}
	size := p.maxLevels(rows)
	if l.maxDef > 0 {
		w.def = make([]int16, 0, size)
	}
	if l.maxRep > 0 {
		w.rep = make([]int16, 0, size)
	}
	for i := 0; i < rows; i++ {
		w.walk(0, i, 0, 0)
		if w.gap {
			return leafLevels{}, fmt.Errorf("rows up to %d: a NULL list with elements, or a NULL entry of a fixed-size list (pqarrow writes neither)", i)
		}
	}
	l.def, l.rep, l.levels = w.def, w.rep, w.n
	if w.first < 0 {
		w.first, w.next = 0, 0
	}
	l.values = array.NewSlice(p.leaf, int64(w.first), int64(w.next))
	return l, nil
}

// maxLevels bounds the number of levels of rows rows: a level per row, per element of each list
// (the elements of the lists of rows, elements of the lists of those elements, ...; an element
// ends with one level or has elements of its own).
func (p levelPath) maxLevels(rows int) int {
	n, lo, hi := rows, 0, rows
	for _, s := range p.steps {
		if s.list == nil || lo == hi {
			continue
		}
		start, _ := s.list.ValueOffsets(lo)
		_, end := s.list.ValueOffsets(hi - 1)
		lo, hi = int(start), int(end)
		n += hi - lo
	}
	return n
}

// levelWalk is levels' state: the levels so far and the leaf slots they cover, first to next
// (contiguous: gap says they were not).
type levelWalk struct {
	p           levelPath
	reps        []int16 // per list step: the repetition level of its elements after the first
	lastList    int
	leafNulls   bool  // the leaf array holds NULLs
	leafDef     int16 // the definition level a leaf value adds: 1 for a nullable leaf
	def, rep    []int16
	n           int
	first, next int
	gap         bool
}

// walk goes down from step k at index i of the step's array, the levels so far def and rep.
func (w *levelWalk) walk(k, i int, def, rep int16) {
	for ; k < len(w.p.steps); k++ {
		s := w.p.steps[k]
		if s.list == nil {
			if s.nullable.IsNull(i) {
				// Below the innermost list the NULL holds the leaf's slot i (struct children
				// are indexed as their parent).
				w.emit(def, rep, k > w.lastList, i)
				return
			}
			def++
			continue
		}
		start, end := s.list.ValueOffsets(i)
		if start == end {
			empty := def
			if s.fixed {
				empty++ // as pqarrow
			}
			w.emit(empty, rep, false, 0)
			return
		}
		if k == len(w.p.steps)-1 {
			w.leafRun(int(start), int(end), def+1, rep, w.reps[k])
			return
		}
		for j := start; j < end; j++ {
			w.walk(k+1, int(j), def+1, rep)
			rep = w.reps[k]
		}
		return
	}
	if w.p.nullable && w.p.leaf.IsNull(i) {
		w.emit(def, rep, true, i)
		return
	}
	if w.p.nullable {
		def++
	}
	w.emit(def, rep, true, i)
}

// leafRun is walk's for the elements start to end of a list right above the leaf (an array
// of a primitive type, the common case), at once: the first element's repetition level rep,
// the others' next.
func (w *levelWalk) leafRun(start, end int, def, rep, next int16) {
	if w.p.nullable && w.leafNulls {
		valid, off := w.p.leaf.NullBitmapBytes(), w.p.leaf.Data().Offset()
		for j := start; j < end; j++ {
			d := def
			if bitutil.BitIsSet(valid, off+j) {
				d++
			}
			w.def = append(w.def, d)
			w.rep = append(w.rep, rep)
			rep = next
		}
	} else {
		for j := start; j < end; j++ {
			w.def = append(w.def, def+w.leafDef)
			w.rep = append(w.rep, rep)
			rep = next
		}
	}
	w.n += end - start
	switch {
	case w.first < 0:
		w.first, w.next = start, end
	case start == w.next:
		w.next = end
	default:
		w.gap = true
	}
}

// emit records one level, and, with slot, the leaf slot i it covers.
func (w *levelWalk) emit(def, rep int16, slot bool, i int) {
	if w.def != nil {
		w.def = append(w.def, def)
	}
	if w.rep != nil {
		w.rep = append(w.rep, rep)
	}
	w.n++
	if !slot {
		return
	}
	switch {
	case w.first < 0:
		w.first, w.next = i, i+1
	case i == w.next:
		w.next++
	default:
		w.gap = true
	}
}

// storedSchema is sc as pqarrow's FileWriter stores it in ARROW:schema: each list's element
// field named "element", as the Parquet schema's list groups name it (arrow.ListOf's is
// "item"), so that readers that map the stored fields to Parquet paths find them.
func storedSchema(sc *arrow.Schema) (*arrow.Schema, error) {
	fields := make([]arrow.Field, sc.NumFields())
	for i, f := range sc.Fields() {
		nf, err := storedField(f)
		if err != nil {
			return nil, err
		}
		fields[i] = nf
	}
	meta := sc.Metadata()
	return arrow.NewSchema(fields, &meta), nil
}

// storedField is storedSchema's for one field, pqarrow's normalizeFieldForParquet (not
// exported).
func storedField(f arrow.Field) (arrow.Field, error) {
	elem := func(e arrow.Field) (arrow.Field, error) {
		e, err := storedField(e)
		e.Name = "element"
		return e, err
	}
	switch dt := f.Type.(type) {
	case *arrow.ListType:
		e, err := elem(dt.ElemField())
		return arrow.Field{Name: f.Name, Type: arrow.ListOfField(e), Nullable: f.Nullable, Metadata: f.Metadata}, err
	case *arrow.LargeListType:
		e, err := elem(dt.ElemField())
		return arrow.Field{Name: f.Name, Type: arrow.LargeListOfField(e), Nullable: f.Nullable, Metadata: f.Metadata}, err
	case *arrow.FixedSizeListType:
		e, err := elem(dt.ElemField())
		return arrow.Field{Name: f.Name, Type: arrow.FixedSizeListOfField(dt.Len(), e), Nullable: f.Nullable, Metadata: f.Metadata}, err
	case *arrow.StructType:
		fields := make([]arrow.Field, dt.NumFields())
		for i := range fields {
			nf, err := storedField(dt.Field(i))
			if err != nil {
				return arrow.Field{}, err
			}
			fields[i] = nf
		}
		return arrow.Field{Name: f.Name, Type: arrow.StructOf(fields...), Nullable: f.Nullable, Metadata: f.Metadata}, nil
	case *arrow.MapType:
		key, err := storedField(dt.KeyField())
		if err != nil {
			return arrow.Field{}, err
		}
		item, err := storedField(dt.ItemField())
		return arrow.Field{Name: f.Name, Type: arrow.MapOfFields(key, item), Nullable: f.Nullable, Metadata: f.Metadata}, err
	case *arrow.RunEndEncodedType, *arrow.ListViewType, *arrow.LargeListViewType:
		return arrow.Field{}, fmt.Errorf("field %s: %s has no Parquet type", f.Name, f.Type)
	}
	return f, nil
}
