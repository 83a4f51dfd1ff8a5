package gpuparse

import "fmt"

// gpuKinds are the kinds the CUDA kernels decode; other columns are decoded on the CPU.
var gpuKinds = map[Kind]bool{
	KindBool: true, KindInt16: true, KindInt32: true, KindInt64: true, KindFloat32: true, KindFloat64: true,
	KindString: true, KindBinary: true, KindUUID: true, KindJSON: true, KindJSONB: true, KindDate: true,
	KindTimestamp: true, KindTimestampTZ: true, KindDecimal128: true,
}

// GPUDecodes reports whether the CUDA kernels decode every one of cols. When one needs the CPU
// decoder, reason names it: such a chunk would be decoded twice (the GPU columns on the GPU,
// then the whole chunk on the CPU), so callers that may choose decode such tables on the CPU.
func GPUDecodes(cols []Column) (ok bool, reason string) {
	for _, c := range cols {
		if !gpuKinds[c.Kind] {
			return false, fmt.Sprintf("column %q (%s) has no GPU kernel", c.Name, c.PGType)
		}
	}
	return true, ""
}
