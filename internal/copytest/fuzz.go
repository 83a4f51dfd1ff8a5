package copytest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// WriteFuzzSeeds rewrites the seed_* files of testdata/fuzz/<target> from
// seeds (target name to seed name to input) when GPUPARSE_WRITE_SEEDS=1;
// otherwise it checks that the committed seeds exist.
func WriteFuzzSeeds(t testing.TB, seeds map[string]map[string][]byte) {
	t.Helper()
	for target, targetSeeds := range seeds {
		dir := filepath.Join("testdata", "fuzz", target)
		for name, data := range targetSeeds {
			path := filepath.Join(dir, "seed_"+name)
			if os.Getenv("GPUPARSE_WRITE_SEEDS") == "1" {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, fmt.Appendf(nil, "go test fuzz v1\n[]byte(%q)\n", data), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("seed missing (run with GPUPARSE_WRITE_SEEDS=1): %v", err)
			}
		}
	}
}
