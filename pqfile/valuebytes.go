package pqfile

import (
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// arrow-go (v18.8) takes a nil byte-array value for "no value" in its statistics
// (ByteArrayStatistics.minval), and slices each value out of the array's value bytes: when a
// batch's byte-array column has no value bytes at all (its only non-NULL values are empty) and
// its value buffer's bytes are nil, which the decoders' empty buffers are, each empty value is
// nil and left out of min and max. A row group whose only empty string or bytea came in such a
// batch then claims a minimum above it, and a reader that prunes by it skips the row group for
// `= ''`. WithValueBytes gives such arrays an empty, non-nil value buffer before they reach
// arrow-go's writers.

// WithValueBytes returns arr when every byte-array column in it (at any depth: list elements,
// struct fields, dictionaries, extension storage) with a non-NULL value has non-nil value bytes;
// else a new array over the same buffers, with an empty value buffer where there was none, and
// true: the caller releases it (and still owns arr).
func WithValueBytes(arr arrow.Array) (arrow.Array, bool) {
	d, changed := withValueBytes(arr.Data())
	if !changed {
		return arr, false
	}
	defer d.Release()
	return array.MakeFromData(d), true
}

// withValueBytes is WithValueBytes on array data; a new one (changed) is the caller's to release.
func withValueBytes(d arrow.ArrayData) (arrow.ArrayData, bool) {
	bufs := d.Buffers()
	changed := false
	if t := d.DataType(); isByteArray(t) && len(bufs) == 3 && (bufs[2] == nil || bufs[2].Bytes() == nil) && d.Len() > 0 && d.NullN() != d.Len() {
		bufs = slices.Clone(bufs)
		bufs[2] = memory.NewBufferBytes([]byte{})
		defer bufs[2].Release()
		changed = true
	}
	children := d.Children()
	cloned := false
	for i, c := range children {
		nc, ok := withValueBytes(c)
		if !ok {
			continue
		}
		defer nc.Release()
		if !cloned {
			children, cloned = slices.Clone(children), true
		}
		children[i], changed = nc, true
	}
	var dict arrow.ArrayData
	if dd, ok := d.Dictionary().(*array.Data); ok && dd != nil { // a typed nil without one
		nd, ok := withValueBytes(dd)
		if ok {
			defer nd.Release()
			dict, changed = nd, true
		} else {
			dict = dd
		}
	}
	if !changed {
		return d, false
	}
	out := array.NewData(d.DataType(), d.Len(), bufs, children, d.NullN(), d.Offset())
	if dict != nil {
		out.SetDictionary(dict)
	}
	return out, true
}

// isByteArray says whether t (or an extension type's storage) keeps its values as offsets into
// value bytes.
func isByteArray(t arrow.DataType) bool {
	if e, ok := t.(arrow.ExtensionType); ok {
		t = e.StorageType()
	}
	return arrow.IsBaseBinary(t.ID())
}
