package copytest

import (
	"bytes"
	"encoding/binary"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// ValueBytes is row i's value of a string or binary array (or of an extension array stored as
// one, such as JSON); nil for other arrays.
func ValueBytes(a arrow.Array, i int) []byte {
	if e, ok := a.(array.ExtensionArray); ok {
		a = e.Storage()
	}
	switch a := a.(type) {
	case *array.String:
		return []byte(a.Value(i))
	case *array.Binary:
		return a.Value(i)
	}
	return nil
}

// PlainBytes is what the GPU writes for pqfile.ByteColumn.AppendFragment: a's non-NULL values
// PLAIN (each a 4-byte little-endian length, then its bytes; an empty fragment, not nil, when
// there are none) and its smallest and largest value byte-wise (nil when every row is NULL).
func PlainBytes(a arrow.Array) (frag, lo, hi []byte) {
	frag = []byte{}
	found := false
	for i := range a.Len() {
		if a.IsNull(i) {
			continue
		}
		v := append([]byte{}, ValueBytes(a, i)...) // not nil, even when empty
		frag = binary.LittleEndian.AppendUint32(frag, uint32(len(v)))
		frag = append(frag, v...)
		if !found || bytes.Compare(v, lo) < 0 {
			lo = v
		}
		if !found || bytes.Compare(v, hi) > 0 {
			hi = v
		}
		found = true
	}
	return frag, lo, hi
}
