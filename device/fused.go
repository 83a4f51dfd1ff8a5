package device

import (
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/metadata"
)

// fusedOp is what a fusedColumn holds.
type fusedOp int

const (
	// fusedPlain: a fixed-width column's non-NULL values PLAIN (frag) and their statistics
	// (stats: NULL count; min and max as the page encoder's, pointing into the arena).
	fusedPlain fusedOp = iota + 1
	// fusedUniq: each row's group (ids, -1 for NULL) and each group's first row (firsts),
	// groups numbered in the order of their first rows, as groupsOf numbers them; collided
	// says two different values shared a hash, so ids and firsts mean nothing.
	fusedUniq
	// fusedBytes: a string or binary column's non-NULL values PLAIN (frag, as
	// pqfile.ByteColumn writes them) and the rows of its smallest and largest value (minRow,
	// maxRow; -1 when every row is NULL).
	fusedBytes
)

// fusedColumn is what the decoder computed on the device, in the same call and wait as the
// decoding (pgpq_finish_fused), for one column of one decoded batch (op says which, and which
// fields are set): what the page encoder, Uniques or a ByteColumn would compute. Its slices
// lie in the batch's pinned arena (or, for a fragment that is the column's Arrow values, in
// those), which lives as long as the batch: a fusedColumn is read only while the batch is held.
type fusedColumn struct {
	op             fusedOp
	rows           int
	frag           []byte
	stats          metadata.EncodedStatistics
	ids, firsts    []int32
	collided       bool
	minRow, maxRow int32
}

// fusedResults holds the fused columns of the batches decoded on the GPU and not yet released,
// by their arrays' data, for the page encoder and Uniques to take instead of a device call of
// their own. Decoders compute fused columns only while a PageEncoder is open (users). It is
// safe for concurrent use.
type fusedResults struct {
	users atomic.Int32
	m     sync.Map // arrow.ArrayData → *fusedColumn
	// plainBytes: the fields (the decoders' columns) some file writes PLAIN (ByteColumn),
	// whose string columns the decoders encode as such rather than group (PageEncoder.PlainBytes).
	plainBytes sync.Map // int → struct{}
}

// wantsBytes says whether string column i is to be encoded PLAIN rather than grouped.
func (r *fusedResults) wantsBytes(i int) bool {
	_, ok := r.plainBytes.Load(i)
	return ok
}

// active says whether decoders should compute fused columns.
func (r *fusedResults) active() bool { return r.users.Load() > 0 }

// lookup returns a's fused column of operation op, or nil where there is none or a is not the
// whole decoded array (a slice of a batch).
func (r *fusedResults) lookup(a arrow.Array, op fusedOp) *fusedColumn {
	v, ok := r.m.Load(a.Data())
	if !ok {
		return nil
	}
	f := v.(*fusedColumn)
	if f.op != op || a.Data().Offset() != 0 || a.Len() != f.rows {
		return nil
	}
	return f
}

// fusedRecord is a decoded batch with fused columns: it registers them (keys, values) while it
// is held and, once released for the last time, forgets them and frees the arena they point
// into. Retain and Release are safe for concurrent use, as a RecordBatch's are.
type fusedRecord struct {
	arrow.RecordBatch
	refs  atomic.Int64
	reg   *fusedResults
	keys  []arrow.ArrayData
	arena *memory.Buffer
}

// newFusedRecord wraps rec (whose reference it takes over) and registers cols[i] under keys[i].
func newFusedRecord(rec arrow.RecordBatch, reg *fusedResults, keys []arrow.ArrayData, cols []*fusedColumn, arena *memory.Buffer) *fusedRecord {
	r := &fusedRecord{RecordBatch: rec, reg: reg, keys: keys, arena: arena}
	r.refs.Store(1)
	for i, k := range keys {
		reg.m.Store(k, cols[i])
	}
	return r
}

func (r *fusedRecord) Retain() {
	r.refs.Add(1)
	r.RecordBatch.Retain()
}

func (r *fusedRecord) Release() {
	if r.refs.Add(-1) == 0 {
		for _, k := range r.keys {
			r.reg.m.Delete(k)
		}
		if r.arena != nil {
			r.arena.Release()
		}
	}
	r.RecordBatch.Release()
}
