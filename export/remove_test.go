package export

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRemovePublished removes a published export: manifest and listed files, then the
// directory when empty; it keeps files it was not given, is idempotent, refuses files outside
// the directory, and never follows a link out of the root.
func TestRemovePublished(t *testing.T) {
	files := []string{"a/x/part-00000.parquet", "a/x/part-00001.parquet"}
	tests := []struct {
		name    string
		setup   func(t *testing.T, root, outside string) // after the export is published into a/x
		files   []string
		wantErr string
		left    []string // what stays in a/x; nil: a/x is gone
	}{
		{name: "whole export", files: files},
		{name: "half removed before (crash)", files: files, setup: func(t *testing.T, root, _ string) {
			rm(t, filepath.Join(root, "a/x", ManifestName))
			rm(t, filepath.Join(root, files[0]))
		}},
		{name: "already gone", files: files, setup: func(t *testing.T, root, _ string) {
			if err := os.RemoveAll(filepath.Join(root, "a/x")); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "another's file stays", files: files, setup: func(t *testing.T, root, _ string) {
			write(t, filepath.Join(root, "a/x/notes.txt"))
		}, left: []string{"notes.txt"}},
		{name: "file not listed stays", files: files[:1], left: []string{"part-00001.parquet"}},
		{name: "file outside the directory", files: []string{"a/x/part-00000.parquet", "a/y/part-00000.parquet"},
			wantErr: "a/y/part-00000.parquet is not one of its files", left: []string{ManifestName, "part-00000.parquet", "part-00001.parquet"}},
		{name: "hidden file", files: []string{"a/x/.pgparquet-attempt-1"},
			wantErr: "is not one of its files", left: []string{ManifestName, "part-00000.parquet", "part-00001.parquet"}},
		{name: "link out of the root", files: []string{"a/l/part-00000.parquet"}, setup: func(t *testing.T, root, outside string) {
			write(t, filepath.Join(outside, ManifestName))
			if err := os.Symlink(outside, filepath.Join(root, "a/l")); err != nil {
				t.Fatal(err)
			}
		}, wantErr: "escapes", left: []string{ManifestName, "part-00000.parquet", "part-00001.parquet"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rootDir, outside := t.TempDir(), t.TempDir()
			for _, f := range append(slices.Clone(files), "a/x/"+ManifestName) {
				write(t, filepath.Join(rootDir, f))
			}
			if tc.setup != nil {
				tc.setup(t, rootDir, outside)
			}
			root, err := os.OpenRoot(rootDir)
			if err != nil {
				t.Fatal(err)
			}
			defer root.Close()
			dir := "a/x"
			if strings.HasPrefix(tc.files[0], "a/l/") {
				dir = "a/l"
			}
			err = RemovePublished(root, dir, tc.files)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("RemovePublished: %v, want error %q", err, tc.wantErr)
			}
			if tc.wantErr == "" {
				if err := RemovePublished(root, dir, tc.files); err != nil {
					t.Errorf("again: %v", err)
				}
			}
			entries, err := os.ReadDir(filepath.Join(rootDir, "a/x"))
			if tc.left == nil {
				if !os.IsNotExist(err) {
					t.Errorf("a/x still there (%v): %v", err, entries)
				}
			} else {
				var names []string
				for _, en := range entries {
					names = append(names, en.Name())
				}
				if !slices.Equal(names, tc.left) {
					t.Errorf("a/x holds %v, want %v", names, tc.left)
				}
			}
			if _, err := os.Stat(filepath.Join(outside, ManifestName)); tc.name == "link out of the root" && err != nil {
				t.Errorf("the file outside the root was removed: %v", err)
			}
		})
	}
}

func write(t *testing.T, name string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func rm(t *testing.T, name string) {
	t.Helper()
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
}
