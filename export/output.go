package export

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// ManifestName is the file written last: a directory without it holds no complete export.
const ManifestName = "_manifest.json"

// outputDir owns the export's directory and remembers every file the export created, so that
// a failed or cancelled export removes exactly its own files and nothing else. It is safe for
// concurrent use.
type outputDir struct {
	path string

	mu      sync.Mutex
	created map[string]bool // absolute paths
}

// isOurs reports whether name is a file an export of ours writes, the only files --overwrite
// removes.
func isOurs(name string) bool {
	return name == ManifestName || name == "."+ManifestName+".inprogress" ||
		(strings.HasPrefix(name, "part-") && strings.HasSuffix(name, ".parquet")) ||
		(strings.HasPrefix(name, ".part-") && strings.HasSuffix(name, ".inprogress"))
}

// prepareOutputDir creates path if needed, refuses a non-empty directory unless overwrite (then
// removes a previous export's files, the manifest first), and checks that files can be created.
func prepareOutputDir(path string, overwrite bool) (*outputDir, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("output dir %s: %w", path, err)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("output dir %s: %w", path, err)
	}
	if len(entries) > 0 {
		if !overwrite {
			return nil, fmt.Errorf("output dir %s is not empty (%d entries); use --overwrite to replace a previous export", path, len(entries))
		}
		// The manifest goes first, so an interrupted overwrite never leaves a manifest that
		// names files already removed.
		if err := os.Remove(filepath.Join(path, ManifestName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("output dir %s: remove old manifest: %w", path, err)
		}
		for _, e := range entries {
			if e.Type().IsRegular() && isOurs(e.Name()) && e.Name() != ManifestName {
				if err := os.Remove(filepath.Join(path, e.Name())); err != nil {
					return nil, fmt.Errorf("output dir %s: remove old %s: %w", path, e.Name(), err)
				}
			}
		}
	}
	probe, err := os.CreateTemp(path, ".pgparquet-probe-*")
	if err != nil {
		return nil, fmt.Errorf("output dir %s is not writable: %w", path, err)
	}
	if err := errors.Join(probe.Close(), os.Remove(probe.Name())); err != nil {
		return nil, fmt.Errorf("output dir %s: remove probe file: %w", path, err)
	}
	return &outputDir{path: path, created: map[string]bool{}}, nil
}

// create opens a new file named name in the directory, failing if it exists.
func (d *outputDir) create(name string) (*os.File, error) {
	p := filepath.Join(d.path, name)
	d.mu.Lock()
	d.created[p] = true
	d.mu.Unlock()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", p, err)
	}
	return f, nil
}

// rename moves a file this export created, keeping track of it under its new name.
func (d *outputDir) rename(from, to string) error {
	pf, pt := filepath.Join(d.path, from), filepath.Join(d.path, to)
	d.mu.Lock()
	d.created[pt] = true
	d.mu.Unlock()
	if err := os.Rename(pf, pt); err != nil {
		return fmt.Errorf("rename %s to %s: %w", pf, to, err)
	}
	d.mu.Lock()
	delete(d.created, pf)
	d.mu.Unlock()
	return nil
}

// removeCreated deletes every file this export created.
func (d *outputDir) removeCreated() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for p := range d.created {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove partial file: %w", err))
		}
		delete(d.created, p)
	}
	return errors.Join(errs...)
}

// sync flushes the directory entries (creations, renames) to disk.
func (d *outputDir) sync() error {
	f, err := os.Open(d.path)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", d.path, err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", d.path, err)
	}
	return nil
}
