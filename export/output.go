package export

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/pgparquet/pgparquet/objstore"
	"github.com/pgparquet/pgparquet/outcome"
)

// ManifestName is the file published last: a directory without it holds no complete export.
const ManifestName = objstore.ManifestName

// StagingPrefix starts the name of the private directory, inside the export's directory, that
// one attempt writes its files into before publishing them. Readers skip dot-names.
const StagingPrefix = objstore.StagingPrefix

// outputDir is the local file system's objstore.Sink: one attempt writes into a staging
// directory of its own inside the export's directory, every path beneath a root opened
// without following links out of it (os.Root). Nothing outside the staging directory is
// written before Publish, and Publish never replaces a file: an attempt that lost its claim
// cannot clobber another's files.
type outputDir struct {
	root    *os.Root
	ownRoot bool   // root was opened here and is closed by close
	dir     string // the export's directory, relative to root ("." when root is the directory)
	staging string // dir/StagingPrefix+tag, relative to root
	tag     string
	madeDir bool // dir did not exist before: Discard removes it again when empty
}

// isOurs reports whether name is a file an export of ours publishes, the only files
// --overwrite removes.
func isOurs(name string) bool {
	return name == ManifestName || (strings.HasPrefix(name, "part-") && strings.HasSuffix(name, ".parquet"))
}

// newTag returns a random staging tag for an export that was given none.
func newTag() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b[:])
}

// prepareOutputDir creates the export's directory if needed and its staging directory. The
// directory must hold nothing but other attempts' staging directories, unless overwrite (then a
// previous export's files are removed, the manifest first). root nil: dir is a path of the
// local file system, opened as the root.
func prepareOutputDir(root *os.Root, dir, tag string, overwrite bool) (*outputDir, error) {
	d := &outputDir{root: root, dir: path.Clean(dir)}
	shown := dir
	if root == nil {
		if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
			d.madeDir = true
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("output dir %s: %w", dir, err)
		}
		r, err := os.OpenRoot(dir)
		if err != nil {
			return nil, fmt.Errorf("output dir %s: %w", dir, err)
		}
		d.root, d.ownRoot, d.dir = r, true, "."
	} else {
		if _, err := root.Lstat(d.dir); errors.Is(err, fs.ErrNotExist) {
			d.madeDir = true
		}
	}
	if tag == "" {
		tag = newTag()
	}
	d.staging, d.tag = path.Join(d.dir, StagingPrefix+tag), tag
	// Another process may remove the directory while it is empty (a janitor cleaning up after
	// an earlier request that owned it): once the staging directory is in it, nobody does.
	for try := 0; ; try++ {
		if err := d.root.MkdirAll(d.dir, 0o755); err != nil {
			d.close()
			return nil, fmt.Errorf("output dir %s: %w", shown, cleanPathError(err))
		}
		err := d.root.Mkdir(d.staging, 0o755)
		if errors.Is(err, fs.ErrNotExist) && try < 3 {
			continue
		}
		if err != nil {
			d.close()
			return nil, fmt.Errorf("output dir %s: create staging directory: %w", shown, cleanPathError(err))
		}
		break
	}
	if err := d.checkEmpty(shown, overwrite); err != nil {
		d.root.Remove(d.staging) //nolint:errcheck // just created, empty
		d.close()
		return nil, err
	}
	return d, nil
}

// ErrNotEmpty is wrapped by the error of an export whose output directory holds files of its
// own already (not only attempts' staging directories) and Options.Overwrite is not set.
// Callers say what to do in their own terms (the CLI's --overwrite, a request's output_path).
var ErrNotEmpty = objstore.ErrNotEmpty

// checkEmpty refuses a directory holding anything but staging directories, unless overwrite.
func (d *outputDir) checkEmpty(shown string, overwrite bool) error {
	f, err := d.root.Open(d.dir)
	if err != nil {
		return fmt.Errorf("output dir %s: %w", shown, cleanPathError(err))
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("output dir %s: %w", shown, cleanPathError(err))
	}
	var others []fs.DirEntry
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), StagingPrefix) {
			others = append(others, e)
		}
	}
	if len(others) == 0 {
		return nil
	}
	if !overwrite {
		return fmt.Errorf("output dir %s is not empty (%d entries): %w", shown, len(others), ErrNotEmpty)
	}
	// The manifest goes first, so an interrupted overwrite never leaves a manifest that names
	// files already removed.
	if err := d.root.Remove(path.Join(d.dir, ManifestName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("output dir %s: remove old manifest: %w", shown, cleanPathError(err))
	}
	for _, e := range others {
		if e.Type().IsRegular() && isOurs(e.Name()) && e.Name() != ManifestName {
			if err := d.root.Remove(path.Join(d.dir, e.Name())); err != nil {
				return fmt.Errorf("output dir %s: remove old %s: %w", shown, e.Name(), cleanPathError(err))
			}
		}
	}
	return nil
}

// create opens a new file named name in the staging directory, failing if it exists.
func (d *outputDir) create(name string) (*os.File, error) {
	f, err := d.root.OpenFile(path.Join(d.staging, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, cleanPathError(err))
	}
	return f, nil
}

// Create opens a new file named name in the staging directory, failing if it exists.
func (d *outputDir) Create(_ context.Context, name string) (objstore.File, error) {
	f, err := d.create(name)
	if err != nil {
		return nil, err
	}
	return localFile{f}, nil
}

// localFile is a staged file: Close fsyncs it.
type localFile struct{ f *os.File }

func (l localFile) Write(p []byte) (int, error) { return l.f.Write(p) }

func (l localFile) Close() error {
	if err := errors.Join(l.f.Sync(), l.f.Close()); err != nil {
		return cleanPathError(err)
	}
	return nil
}

// Abort closes the file; Discard removes it with the staging directory.
func (l localFile) Abort() { _ = l.f.Close() } // its close error says nothing useful

// WriteManifest writes the export's manifest into the staging directory and fsyncs it and the
// directory (whose entries, the files', are durable with it); Publish moves it last.
func (d *outputDir) WriteManifest(_ context.Context, data []byte) error {
	f, err := d.create(ManifestName)
	if err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	_, werr := f.Write(data)
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("write manifest: %w", cleanPathError(err))
	}
	return syncDir(d.root, d.staging)
}

// Publish moves the staged files, then the manifest, into the output directory, never
// replacing a file (see the package function Publish).
func (d *outputDir) Publish(context.Context) error {
	defer d.close()
	return Publish(d.root, d.dir, d.tag)
}

// Discard removes the staged files, and the output directory when the export created it and
// nothing else is in it.
func (d *outputDir) Discard(context.Context) error {
	defer d.close()
	return d.discard()
}

// CheckFree fails when the staging directory's file system has less than reserve bytes free.
func (d *outputDir) CheckFree(reserve int64) error { return d.checkFree(reserve) }

// encodeManifest is the manifest's bytes: the result as indented JSON.
func encodeManifest(m *outcome.Result) ([]byte, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return append(data, '\n'), nil
}

// discard removes the staging directory and, when this export created the export's directory
// and it is empty now, that directory too. It never touches a published file.
func (d *outputDir) discard() error {
	err := d.root.RemoveAll(d.staging)
	if err != nil {
		err = fmt.Errorf("remove staging directory: %w", cleanPathError(err))
	}
	if d.madeDir && d.dir != "." {
		if rmErr := d.root.Remove(d.dir); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) && !isNotEmpty(rmErr) {
			err = errors.Join(err, fmt.Errorf("remove empty output directory: %w", cleanPathError(rmErr)))
		}
	}
	return err
}

// checkFree fails when the staging directory's file system has less than reserve bytes free
// (no check when reserve is not positive).
func (d *outputDir) checkFree(reserve int64) error {
	if reserve <= 0 {
		return nil
	}
	f, err := d.root.Open(d.staging)
	if err != nil {
		return fmt.Errorf("check free space: %w", cleanPathError(err))
	}
	defer f.Close()
	return checkFree(f, reserve)
}

func (d *outputDir) close() {
	if d.ownRoot {
		d.root.Close()
	}
}

// Publish moves an attempt's staged files, then its manifest, from dir/StagingPrefix+tag
// into dir (relative to root), and removes the staging directory. No file is ever replaced: a
// name already taken by a different file fails the publication. It can be repeated, and run
// by several processes at once (the attempt itself and one that rolls its publication forward
// after it died): a file already moved is skipped, so all of them end with the same files.
func Publish(root *os.Root, dir, tag string) error {
	staging := path.Join(dir, StagingPrefix+tag)
	var m outcome.Result
	data, err := root.ReadFile(path.Join(staging, ManifestName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Published already, if the manifest is in place: its files were moved before it.
		if _, err := root.Lstat(path.Join(dir, ManifestName)); err == nil {
			return removeStaging(root, staging)
		}
		return fmt.Errorf("publish %s: the attempt's staged manifest is gone and none was published", dir)
	case err != nil:
		return fmt.Errorf("publish %s: read staged manifest: %w", dir, cleanPathError(err))
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("publish %s: staged manifest: %w", dir, err)
	}
	src, err := root.Open(staging)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed by a concurrent publisher after it moved everything
		}
		return fmt.Errorf("publish %s: %w", dir, cleanPathError(err))
	}
	defer src.Close()
	dst, err := root.Open(dir)
	if err != nil {
		return fmt.Errorf("publish %s: %w", dir, cleanPathError(err))
	}
	defer dst.Close()
	names := make([]string, 0, len(m.Files)+1)
	for _, f := range m.Files {
		names = append(names, f.Name)
	}
	for _, name := range append(names, ManifestName) {
		if err := moveNoReplace(src, dst, name); err != nil {
			return fmt.Errorf("publish %s: %w", dir, err)
		}
	}
	if err := dst.Sync(); err != nil {
		return fmt.Errorf("publish %s: sync directory: %w", dir, cleanPathError(err))
	}
	return removeStaging(root, staging)
}

// moveNoReplace moves name from directory src to directory dst unless dst has it already:
// renameat2(RENAME_NOREPLACE), or link and unlink where the file system lacks it. A name that
// is gone from src and present in dst was moved by a concurrent publisher.
func moveNoReplace(src, dst *os.File, name string) error {
	if strings.ContainsRune(name, '/') || name == "" || name == "." || name == ".." {
		return fmt.Errorf("staged file name %q is not a plain name", name)
	}
	sfd, dfd := int(src.Fd()), int(dst.Fd())
	err := unix.Renameat2(sfd, name, dfd, name, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP) {
		err = unix.Linkat(sfd, name, dfd, name, 0)
		if err == nil {
			if uerr := unix.Unlinkat(sfd, name, 0); uerr != nil && !errors.Is(uerr, unix.ENOENT) {
				return fmt.Errorf("move %s: remove staged copy: %w", name, uerr)
			}
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ENOENT):
		var st unix.Stat_t
		if unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			return nil
		}
		return fmt.Errorf("move %s: the staged file is gone and was not published", name)
	case errors.Is(err, unix.EEXIST):
		var a, b unix.Stat_t
		if unix.Fstatat(sfd, name, &a, unix.AT_SYMLINK_NOFOLLOW) == nil &&
			unix.Fstatat(dfd, name, &b, unix.AT_SYMLINK_NOFOLLOW) == nil && a.Dev == b.Dev && a.Ino == b.Ino {
			return unix.Unlinkat(sfd, name, 0)
		}
		return fmt.Errorf("move %s: a different file of that name is already in the output directory; it is left as it is", name)
	}
	return fmt.Errorf("move %s: %w", name, err)
}

func removeStaging(root *os.Root, staging string) error {
	if err := root.RemoveAll(staging); err != nil {
		return fmt.Errorf("remove staging directory %s: %w", staging, cleanPathError(err))
	}
	return nil
}

// DiscardStaging removes the staging directory of attempt tag in dir (relative to root), and
// dir itself when that leaves it empty and removeEmptyDir is set. It is how the attempt that
// lost its claim, and the janitor after it, clean up: it touches nothing but that attempt's
// own files (and an empty directory).
func DiscardStaging(root *os.Root, dir, tag string, removeEmptyDir bool) error {
	err := removeStaging(root, path.Join(dir, StagingPrefix+tag))
	if removeEmptyDir {
		if rmErr := root.Remove(dir); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) && !isNotEmpty(rmErr) {
			err = errors.Join(err, fmt.Errorf("remove empty output directory %s: %w", dir, cleanPathError(rmErr)))
		}
	}
	return err
}

func isNotEmpty(err error) bool {
	return errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST)
}

func syncDir(root *os.Root, dir string) error {
	f, err := root.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", cleanPathError(err))
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync dir: %w", cleanPathError(err))
	}
	return nil
}

// cleanPathError drops the path from a *fs.PathError or *os.LinkError, keeping the operation
// and the cause: the caller's message names the file relative to the export, and the absolute
// output root is not shown to the role that asked for the export.
func cleanPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return fmt.Errorf("%s: %w", le.Op, le.Err)
	}
	return err
}

// RemovePublished removes a published export from dir (relative to root): its manifest first
// (made durable before anything else goes, so that an export cut off half-way never looks
// complete), then files (paths relative to root, each directly inside dir, as the sidecar's
// files table lists them), then dir itself when that leaves it empty. It removes nothing else:
// a file of another name stays, and so does dir with it. Files already gone are skipped, so it
// can be repeated after a crash, and run by several processes at once.
func RemovePublished(root *os.Root, dir string, files []string) error {
	dir = path.Clean(dir)
	if dir == "." || path.IsAbs(dir) || dir == ".." || strings.HasPrefix(dir, "../") {
		return fmt.Errorf("remove export %s: not a directory below the output root", dir)
	}
	for _, f := range files {
		if path.Dir(f) != dir || strings.HasPrefix(path.Base(f), ".") {
			return fmt.Errorf("remove export %s: file %s is not one of its files", dir, f)
		}
	}
	if err := root.Remove(path.Join(dir, ManifestName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove export %s: manifest: %w", dir, cleanPathError(err))
	} else if err == nil {
		if err := syncDir(root, dir); err != nil {
			return fmt.Errorf("remove export %s: %w", dir, err)
		}
	}
	for _, f := range files {
		if err := root.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove export %s: %s: %w", dir, path.Base(f), cleanPathError(err))
		}
	}
	if err := root.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) && !isNotEmpty(err) {
		return fmt.Errorf("remove export %s: directory: %w", dir, cleanPathError(err))
	}
	return nil
}
