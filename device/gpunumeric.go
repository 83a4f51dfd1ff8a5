package device

import (
	"os"

	"github.com/pgparquet/pgparquet/pgarrow"
)

// numericTextEnv switches the GPU decoding of numeric text columns off ("off"): they are then
// decoded on the CPU from their field positions, as every column of a kind without a kernel
// is. For measurements and as an escape hatch.
const numericTextEnv = "PGPARQUET_GPU_NUMERIC_TEXT"

// gpuNumericText says whether the CUDA decoder decodes numeric text columns itself
// ($PGPARQUET_GPU_NUMERIC_TEXT).
func gpuNumericText() bool { return os.Getenv(numericTextEnv) != "off" }

// gpuNumericTextColumns says, per column of cols, whether the CUDA decoder decodes it as numeric
// text (pgarrow.KindNumericString: numeric_out's exact text, as gpuparse's writeNumericText
// writes it): all such columns when on is true, none otherwise.
func gpuNumericTextColumns(cols []pgarrow.Column, on bool) []bool {
	out := make([]bool, len(cols))
	for i, c := range cols {
		out[i] = on && c.Kind == pgarrow.KindNumericString
	}
	return out
}
