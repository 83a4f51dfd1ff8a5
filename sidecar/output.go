package sidecar

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// errOutsideRoot is wrapped by every refusal of a request's output path.
var errOutsideRoot = errors.New("output path refused")

// defaultOutputPath is where a request without output_path is written: "<schema.table>/<id>",
// with anything but letters, digits, '.', '_' and '-' in the name replaced by '_'.
func defaultOutputPath(relation string, id int64) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, relation)
	if strings.Trim(name, ".") == "" {
		name = "table"
	}
	return name + "/" + strconv.FormatInt(id, 10)
}

// resolveOutput returns the directory for sub, a path relative to root, and sub cleaned. It
// refuses absolute paths, any ".." component, the root itself, and any path whose existing
// part resolves (through symbolic links) outside root. A link created after this check could
// still redirect the export: the root should be writable only by the sidecar.
func resolveOutput(root, sub string) (dir, clean string, err error) {
	switch {
	case sub == "":
		return "", "", fmt.Errorf("%w: empty", errOutsideRoot)
	case strings.ContainsRune(sub, 0):
		return "", "", fmt.Errorf("%w: %q contains a NUL byte", errOutsideRoot, sub)
	case filepath.IsAbs(sub) || strings.HasPrefix(sub, "/") || strings.HasPrefix(sub, `\`) || filepath.VolumeName(sub) != "":
		return "", "", fmt.Errorf("%w: %q is absolute; output paths are relative to the output root", errOutsideRoot, sub)
	}
	for _, part := range strings.FieldsFunc(sub, func(r rune) bool { return r == '/' || r == '\\' }) {
		if part == ".." {
			return "", "", fmt.Errorf("%w: %q contains '..'", errOutsideRoot, sub)
		}
	}
	clean = filepath.Clean(sub)
	if clean == "." {
		return "", "", fmt.Errorf("%w: %q names the output root itself", errOutsideRoot, sub)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", "", fmt.Errorf("output root: %w", err)
	}
	// Resolve the longest existing prefix; what does not exist yet cannot be a link.
	existing, rest := filepath.Join(realRoot, clean), ""
	for {
		if _, err := os.Lstat(existing); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", "", fmt.Errorf("output path %q: %w", sub, err)
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = filepath.Dir(existing)
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		return "", "", fmt.Errorf("output path %q: %w", sub, err)
	}
	if rel, err := filepath.Rel(realRoot, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", "", fmt.Errorf("%w: %q leads outside the output root through a symbolic link", errOutsideRoot, sub)
	}
	dir = filepath.Join(real, rest)
	if dir == realRoot {
		return "", "", fmt.Errorf("%w: %q resolves to the output root itself", errOutsideRoot, sub)
	}
	return dir, filepath.ToSlash(clean), nil
}
