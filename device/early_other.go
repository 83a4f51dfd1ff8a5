//go:build !cgo || !linux

package device

import "errors"

// mapMemory is not used in builds that cannot load the GPU library: receive buffers there are
// Go memory (earlyBuffers.alloc falls back to it).
func mapMemory(int) ([]byte, error) { return nil, errors.New("not in this build") }

func unmapMemory([]byte) {}
