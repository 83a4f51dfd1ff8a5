//go:build measure

package device

import "os"

// A measurement build's switch (bench on the GPU host): PGPARQUET_EARLY_BUFFERS=go hands out
// the receive buffers of a GPU's start in Go memory, as before earlyBuffers, to compare;
// PGPARQUET_EARLY_BUFFERS=late unmaps them only when the Decoder closes.
func init() {
	switch os.Getenv("PGPARQUET_EARLY_BUFFERS") {
	case "go":
		earlyInGo = true
	case "late":
		earlyUnmapLate = true
	}
}
