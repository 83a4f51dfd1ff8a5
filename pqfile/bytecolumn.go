package pqfile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// ByteColumn gathers a flat string or binary column (a BYTE_ARRAY column: strings, binaries,
// and extension types stored as either, such as JSON), or a fixed-size binary one (a
// FIXED_LEN_BYTE_ARRAY column: uuid), into PLAIN data pages, batch by batch, for a column the
// Parquet writer would not dictionary-encode: arrow-go's byte-array writers spend most of
// their time there on statistics through interfaces, zeroed buffers and a page compressed at
// a time (its FIXED_LEN_BYTE_ARRAY writer took 0.15 CPU-s per GB of the wide table's COPY for
// one uuid column, H200); ByteColumn writes each value once (a BYTE_ARRAY's 4-byte
// little-endian length, then its bytes), computes the page's exact statistics as it goes (min
// and max byte-wise, unsigned, an empty value included; NULL count), and its pages are
// compressed with the others (RowGroup.AppendPages).
//
// Pages are cut between batches, before the batch that would take the page past pageBytes (a
// batch of more is a page of its own), by Append as by AppendFragment: the GPU writer's pages
// and its CPU twin's hold the same rows. A page cut so waits in the column until Take.
//
// Buffers: a page's values are gathered in chunks of ChunkBytes from a pool (a value may
// straddle two): Go memory shared by every ByteColumn of the process, or the caller's
// (SetChunkPool). Take hands them over with the page (RawPage.Data and Parts, no copy) and
// Recycle gives them back to the pool once the page is compressed. A column so holds the
// chunks its page being gathered fills and those of its pages under way in compression, rather than a page-sized buffer for each and a spare: on
// bench/load's wide table (6 such columns; 3M rows, 16 lanes, GOMAXPROCS=16 on the 2-core VM)
// page buffers and spares were 190-260 MB of the CPU path's 0.92-1.0 GB of live heap at its
// peak (pages cut after the batch that filled them, as until session 15, took buffers of up to
// 1.75 MiB for pages of 1 MiB); with chunks the peak was 0.80-0.83 GB, peak RSS 1.10-1.18 GiB
// against 1.23-1.30, at the same CPU and Parquet size. A ByteColumn is used by one goroutine.
type ByteColumn struct {
	nullable  bool
	pageBytes int
	stats     bool     // min and max are computed
	maxStats  int      // a min or max longer than this is left out, as arrow-go leaves it out
	parts     [][]byte // the page's full chunks
	partBytes int      // their bytes
	cur       []byte   // the chunk being filled (nil: none yet)
	valid     []byte   // validity bits of the page's rows (nullable columns)
	rows      int
	nulls     int64
	hasMinMax bool
	min, max  []byte    // copies
	ready     []RawPage // pages cut and not yet taken, oldest first
	// readyRows and readyBytes are the rows and values of ready.
	readyRows, readyBytes int
	pool                  ChunkPool // goChunks unless SetChunkPool gave another
}

// NewByteColumn returns an empty column whose pages hold at most pageBytes of values (see
// ByteColumn); stats: pages carry min and max (NULL counts always), left out when longer than
// maxStats bytes (the writer properties' MaxStatsSizeFor; 0: no bound).
func NewByteColumn(nullable bool, pageBytes int, stats bool, maxStats int) *ByteColumn {
	return &ByteColumn{nullable: nullable, pageBytes: pageBytes, stats: stats, maxStats: maxStats, pool: goChunks{}}
}

// EncodesBytes says whether ByteColumn takes arrays of Arrow type t: strings, binaries, and
// extension types stored as either.
func EncodesBytes(t arrow.DataType) bool {
	if e, ok := t.(arrow.ExtensionType); ok {
		t = e.StorageType()
	}
	return t.ID() == arrow.STRING || t.ID() == arrow.BINARY
}

// EncodesFixedBytes says whether ByteColumn takes arrays of Arrow type t as a
// FIXED_LEN_BYTE_ARRAY column: fixed-size binaries, and extension types stored as them (uuid).
// Their statistics are byte-wise, unsigned: Parquet's order for FIXED_LEN_BYTE_ARRAY without a
// signed logical type (UUID's included).
func EncodesFixedBytes(t arrow.DataType) bool {
	if e, ok := t.(arrow.ExtensionType); ok {
		t = e.StorageType()
	}
	return t.ID() == arrow.FIXED_SIZE_BINARY
}

// Append adds a's rows (EncodesBytes or EncodesFixedBytes, the column's one type: any
// offset; its values are copied).
func (c *ByteColumn) Append(a arrow.Array) error {
	if e, ok := a.(array.ExtensionArray); ok {
		a = e.Storage()
	}
	var offs []int32
	var data []byte
	var fixed *array.FixedSizeBinary
	switch a := a.(type) {
	case *array.String:
		offs, data = a.ValueOffsets(), a.ValueBytes()
	case *array.Binary:
		offs, data = a.ValueOffsets(), a.ValueBytes()
	case *array.FixedSizeBinary:
		fixed = a
	default:
		return fmt.Errorf("pqfile: a byte-array column of %s", a.DataType())
	}
	n := a.Len()
	nulls := a.NullN()
	if nulls > 0 && !c.nullable {
		return fmt.Errorf("pqfile: %d NULLs in a required column", nulls)
	}
	if n == 0 {
		return nil
	}
	var bits []byte
	var off int
	if nulls > 0 {
		bits, off = a.NullBitmapBytes(), a.Data().Offset()
	}
	var base int32
	prefix := 0
	if fixed == nil { // BYTE_ARRAY: each value's 4-byte length, then its bytes
		base, prefix = offs[0], 4
	} // FIXED_LEN_BYTE_ARRAY: the values back to back
	if size := c.partBytes + len(c.cur); size > 0 {
		if room := c.pageBytes - size; fragmentBytes(fixed, offs, bits, off, n, nulls, room) > room {
			c.cut()
		}
	}
	if fixed != nil && nulls == 0 {
		c.appendFixed(fixed, n)
		return nil
	}
	out := c.cur
	for i := range n {
		if bits != nil && !bitutil.BitIsSet(bits, off+i) {
			continue
		}
		var v []byte
		if fixed != nil {
			v = fixed.Value(i)
		} else {
			v = data[offs[i]-base : offs[i+1]-base]
		}
		if k := len(out); k+prefix+len(v) <= cap(out) { // room checked: no append's
			out = out[:k+prefix+len(v)]
			if prefix > 0 {
				binary.LittleEndian.PutUint32(out[k:], uint32(len(v)))
			}
			copy(out[k+prefix:], v)
		} else { // into the next chunks
			c.cur = out
			if prefix > 0 {
				var l [4]byte
				binary.LittleEndian.PutUint32(l[:], uint32(len(v)))
				c.write(l[:])
			}
			c.write(v)
			out = c.cur
		}
		if c.stats {
			switch {
			case !c.hasMinMax:
				c.min, c.max, c.hasMinMax = append(c.min[:0], v...), append(c.max[:0], v...), true
			case bytes.Compare(v, c.min) < 0:
				c.min = append(c.min[:0], v...)
			case bytes.Compare(v, c.max) > 0:
				c.max = append(c.max[:0], v...)
			}
		}
	}
	c.cur = out
	c.appended(bits, off, n, nulls)
	return nil
}

// appendFixed is Append of n rows of fixed without NULLs (uuids, as a rule): their values back
// to back in one copy, and their least and greatest found in one pass (16-byte values, a
// uuid's, compared as two big-endian words) before the page's are updated once.
func (c *ByteColumn) appendFixed(fixed *array.FixedSizeBinary, n int) {
	w := fixed.DataType().(*arrow.FixedSizeBinaryType).ByteWidth
	start := fixed.Data().Offset() * w
	all := fixed.Data().Buffers()[1].Bytes()[start : start+n*w]
	c.write(all)
	if c.stats && w > 0 {
		lo, hi := all[:w], all[:w]
		if w == 16 {
			lo1, lo2 := binary.BigEndian.Uint64(lo), binary.BigEndian.Uint64(lo[8:])
			hi1, hi2 := lo1, lo2
			for i := 16; i < len(all); i += 16 {
				v1, v2 := binary.BigEndian.Uint64(all[i:]), binary.BigEndian.Uint64(all[i+8:])
				if v1 < lo1 || v1 == lo1 && v2 < lo2 {
					lo1, lo2, lo = v1, v2, all[i:i+16]
				} else if v1 > hi1 || v1 == hi1 && v2 > hi2 {
					hi1, hi2, hi = v1, v2, all[i:i+16]
				}
			}
		} else {
			for i := w; i < len(all); i += w {
				if v := all[i : i+w]; bytes.Compare(v, lo) < 0 {
					lo = v
				} else if bytes.Compare(v, hi) > 0 {
					hi = v
				}
			}
		}
		switch {
		case !c.hasMinMax:
			c.min, c.max, c.hasMinMax = append(c.min[:0], lo...), append(c.max[:0], hi...), true
		default:
			if bytes.Compare(lo, c.min) < 0 {
				c.min = append(c.min[:0], lo...)
			}
			if bytes.Compare(hi, c.max) > 0 {
				c.max = append(c.max[:0], hi...)
			}
		}
	}
	c.appended(nil, 0, n, 0)
}

// fragmentBytes is the bytes Append writes for the n rows of a batch (fixed, or offs with
// validity bits from bit off, nil without NULLs), as AppendFragment's fragment holds them, or
// more when both pass room: a NULL's slot may have bytes, which are not written, and are only
// counted where it matters.
func fragmentBytes(fixed *array.FixedSizeBinary, offs []int32, bits []byte, off, n, nulls, room int) int {
	if fixed != nil {
		return fixed.DataType().(*arrow.FixedSizeBinaryType).ByteWidth * (n - nulls)
	}
	size := 4*(n-nulls) + int(offs[n]-offs[0])
	for i := 0; nulls > 0 && size > room && i < n; i++ {
		if !bitutil.BitIsSet(bits, off+i) {
			size -= int(offs[i+1] - offs[i])
		}
	}
	return size
}

// write appends b to the page's values, in the chunk being filled and in new ones from the
// pool as it fills.
func (c *ByteColumn) write(b []byte) {
	for len(b) > 0 {
		if len(c.cur) == cap(c.cur) {
			if c.cur != nil {
				c.parts = append(c.parts, c.cur)
				c.partBytes += len(c.cur)
			}
			c.cur = c.pool.Get()
		}
		k := copy(c.cur[len(c.cur):cap(c.cur)], b)
		c.cur, b = c.cur[:len(c.cur)+k], b[k:]
	}
}

// statsFit says whether min and max are short enough to keep: at most maxStats bytes each (the
// writer properties' MaxStatsSizeFor; 0: no bound), as arrow-go keeps them.
func statsFit(maxStats int, min, max []byte) bool {
	return maxStats <= 0 || len(min) <= maxStats && len(max) <= maxStats
}

// ChunkBytes is the size of the chunks ByteColumn gathers its pages' values in.
const ChunkBytes = 64 << 10

// ChunkPool is where a ByteColumn's chunks come from and go back to (SetChunkPool): memory of
// the caller's, such as pinned memory that the GPU's compression copies pages from at full
// speed (device.PageEncoder.ChunkPool). Implementations are safe for concurrent use.
type ChunkPool interface {
	// Get returns an empty chunk of capacity ChunkBytes.
	Get() []byte
	// Put gives back a chunk Get returned (any length) that nobody reads any more.
	Put(b []byte)
}

// goChunks is the ChunkPool of Go memory every ByteColumn shares unless given another: a
// sync.Pool, which lets the garbage collector take chunks nobody has used for a while.
type goChunks struct{}

var goChunkPool = sync.Pool{New: func() any { return new([ChunkBytes]byte) }}

func (goChunks) Get() []byte  { return goChunkPool.Get().(*[ChunkBytes]byte)[:0] }
func (goChunks) Put(b []byte) { goChunkPool.Put((*[ChunkBytes]byte)(b[:ChunkBytes])) }

// SetChunkPool makes the column take its chunks from p instead of Go memory. Call it before
// the first Append; the chunks of the pages taken and recycled then go back to p.
func (c *ByteColumn) SetChunkPool(p ChunkPool) { c.pool = p }

// appended counts n rows whose values were written to the page: their validity (bits from bit off; nil:
// no NULLs) and NULLs.
func (c *ByteColumn) appended(bits []byte, off, n, nulls int) {
	if c.nullable {
		if k := (c.rows+n+7)/8 - len(c.valid); k > 0 {
			c.valid = append(c.valid, make([]byte, k)...)
		}
		if bits == nil {
			bitutil.SetBitsTo(c.valid, int64(c.rows), int64(n), true)
		} else {
			bitutil.CopyBitmap(bits, off, n, c.valid, c.rows)
		}
	}
	c.rows += n
	c.nulls += int64(nulls)
}

// AppendFragment is Append for a (strings or binaries: a BYTE_ARRAY column) whose non-NULL
// values someone else wrote PLAIN, as Append writes them, into frag, and whose smallest and
// largest values (byte-wise) are min and max (unused when every row is NULL): the GPU, with
// the batch's decoding. frag, min and max are copied.
func (c *ByteColumn) AppendFragment(a arrow.Array, frag, min, max []byte) error {
	n, nulls := a.Len(), a.NullN()
	if nulls > 0 && !c.nullable {
		return fmt.Errorf("pqfile: %d NULLs in a required column", nulls)
	}
	if n == 0 {
		return nil
	}
	if size := c.partBytes + len(c.cur); size > 0 && size+len(frag) > c.pageBytes {
		c.cut()
	}
	c.write(frag)
	if c.stats && nulls < n {
		if !c.hasMinMax || bytes.Compare(min, c.min) < 0 {
			c.min = append(c.min[:0], min...)
		}
		if !c.hasMinMax || bytes.Compare(max, c.max) > 0 {
			c.max = append(c.max[:0], max...)
		}
		c.hasMinMax = true
	}
	var bits []byte
	if nulls > 0 {
		bits = a.NullBitmapBytes()
	}
	c.appended(bits, a.Data().Offset(), n, nulls)
	return nil
}

// Rows is the rows appended since the last Take, in the pages cut and the page being
// gathered.
func (c *ByteColumn) Rows() int { return c.readyRows + c.rows }

// Bytes is the values (with their lengths) held since the last Take.
func (c *ByteColumn) Bytes() int { return c.readyBytes + c.partBytes + len(c.cur) }

// Full says whether a page was cut and waits to be taken, or the page being gathered holds
// pageBytes of values.
func (c *ByteColumn) Full() bool { return len(c.ready) > 0 || c.partBytes+len(c.cur) >= c.pageBytes }

// Take returns the next page of the rows appended (the pages cut first, oldest first, then
// the page being gathered; buffers of its own: Levels the definition levels of a nullable
// column, Data and Parts the values PLAIN, its first chunk and the others; Stats the page's),
// or false when there are none. Data and Parts are the column's chunks, handed over: Recycle
// gives them back once their bytes are no longer read.
func (c *ByteColumn) Take() (RawPage, bool) {
	if len(c.ready) > 0 {
		p := c.ready[0]
		copy(c.ready, c.ready[1:])
		c.ready[len(c.ready)-1] = RawPage{}
		c.ready = c.ready[:len(c.ready)-1]
		c.readyRows -= int(p.NumValues)
		c.readyBytes -= p.Len() - len(p.Levels)
		return p, true
	}
	if c.rows == 0 {
		return RawPage{}, false
	}
	return c.page(), true
}

// cut ends the page being gathered, which has rows, and keeps it for Take.
func (c *ByteColumn) cut() {
	p := c.page()
	c.ready = append(c.ready, p)
	c.readyRows += int(p.NumValues)
	c.readyBytes += p.Len() - len(p.Levels)
}

// page ends the page being gathered, which has rows, and returns it.
func (c *ByteColumn) page() RawPage {
	st := metadata.EncodedStatistics{HasNullCount: true, NullCount: c.nulls}
	if c.hasMinMax && statsFit(c.maxStats, c.min, c.max) {
		// Copies, never nil: an empty string is a minimum too.
		st.HasMin, st.HasMax = true, true
		st.Min, st.Max = append([]byte{}, c.min...), append([]byte{}, c.max...)
	}
	if len(c.cur) > 0 { // an empty chunk stays for the next page
		c.parts = append(c.parts, c.cur)
		c.cur = nil
	}
	p := RawPage{NumValues: int32(c.rows), Stats: st}
	if len(c.parts) > 0 { // the first chunk in Data: a page of one chunk is there whole
		p.Data, p.Parts = c.parts[0], c.parts[1:]
	}
	if c.nullable {
		p.Levels = AppendValidityLevels(make([]byte, 0, 4+binary.MaxVarintLen64+(c.rows+7)/8), c.valid, c.rows)
	}
	c.parts, c.partBytes = nil, 0
	c.valid, c.rows, c.nulls, c.hasMinMax = c.valid[:0], 0, 0, false
	return p
}

// Recycle gives the chunks of p, a page this column's Take returned, back to the pool once
// nobody reads its bytes (its compression is done): the next pages reuse them. p's bytes must
// not be used after.
func (c *ByteColumn) Recycle(p RawPage) {
	if p.Data != nil {
		c.pool.Put(p.Data)
	}
	for _, b := range p.Parts {
		c.pool.Put(b)
	}
}
