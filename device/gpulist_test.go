package device

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pgparquet/pgparquet/gpuparse"
	"github.com/pgparquet/pgparquet/internal/copytest"
)

// TestGPUListPlans: the CUDA decoder takes exactly the one-dimensional lists of scalars and
// strings the CPU decoder decodes by its flat-list path, each with the element conversion
// putList uses, and none when $PGPARQUET_GPU_LISTS=off.
func TestGPUListPlans(t *testing.T) {
	cols := copytest.ListColumns()
	want := map[string]int{ // column: element conversion; absent: left to the CPU
		"a0": elBool, "a1": elCopy, "a2": elCopy, "a3": elCopy, "a4": elCopy, "a5": elCopy, "a6": elCopy,
		"a7": elCopy, "a8": elCopy, "a9": elDate, "a10": elTimestamp, "a11": elTimestamp, "a12": elCopy,
		"a13": elCopy, "a14": elMoney, "a15": elString, "a16": elString, "a17": elString, "axml": elString,
	}
	cpu := gpuparse.NewCPUDecoder(cols, memory.DefaultAllocator)
	for _, tc := range []struct {
		name  string
		env   string
		lists bool
	}{{"default", "", true}, {"off", "off", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(listsEnv, tc.env)
			plans := gpuListPlans(cpu, len(cols), gpuLists())
			for i, c := range cols {
				op, ok := want[c.Name]
				ok = ok && tc.lists
				switch p := plans[i]; {
				case p == nil && ok:
					t.Errorf("%s (%s[]): left to the CPU, want conversion %d", c.Name, c.Children[0].Kind, op)
				case p != nil && !ok:
					t.Errorf("%s (%s[]): on the GPU, want it left to the CPU", c.Name, c.Children[0].Kind)
				case p != nil && p.op != op:
					t.Errorf("%s (%s[]): conversion %d, want %d", c.Name, c.Children[0].Kind, p.op, op)
				}
			}
		})
	}
	// The array columns of RandomColumns are all on the GPU; the two-dimensional one is not.
	rcols := copytest.RandomColumns()
	plans := gpuListPlans(gpuparse.NewCPUDecoder(rcols, memory.DefaultAllocator), len(rcols), true)
	lists := map[string]bool{}
	for _, c := range copytest.RandomListColumns() {
		lists[c.Name] = true
	}
	for i, c := range rcols {
		if (plans[i] != nil) != lists[c.Name] {
			t.Errorf("RandomColumns %s: on the GPU %v, want %v", c.Name, plans[i] != nil, lists[c.Name])
		}
	}
}
