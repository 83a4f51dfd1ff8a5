//go:build cgo && linux

package device

import "syscall"

// mapMemory maps size bytes of anonymous memory, outside Go's heap; unmapMemory gives it back.
func mapMemory(size int) ([]byte, error) {
	return syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
}

// unmapMemory unmaps what mapMemory mapped. It cannot fail for such memory; an error (an
// address that was never mapped) would be a bug of the caller's, which the next use finds.
func unmapMemory(b []byte) { _ = syscall.Munmap(b) }
