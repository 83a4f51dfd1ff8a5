package incremental

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/pgparquet/pgparquet/outcome"
)

// A chain is a directory of runs, each in its own numbered directory: 0001-snapshot, then
// 0002-changes, 0003-changes, ...; a chain whose slot was dropped or lost goes on with a
// snapshot run (0004-snapshot), from which materialize starts. A run directory counts only once its _manifest.json is
// there: a change run is written under a dot-name and renamed into place with its manifest,
// a snapshot run publishes its manifest last.
const (
	manifestName   = "_manifest.json"
	modeSnapshot   = "snapshot"
	modeChanges    = "changes"
	partialPrefix  = ".partial-"
	runNumberWidth = 4
)

var runDirRE = regexp.MustCompile(`^([0-9]{4,})-(snapshot|changes)$`)

// run is one committed run of a chain.
type run struct {
	Dir      string // absolute or as given: chain dir joined with the run's name
	Number   int
	Manifest *outcome.Result
}

// chain is the committed runs of a chain directory, in run order.
type chain struct {
	dir  string
	runs []run
}

// readChain lists the committed runs of dir (missing: none). A numbered directory without a
// manifest is a run that did not finish: it is returned in incomplete for the caller to
// remove. Run numbers must follow each other from 1, the first being a snapshot.
func readChain(dir string) (c *chain, incomplete []string, err error) {
	c = &chain{dir: dir}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read chain %s: %w", dir, err)
	}
	for _, e := range entries {
		if len(e.Name()) > len(partialPrefix) && e.Name()[:len(partialPrefix)] == partialPrefix {
			incomplete = append(incomplete, filepath.Join(dir, e.Name()))
			continue
		}
		m := runDirRE.FindStringSubmatch(e.Name())
		if m == nil || !e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(filepath.Join(path, manifestName))
		if errors.Is(err, os.ErrNotExist) {
			incomplete = append(incomplete, path)
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read chain %s: %w", dir, err)
		}
		var res outcome.Result
		if err := json.Unmarshal(b, &res); err != nil {
			return nil, nil, fmt.Errorf("read chain %s: manifest of %s: %w", dir, e.Name(), err)
		}
		if res.Incremental == nil || res.Incremental.Mode != m[2] {
			return nil, nil, fmt.Errorf("read chain %s: %s is not a %s run of an incremental chain", dir, e.Name(), m[2])
		}
		n, _ := strconv.Atoi(m[1])
		c.runs = append(c.runs, run{Dir: path, Number: n, Manifest: &res})
	}
	slices.SortFunc(c.runs, func(a, b run) int { return a.Number - b.Number })
	for i, r := range c.runs {
		if r.Number != i+1 || (i == 0 && r.Manifest.Incremental.Mode != modeSnapshot) {
			return nil, nil, fmt.Errorf("read chain %s: run %s is out of place (runs must be 0001-snapshot, then 0002-changes or -snapshot, ... without gaps)", dir, filepath.Base(r.Dir))
		}
	}
	return c, incomplete, nil
}

// last is the last committed run; ok is false for an empty chain.
func (c *chain) last() (run, bool) {
	if len(c.runs) == 0 {
		return run{}, false
	}
	return c.runs[len(c.runs)-1], true
}

// runName is the directory name of run n in mode.
func runName(n int, mode string) string {
	return fmt.Sprintf("%0*d-%s", runNumberWidth, n, mode)
}

// encodeSchema gives an Arrow schema as Parquet's ARROW:schema holds it.
func encodeSchema(sc *arrow.Schema) string {
	return base64.StdEncoding.EncodeToString(flight.SerializeSchema(sc, memory.DefaultAllocator))
}

// schema is the chain's schema at the end of its last run: the last series' columns.
func (c *chain) schema() (int, []outcome.SchemaColumn) {
	r, ok := c.last()
	if !ok {
		return 0, nil
	}
	inc := r.Manifest.Incremental
	for i := len(c.runs) - 1; i >= 0; i-- {
		s := c.runs[i].Manifest.Incremental.Series
		if len(s) > 0 {
			return inc.SchemaVersion, s[len(s)-1].Columns
		}
	}
	return inc.SchemaVersion, nil
}

// PublishedRun is one published run of a chain: its directory and its manifest.
type PublishedRun struct {
	Dir      string
	Manifest *outcome.Result
}

// PublishedRuns lists the published runs of the chain in dir, in order (none when dir does
// not exist); runs that did not finish are left out.
func PublishedRuns(dir string) ([]PublishedRun, error) {
	ch, _, err := readChain(dir)
	if err != nil {
		return nil, err
	}
	out := make([]PublishedRun, len(ch.runs))
	for i, r := range ch.runs {
		out[i] = PublishedRun{Dir: r.Dir, Manifest: r.Manifest}
	}
	return out, nil
}
