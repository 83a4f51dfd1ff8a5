package pgarrow

import "testing"

// TestKindsTable checks that every Kind has a complete entry: a name, an Arrow type, a decoder
// path, and base types planned to at most one kind.
func TestKindsTable(t *testing.T) {
	seen := map[uint32]Kind{}
	for k := KindBool; k < kindCount; k++ {
		info := k.Info()
		if info.Name == "" || (info.Arrow == nil) == (info.ArrowFunc == nil) {
			t.Errorf("%d: incomplete entry %+v", int(k), *info)
		}
		if info.Tree && (info.GPU || info.VarLen || info.Width != 0) {
			t.Errorf("%v: a tree kind has a flat layout or a GPU kernel", k)
		}
		for _, oid := range info.OIDs {
			if prev, ok := seen[oid]; ok {
				t.Errorf("OID %d planned to %v and %v", oid, prev, k)
			}
			seen[oid] = k
		}
	}
	if Kind(0).Info().Name != "" || kindCount.Info().Name != "" {
		t.Error("invalid kinds have entries")
	}
}
