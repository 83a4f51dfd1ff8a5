//go:build planmeasure

package export

import "os"

// A measurement build's switch back to ranges of equal size (PGPARQUET_PLAN=equal), to
// compare plans in one binary on the GPU host.
func init() {
	if os.Getenv("PGPARQUET_PLAN") == "equal" {
		planWorkers = func(int) int { return 0 }
	}
}
