package gpuparse

import "fmt"

// gpuKinds are the kinds the CUDA kernels decode; other columns are decoded on the CPU.
var gpuKinds = map[Kind]bool{
	KindBool: true, KindInt16: true, KindInt32: true, KindInt64: true, KindFloat32: true, KindFloat64: true,
	KindString: true, KindBinary: true, KindUUID: true, KindJSON: true, KindJSONB: true, KindDate: true,
	KindTimestamp: true, KindTimestampTZ: true, KindDecimal128: true,
}

// CPUDecodedColumns describes the columns the CUDA decoder leaves to the CPU ("name (type)"):
// it has no kernel for their kinds, so it records where their fields are and the CPU decodes
// them from there. Exports log the list, since these columns' values cost sidecar CPU even on
// a GPU host.
func CPUDecodedColumns(cols []Column) []string {
	var out []string
	for _, c := range cols {
		if !gpuKinds[c.Kind] {
			out = append(out, fmt.Sprintf("%s (%s)", c.Name, c.PGType))
		}
	}
	return out
}
