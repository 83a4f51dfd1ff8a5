//go:build cgo && linux

package device

import "testing"

// TestFusedLayout: a fixed-width column gets its fragment back unless its Arrow values are its
// PLAIN values (no NULL, not int16, not a decimal, whose PLAIN is big-endian even at 16 bytes);
// results do not overlap and stay aligned.
func TestFusedLayout(t *testing.T) {
	const rows = 1000
	plans := []fusePlan{
		{plain: true, enc: encCol{kind: kindInt, width: 4}},
		{plain: true, enc: encCol{kind: kindInt, width: 8}},
		{plain: true, enc: encCol{kind: kindInt, width: 2}},
		{plain: true, enc: encCol{kind: kindFloat, width: 8}},
		{plain: true, enc: encCol{kind: kindDecimal, width: 16, outWidth: 16}},
		{plain: true, enc: encCol{kind: kindDecimal, width: 16, outWidth: 6}},
		{uniq: true},
		{},
		{plain: true, enc: encCol{kind: kindInt, width: 4}},
		{uniq: true}, // written PLAIN: its values' fragment
	}
	nulls := []int64{0, 0, 0, 0, 0, 0, 3, 0, 5, 7}
	varBytes := []int64{0, 0, 0, 0, 0, 0, 900, 0, 0, 5000}
	wantFrag := []bool{false, false, true, false, true, true, false, false, true, true}
	fuse, size := fusedLayout(plans, rows, nulls, varBytes, func(i int) bool { return i == 9 })
	if len(fuse) != 9 {
		t.Fatalf("%d columns laid out, want 9", len(fuse))
	}
	end := 0
	for _, f := range fuse {
		i := int(f.col)
		var at, n int
		switch {
		case plans[i].plain:
			if got := f.frag >= 0; got != wantFrag[i] {
				t.Errorf("column %d: fragment copied back %v, want %v", i, got, wantFrag[i])
			}
			at, n = int(f.stats), fuseAlign
			if f.frag >= 0 {
				if int(f.frag) < at+n {
					t.Errorf("column %d: fragment at %d overlaps its statistics at %d", i, f.frag, at)
				}
				n = int(f.frag) - at + rows*plans[i].enc.plainWidth()
			}
		case plans[i].uniq && f.op == fuseOpBytes:
			at, n = int(f.stats), int(f.frag)-int(f.stats)+4*rows+int(varBytes[i])
			if int(f.frag) < at+16 {
				t.Errorf("column %d: fragment at %d overlaps its statistics at %d", i, f.frag, at)
			}
		case plans[i].uniq:
			if i == 9 {
				t.Errorf("column 9, written PLAIN, is grouped")
			}
			at, n = int(f.first), 8*rows+8
		}
		if at < end || at%fuseAlign != 0 {
			t.Errorf("column %d at %d: before the previous result's end %d, or not aligned", i, at, end)
		}
		end = at + n
	}
	if end > size {
		t.Errorf("results end at %d, past the buffer's %d bytes", end, size)
	}
}
