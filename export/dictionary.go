package export

import (
	"bytes"
	"cmp"
	"hash/maphash"
	"slices"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Dictionary encoding of string columns, done here rather than by the Parquet writer.
//
// Given plain string arrays, arrow-go's dictionary encoder hashes every value through an
// interface-typed memo table that allocates once per value: on a lineorder export that was the
// largest encode cost after compression, and the garbage it made cost as much again in GC.
// Given dictionary arrays, the writer instead puts the dictionary into the column chunk once
// and writes our int32 indices as they are, as long as every batch of the chunk (row group)
// carries the same dictionary. So each lane keeps, per string column, one dictionary that only
// grows (a Go map from value to index, no allocation per lookup), and turns each batch into
// indices into it, where pqfile writes the files (initDicts says why only there: arrow-go's
// FileWriter gets the values, the lane only judging by the first batch whether they repeat
// enough for a dictionary). A one-dimensional list of strings (text[]) is the same for its
// elements: the writer gets a list of
// dictionary arrays, and writes their indices with the list's levels (on bench/load's wide
// table its text[] column's elements were hashed one by one, 16% of the GPU writer's CPU
// profile, bench/results/gpuhost-h200-2026-11-30-s11i). Row groups end between batches, and a
// batch that brings new values into a row group that has rows starts a new one.
//
// The lane stops encoding a column itself (settle) when its values barely repeat (a file's
// first batch is half new values, the dictionary outgrows its bounds, or new values keep
// cutting row groups short), or when it holds an empty string: arrow-go (v18.8) computes a
// dictionary column's min/max statistics from the dictionary and skips empty values there, so
// the written minimum would be wrong (readers prune row groups by it); its own encoder, which
// then takes the column, gets it right. A column that stops being a dictionary changes type in
// the Parquet writer's schema, so the lane starts a new file; columns of diverse values are not
// dictionary-encoded by the writer either.

const (
	// dictMaxBytes and dictMaxEntries bound a lane's dictionary of one column, as the Parquet
	// writer bounds its dictionary page (1 MiB by default): past them the column's values are
	// too diverse for dictionary encoding to pay, and the lane writes it plain from then on.
	dictMaxBytes   = hugeValueBytes
	dictMaxEntries = 1 << 16
	// dictMaxShortCuts is how many row groups new values may cut below a quarter of the row
	// group size before the lane writes the column plain.
	dictMaxShortCuts = 4
)

// dictEligible says whether a column of type t is dictionary-encoded here: plain strings and
// binaries, and lists of them (text[], bytea[]: the lane's dictionary holds their elements).
// Extension types such as JSON, and enums, which are dictionaries already, are left to the
// writer.
func dictEligible(t arrow.DataType) bool {
	if l, ok := t.(*arrow.ListType); ok {
		t = l.Elem()
	}
	return t.ID() == arrow.STRING || t.ID() == arrow.BINARY
}

// stringDict is one lane's dictionary of one string column, or of the elements of one list of
// strings column. It is used by one goroutine.
type stringDict struct {
	dtype     *arrow.DictionaryType // int32 indices into values of the column's (its elements') type
	list      *arrow.ListType       // a list column: its type with dtype elements; nil for strings
	memo      map[string]int32
	order     []string // values by index (the memo's keys)
	bytes     int
	dict      arrow.Array // order as an array; nil when stale
	empty     bool        // an empty value was seen
	shortCuts int
	// diverse: values barely repeat; the writer should not dictionary-encode them either.
	diverse bool
	// off: the lane no longer dictionary-encodes this column itself.
	off bool
	// judgeOnly: arrow-go's FileWriter writes the lane's files, whose statistics of dictionary
	// arrays are not exact; the lane only judges the column by its first batch (diverse or not)
	// and leaves the encoding to the writer.
	judgeOnly bool
	// next: the current batch's rows of this column grouped by value on the engine
	// (groupDicts), used by indices for that batch instead of a map lookup per row.
	next *batchGroups
}

// batchGroups is one batch of a column grouped by value (uniquer): ids[row] the row's group
// (-1 for NULL), firsts[g] the first row of group g.
type batchGroups struct {
	arr    arrow.Array
	ids    []int32
	firsts []int32
}

// uniquer groups the rows of a batch's string and binary columns by value: the GPU
// (device.PageEncoder.Uniques), or cpuUniquer. ids[i] nil: column i is left to the lane's
// own lookups.
type uniquer interface {
	Uniques(cols []arrow.Array) (ids, firsts [][]int32)
}

// stringValues returns the value of each row of a, a string or binary array, as a string (nil
// for other arrays).
func stringValues(a arrow.Array) func(row int) string {
	switch a := a.(type) {
	case *array.String:
		return a.Value
	case *array.Binary:
		return func(row int) string { return string(a.Value(row)) }
	}
	return nil
}

// cpuUniquer is the CPU twin of the GPU's grouping ($PGPARQUET_PAGE_WRITER=cpu, and the CPU
// path): groups numbered by first occurrence.
type cpuUniquer struct{}

func (cpuUniquer) Uniques(cols []arrow.Array) (ids, firsts [][]int32) {
	ids, firsts = make([][]int32, len(cols)), make([][]int32, len(cols))
	for i, a := range cols {
		if v, ok := a.(byteArray); ok {
			ids[i], firsts[i] = groupRows(a, v)
		}
	}
	return ids, firsts
}

// byteArray is a string or binary array's values: value i is ValueBytes()[offs[i]-offs[0] :
// offs[i+1]-offs[0]] of offs = ValueOffsets().
type byteArray interface {
	ValueOffsets() []int32
	ValueBytes() []byte
}

// groupSeed is the hash seed of groupRows's tables.
var groupSeed = maphash.MakeSeed()

// groupSlots holds groupRows's tables, each used by one call at a time.
var groupSlots = sync.Pool{New: func() any { return new([]int32) }}

// groupRows groups the rows of a, a string or binary array (v its values), by value, as the
// GPU does: an open-addressing table of at least twice the rows, each slot the group (plus
// one) of the first row that reached it, a row compared byte for byte with its slot's group's
// first row. ids[row] is the row's group (-1 for NULL), firsts[g] group g's first row; groups
// are numbered in the order of their first rows. It takes about a third of the CPU of a Go
// map from value to group (BenchmarkCPUUniquer: 9.5 against 25 ns a row at 7 values, 17
// against 60 at 20,000), which was 4-10% of the CPU path's CPU on bench/load's wide table.
func groupRows(a arrow.Array, v byteArray) (ids, firsts []int32) {
	n := a.Len()
	ids = make([]int32, n)
	if n == 0 {
		return ids, nil
	}
	offs, data := v.ValueOffsets(), v.ValueBytes()
	base := offs[0] // ValueBytes starts at the first value
	value := func(row int32) []byte { return data[offs[row]-base : offs[row+1]-base] }
	size := 16
	for size < 2*n {
		size <<= 1
	}
	mask := uint64(size - 1)
	tp := groupSlots.Get().(*[]int32)
	defer groupSlots.Put(tp)
	if cap(*tp) < size {
		*tp = make([]int32, size)
	}
	slots := (*tp)[:size]
	clear(slots)
	nulls := a.NullN() > 0
	for row := range int32(n) {
		if nulls && a.IsNull(int(row)) {
			ids[row] = -1
			continue
		}
		val := value(row)
		for i := maphash.Bytes(groupSeed, val) & mask; ; i = (i + 1) & mask {
			g := slots[i] - 1
			if g < 0 {
				g = int32(len(firsts))
				firsts = append(firsts, row)
				slots[i] = g + 1
				ids[row] = g
				break
			}
			if bytes.Equal(value(firsts[g]), val) {
				ids[row] = g
				break
			}
		}
	}
	return ids, firsts
}

func newStringDict(t arrow.DataType) *stringDict {
	d := &stringDict{memo: make(map[string]int32)}
	if l, ok := t.(*arrow.ListType); ok {
		d.dtype = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: l.Elem()}
		e := l.ElemField()
		e.Type = d.dtype
		d.list = arrow.ListOfField(e)
	} else {
		d.dtype = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: t}
	}
	return d
}

// fileType is the column's type in a file that dictionary-encodes it: the dictionary type, or
// for a list column the list of it.
func (d *stringDict) fileType() arrow.DataType {
	if d.list != nil {
		return d.list
	}
	return d.dtype
}

// values is what the dictionary indexes of arr, a batch's column: arr itself, or the elements
// of a list column (all of them: a slice of the list indexes its elements where the whole
// array does).
func (d *stringDict) values(arr arrow.Array) arrow.Array {
	if d.list != nil {
		return arr.(*array.List).ListValues()
	}
	return arr
}

// indices maps arr's values to dictionary indices (0 for NULLs), adding new values, and says
// how many values were new.
func (d *stringDict) indices(mem memory.Allocator, arr arrow.Array) (*memory.Buffer, int) {
	if g := d.next; g != nil && g.arr == arr {
		d.next = nil
		return d.indicesFromGroups(mem, arr, g)
	}
	n := arr.Len()
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(4 * n)
	idx := arrow.GetData[int32](buf.Bytes())
	if n == 0 {
		return buf, 0
	}
	// *array.String and *array.Binary, the types dictEligible admits.
	a := arr.(interface {
		ValueOffsets() []int32
		ValueBytes() []byte
	})
	offs, data := a.ValueOffsets(), a.ValueBytes()
	base := offs[0] // ValueBytes starts at the first value
	before := len(d.order)
	var prev []byte
	prevIdx := int32(-1)
	nulls := arr.NullN() > 0
	for i := range n {
		if nulls && arr.IsNull(i) {
			idx[i] = 0
			continue
		}
		v := data[offs[i]-base : offs[i+1]-base]
		if prevIdx >= 0 && bytes.Equal(v, prev) {
			idx[i] = prevIdx
			continue
		}
		k := d.index(v)
		idx[i], prev, prevIdx = k, v, k
	}
	return buf, len(d.order) - before
}

// index is v's index in the dictionary, where it is added if new.
func (d *stringDict) index(v []byte) int32 {
	k, ok := d.memo[string(v)]
	if !ok {
		k = int32(len(d.order))
		s := string(v)
		d.memo[s] = k
		d.order = append(d.order, s)
		d.bytes += len(v)
		d.empty = d.empty || len(v) == 0 // each value is new once
		d.release()
	}
	return k
}

// indicesFromGroups is indices for a batch whose rows the engine grouped by value: one map
// lookup per group, taken in the order of their first rows, so new values enter the
// dictionary in the same order (and get the same indices) as indices gives them.
func (d *stringDict) indicesFromGroups(mem memory.Allocator, arr arrow.Array, g *batchGroups) (*memory.Buffer, int) {
	n := arr.Len()
	buf := memory.NewResizableBuffer(mem)
	buf.Resize(4 * n)
	idx := arrow.GetData[int32](buf.Bytes())
	a := arr.(interface {
		ValueOffsets() []int32
		ValueBytes() []byte
	})
	offs, data := a.ValueOffsets(), a.ValueBytes()
	base := offs[0]
	order := make([]int32, len(g.firsts))
	for k := range order {
		order[k] = int32(k)
	}
	slices.SortFunc(order, func(x, y int32) int { return cmp.Compare(g.firsts[x], g.firsts[y]) })
	global := make([]int32, len(g.firsts))
	before := len(d.order)
	for _, k := range order {
		row := g.firsts[k]
		v := data[offs[row]-base : offs[row+1]-base]
		global[k] = d.index(v)
	}
	for i, k := range g.ids {
		if k < 0 {
			idx[i] = 0
			continue
		}
		idx[i] = global[k]
	}
	return buf, len(d.order) - before
}

// settle turns the lane's own dictionary encoding of the column off for good when it no
// longer pays or would give wrong statistics, and says whether it did so now.
func (d *stringDict) settle() bool {
	if d.off {
		return false
	}
	if d.bytes > dictMaxBytes || len(d.order) > dictMaxEntries {
		d.diverse = true
	}
	if !d.diverse && !d.empty && !d.judgeOnly {
		return false
	}
	d.off = true
	d.memo, d.order, d.bytes = nil, nil, 0
	d.release()
	return true
}

// dictionary returns the current dictionary as an array (the caller does not release it).
func (d *stringDict) dictionary(mem memory.Allocator) arrow.Array {
	if d.dict == nil {
		offs := memory.NewResizableBuffer(mem)
		offs.Resize(4 * (len(d.order) + 1))
		vals := memory.NewResizableBuffer(mem)
		vals.Resize(d.bytes)
		o, v := arrow.GetData[int32](offs.Bytes()), vals.Bytes()
		at := 0
		for i, s := range d.order {
			o[i] = int32(at)
			at += copy(v[at:], s)
		}
		o[len(d.order)] = int32(at)
		data := array.NewData(d.dtype.ValueType, len(d.order), []*memory.Buffer{nil, offs, vals}, nil, 0, 0)
		d.dict = array.MakeFromData(data)
		data.Release()
		offs.Release()
		vals.Release()
	}
	return d.dict
}

func (d *stringDict) release() {
	if d.dict != nil {
		d.dict.Release()
		d.dict = nil
	}
}

// encode turns arr into an array of the column's fileType over the current dictionary, and
// says how many values arr added to it and how many non-NULL values it indexed.
func (d *stringDict) encode(mem memory.Allocator, arr arrow.Array) (out arrow.Array, added, values int) {
	if d.list == nil {
		out, added = d.encodeValues(mem, arr)
		return out, added, arr.Len() - arr.NullN()
	}
	elems := d.values(arr)
	dictElems, added := d.encodeValues(mem, elems)
	defer dictElems.Release()
	ld := arr.Data()
	data := array.NewData(d.list, ld.Len(), ld.Buffers(), []arrow.ArrayData{dictElems.Data()}, ld.NullN(), ld.Offset())
	defer data.Release()
	return array.MakeFromData(data), added, elems.Len() - elems.NullN()
}

// encodeValues turns arr, strings or binaries, into a dictionary array over the current
// dictionary and says how many values arr added to it.
func (d *stringDict) encodeValues(mem memory.Allocator, arr arrow.Array) (out arrow.Array, added int) {
	idx, added := d.indices(mem, arr)
	defer idx.Release()
	dict := d.dictionary(mem)
	var validity *memory.Buffer
	if arr.NullN() > 0 {
		validity = arr.Data().Buffers()[0]
		if off := arr.Data().Offset(); off != 0 {
			bits := make([]byte, bitutil.BytesForBits(int64(arr.Len())))
			bitutil.CopyBitmap(validity.Bytes(), off, arr.Len(), bits, 0)
			validity = memory.NewBufferBytes(bits)
		}
	}
	data := array.NewDataWithDictionary(d.dtype, arr.Len(), []*memory.Buffer{validity, idx}, arr.NullN(), 0, dict.Data().(*array.Data))
	defer data.Release()
	return array.MakeFromData(data), added
}
