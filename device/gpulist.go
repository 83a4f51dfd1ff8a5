package device

import (
	"os"

	"github.com/pgparquet/pgparquet/gpuparse"
	"github.com/pgparquet/pgparquet/pgarrow"
)

// Element conversions of the list columns the CUDA decoder decodes, the PGPQ_EL_* of
// cuda/pgpq_abi.h (cuda.go checks at compile time that the numbers agree).
const (
	elString    = 1 // strings and binary: int32 offsets and data
	elBool      = 2 // a bitmap
	elCopy      = 3 // 2, 4 or 8 bytes, byte-swapped
	elDate      = 4 // days shifted from 2000 to 1970
	elTimestamp = 5 // µs shifted from 2000 to 1970
	elMoney     = 6 // int64 sign-extended to decimal128
)

// listsEnv switches the GPU decoding of list columns off ("off"): they are then decoded on the
// CPU from their field positions, as every column of a kind without a kernel is. For
// measurements and as an escape hatch.
const listsEnv = "PGPARQUET_GPU_LISTS"

// gpuLists says whether the CUDA decoder decodes list columns itself ($PGPARQUET_GPU_LISTS).
func gpuLists() bool { return os.Getenv(listsEnv) != "off" }

// gpuListOp is the element conversion with which the CUDA decoder decodes a list column that
// the CPU decoder decodes by its flat-list path with plan p, and false where it leaves the
// column to the CPU. The conversion writes exactly what gpuparse's putList writes.
func gpuListOp(p gpuparse.FlatListPlan) (op int, ok bool) {
	switch p.Elem {
	case pgarrow.KindString, pgarrow.KindBinary:
		return elString, p.Fixed == 0 && p.Width == 0
	case pgarrow.KindBool:
		return elBool, p.Fixed == 1 && p.Width == 0
	case pgarrow.KindInt16, pgarrow.KindInt32, pgarrow.KindFloat32, pgarrow.KindUint32,
		pgarrow.KindInt64, pgarrow.KindFloat64, pgarrow.KindUint64, pgarrow.KindTime, pgarrow.KindTimeMicros:
		return elCopy, p.Fixed == p.Width && (p.Width == 2 || p.Width == 4 || p.Width == 8)
	case pgarrow.KindDate:
		return elDate, p.Fixed == 4 && p.Width == 4
	case pgarrow.KindTimestamp, pgarrow.KindTimestampTZ:
		return elTimestamp, p.Fixed == 8 && p.Width == 8
	case pgarrow.KindMoney:
		return elMoney, p.Fixed == 8 && p.Width == 16
	}
	return 0, false
}

// gpuListPlans returns, per column of cpu's columns, the plan of the list columns the CUDA
// decoder decodes itself (nil for the others): the one-dimensional lists of scalars and
// strings that cpu decodes by its flat-list path, unless lists is false.
func gpuListPlans(cpu *gpuparse.CPUDecoder, ncols int, lists bool) []*gpuListPlan {
	plans := make([]*gpuListPlan, ncols)
	if !lists {
		return plans
	}
	for i := range plans {
		p, ok := cpu.FlatList(i)
		if !ok {
			continue
		}
		if op, ok := gpuListOp(p); ok {
			plans[i] = &gpuListPlan{FlatListPlan: p, op: op}
		}
	}
	return plans
}

// gpuListPlan is a list column the CUDA decoder decodes: the CPU decoder's plan and the
// element conversion.
type gpuListPlan struct {
	gpuparse.FlatListPlan
	op int // el*
}
