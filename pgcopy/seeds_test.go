package pgcopy_test

import (
	"testing"

	"github.com/pgparquet/pgparquet/internal/copytest"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// TestWriteFuzzSeeds rewrites the seed_* files of testdata/fuzz from
// headerSeeds when GPUPARSE_WRITE_SEEDS=1; otherwise it checks that the
// committed seeds exist.
func TestWriteFuzzSeeds(t *testing.T) {
	copytest.WriteFuzzSeeds(t, map[string]map[string][]byte{"FuzzParseHeader": pgcopy.HeaderSeeds()})
}
