package export

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/pgparquet/pgparquet/objstore"
)

// ErrOutputLimit is wrapped by the error of an export whose output passed MaxOutputBytes.
var ErrOutputLimit = errors.New("output limit reached")

// ErrFreeSpace is wrapped by the error of an export stopped because the output file system's
// free space fell below MinFreeBytes.
var ErrFreeSpace = errors.New("free space below the reserve")

// freeSpaceEvery is how many bytes of output may be written between two free-space checks.
const freeSpaceEvery = 32 << 20

// outputLimits enforces MaxOutputBytes and MinFreeBytes over all of an export's files. It is
// safe for concurrent use by the lanes.
type outputLimits struct {
	maxBytes, minFree int64
	total             atomic.Int64 // bytes written to files so far
	nextCheck         atomic.Int64 // total at which free space is checked next
}

// written is the counter the files add their bytes to (nil when l is nil).
func (l *outputLimits) written() *atomic.Int64 {
	if l == nil {
		return nil
	}
	return &l.total
}

// check fails when the export's output, with buffered bytes not yet written, passes the
// limit, or (every freeSpaceEvery bytes) when out's file system, if it has one, has less free
// space than the reserve.
func (l *outputLimits) check(out objstore.Sink, buffered int64) error {
	if l == nil {
		return nil
	}
	total := l.total.Load()
	if l.maxBytes > 0 && total+buffered > l.maxBytes {
		return fmt.Errorf("%w: the export's Parquet output passed %s (max_output_bytes); export fewer rows or columns, or ask an administrator for a higher limit", ErrOutputLimit, formatBytes(l.maxBytes))
	}
	if l.minFree <= 0 || total < l.nextCheck.Load() {
		return nil
	}
	l.nextCheck.Store(total + freeSpaceEvery)
	if fc, ok := out.(objstore.FreeChecker); ok {
		return fc.CheckFree(l.minFree)
	}
	return nil
}

// checkFree fails when f's file system has less than reserve bytes available.
func checkFree(f *os.File, reserve int64) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("check free space: %w", err)
	}
	// How full the file system is stays out of the message: it is shown to requesters, and
	// the disk is shared with other roles' exports.
	if free := int64(st.Bavail) * int64(st.Bsize); free < reserve {
		return fmt.Errorf("%w: the output file system has less free space than the %s kept for other exports; try again later, or ask an administrator", ErrFreeSpace, formatBytes(reserve))
	}
	return nil
}

// formatBytes prints n in binary units, like 1.5 GiB.
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
