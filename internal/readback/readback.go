// Package readback lets tests compare the values a Parquet file holds with the values
// PostgreSQL holds, exactly and for every supported type.
//
// Both sides are turned into a Table of canonical cell strings: PostgreSQL with one SQL
// expression per column (FromPostgres), Parquet with two independent readers, pyarrow and DuckDB,
// run by the Python script readback.py (FromParquet). The canonical forms are chosen so that
// both sides can produce them without loss:
//
//   - boolean: "t" or "f"
//   - integers: decimal digits, e.g. "-32768"
//   - float4 / float32: 8 lowercase hex digits of the IEEE bits, big-endian; float8 / float64: 16
//   - numeric / decimal: plain notation with exactly the scale's digits after the point ("1.50")
//   - text, varchar, bpchar (with its padding), name, json, jsonb / string: the string itself
//   - bytea / binary: lowercase hex
//   - uuid: 32 lowercase hex digits, no dashes; with PGColumn.UUIDText, PostgreSQL's text (the
//     exporter's --compat spark writes it as a string)
//   - date: days since 1970-01-01; PostgreSQL's infinity and -infinity are 2147483647 and
//     -2147483648 (int32 max and min)
//   - timestamp and timestamptz: microseconds since 1970-01-01 00:00:00 UTC; infinity and
//     -infinity are 9223372036854775807 and -9223372036854775808 (int64 max and min)
//   - oid, xid, cid, xid8 / uint32, uint64: decimal digits; money / decimal(19,d): as numeric
//   - time / time64[us]: microseconds since midnight (24:00:00 is 86400000000)
//   - nested values, as compact JSON (Python's json.dumps with ensure_ascii=False) of arrays
//     whose leaves are the canonical strings above or null: arrays / lists as (nested) arrays;
//     composites / structs, ranges (lower, upper, lower_inc, upper_inc, empty), timetz (time,
//     utc_offset_seconds) and interval (months, days, microseconds) as arrays of their fields
//     in order; multiranges as arrays of ranges
//   - with PGColumn.TimestampText, timestamps as PostgreSQL's ISO text in UTC
//   - any other PostgreSQL type (xml, inet, geometric, ...; composites and ranges holding one):
//     its text output, which the exporter writes as a string; arrays of such types: lists of
//     their elements' text
//
// A Parquet column of a type with no canonical form makes FromParquet fail, naming the column, so
// a new type is never compared loosely. Rows are ordered by the integer value of a sort column,
// ties broken by the whole row, identically on both sides; Diff then pairs rows by that key.
//
// CheckStatistics (check_stats.py, run the same way) compares what the files' statistics claim
// (chunks', pages', page indexes': NULL counts, min and max) with the values pyarrow reads back,
// so that no statistic a reader skips row groups or pages by claims a narrower range than its
// values.
//
// Known limits: DuckDB hands FLOAT values to Python as doubles, which sets the quiet bit of a
// signalling NaN (7fa00000 reads as 7fe00000), so only pyarrow sees float32 NaN bits exactly.
// A numeric column without a declared scale gives each value's own scale ("1.5", "2.00"), which
// matches a Parquet decimal only where the exporter kept that scale.
package readback

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Readers that FromParquet accepts. ReaderSpark is Spark's own Parquet reader (a local
// session), whose rows come to Python as Arrow and are then put in canonical form as pyarrow's
// are; it runs with the interpreter from SparkPython.
const (
	ReaderPyArrow = "pyarrow"
	ReaderDuckDB  = "duckdb"
	ReaderSpark   = "spark"
)

// Readers lists the independent Parquet readers, for tests that check a file with each.
func Readers() []string { return []string{ReaderPyArrow, ReaderDuckDB} }

// PythonEnv names the environment variable that overrides the interpreter Python returns.
const PythonEnv = "PGPARQUET_PYTHON"

//go:embed readback.py
var readbackPy string

//go:embed parquet_files.py
var parquetFilesPy string

// readbackScript is readback.py with parquet_files.py before it: Python reads it on stdin.
var readbackScript = parquetFilesPy + "\n" + readbackPy

// Table is a set of rows of canonical cell values (nil = NULL), comparable across sources.
//
// Rows are sorted by the integer value of SortColumn, then by the whole row (NULL before any
// string, strings bytewise), so two tables holding the same multiset of rows are equal
// element by element. Every row has len(Columns) cells, in the order of Columns.
type Table struct {
	Columns []string
	// Types maps each column to its source's type name: the reader's for Parquet (for example
	// "decimal128(12, 2)" or "DECIMAL(12,2)"), format_type's for PostgreSQL when known.
	Types map[string]string
	Rows  [][]*string
	// Source says where the values came from: "postgres", or the reader and its version
	// ("pyarrow 26.0.1").
	Source string
	// SortColumn is the column that orders Rows; Diff pairs rows by its value.
	SortColumn string
}

// Python returns the interpreter that has pyarrow and duckdb installed: $PGPARQUET_PYTHON if set
// (a path, or a name looked up in $PATH), else .venv/bin/python in the module root, found by
// walking up from the working directory to go.mod. It fails, rather than letting tests skip,
// when the interpreter is missing, and says how to create it.
func Python() (string, error) {
	if p := os.Getenv(PythonEnv); p != "" {
		if !strings.ContainsRune(p, filepath.Separator) {
			found, err := exec.LookPath(p)
			if err != nil {
				return "", fmt.Errorf("python from $%s: %w", PythonEnv, err)
			}
			return found, nil
		}
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("python from $%s: %w", PythonEnv, err)
		}
		return p, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, ".venv", "bin", "python")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("python with pyarrow and duckdb not found (%w): run `make venv` in %s to create .venv from requirements-test.txt, or set $%s", err, root, PythonEnv)
	}
	return p, nil
}

// SparkPythonEnv names the environment variable that overrides the interpreter SparkPython
// returns.
const SparkPythonEnv = "PGPARQUET_SPARK_PYTHON"

// SparkPython returns the interpreter that has pyspark and pyarrow installed (Spark itself
// needs Java 17 or later): $PGPARQUET_SPARK_PYTHON if set, else .venv-readers/bin/python in the
// module root (`make readers-venv` creates it from requirements-readers.txt). It checks that
// pyspark imports, so that a test can skip with the reason when it does not.
func SparkPython(ctx context.Context) (string, error) {
	p := os.Getenv(SparkPythonEnv)
	if p == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		p = filepath.Join(root, ".venv-readers", "bin", "python")
	}
	found, err := exec.LookPath(p)
	if err != nil {
		return "", fmt.Errorf("python with pyspark: %w (run `make readers-venv`, or set $%s)", err, SparkPythonEnv)
	}
	out, err := exec.CommandContext(ctx, found, "-c", "import pyspark, pyarrow").CombinedOutput()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		return "", fmt.Errorf("python with pyspark: %s: %w: %s (run `make readers-venv`, or set $%s)", found, err, lines[len(lines)-1], SparkPythonEnv)
	}
	return found, nil
}

// moduleRoot walks up from the working directory to the directory holding go.mod.
func moduleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("find module root: no go.mod in %s or above it", wd)
		}
	}
}

// readbackDoc is what readback.py prints.
type readbackDoc struct {
	Reader  string            `json:"reader"`
	Version string            `json:"version"`
	Columns []string          `json:"columns"`
	Types   map[string]string `json:"types"`
	Rows    [][]*string       `json:"rows"`
}

// FromParquet reads the Parquet files in paths with reader (ReaderPyArrow, ReaderDuckDB or
// ReaderSpark) and returns their rows in canonical form, sorted by sortColumn, which must hold
// integers with no NULL. A path that is a directory stands for every *.parquet file directly inside it, except
// dot-files. All files must have the same schema. It runs readback.py (embedded in this package)
// with the interpreter from Python (SparkPython for ReaderSpark); errors include the script's
// stderr.
func FromParquet(ctx context.Context, reader string, sortColumn string, paths ...string) (*Table, error) {
	if reader != ReaderPyArrow && reader != ReaderDuckDB && reader != ReaderSpark {
		return nil, fmt.Errorf("read back parquet: unknown reader %q (want %q, %q or %q)", reader, ReaderPyArrow, ReaderDuckDB, ReaderSpark)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("read back parquet with %s: no paths given", reader)
	}
	var py string
	var err error
	if reader == ReaderSpark {
		py, err = SparkPython(ctx)
	} else {
		py, err = Python()
	}
	if err != nil {
		return nil, fmt.Errorf("read back parquet with %s: %w", reader, err)
	}
	var doc readbackDoc
	args := append([]string{"--reader", reader, "--sort-column", sortColumn, "--"}, paths...)
	if err := runScript(ctx, py, readbackScript, args, &doc); err != nil {
		return nil, fmt.Errorf("read back %s with %s: %w", strings.Join(paths, " "), reader, err)
	}
	if doc.Reader != reader {
		return nil, fmt.Errorf("read back %s with %s: script answered for reader %q", strings.Join(paths, " "), reader, doc.Reader)
	}
	for i, r := range doc.Rows {
		if len(r) != len(doc.Columns) {
			return nil, fmt.Errorf("read back %s with %s: row %d has %d cells for %d columns", strings.Join(paths, " "), reader, i, len(r), len(doc.Columns))
		}
	}
	return &Table{
		Columns:    doc.Columns,
		Types:      doc.Types,
		Rows:       doc.Rows,
		Source:     doc.Reader + " " + doc.Version,
		SortColumn: sortColumn,
	}, nil
}

// runScript runs script (Python source) with interpreter py and args, and decodes the JSON
// document it prints into doc; a failure or output that does not decode is an error carrying
// what the script said on stderr.
func runScript(ctx context.Context, py, script string, args []string, doc any) error {
	cmd := exec.CommandContext(ctx, py, append([]string{"-"}, args...)...)
	cmd.Stdin = strings.NewReader(script)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w\n%s", err, strings.TrimSpace(stderr.String()))
	}
	if err := json.Unmarshal(stdout.Bytes(), doc); err != nil {
		return fmt.Errorf("decode output: %w\nstderr:\n%s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// sortRows orders rows as readback.py does: by the integer in column key, then by the whole row
// with NULL before any string. It fails when a key is NULL or not an integer.
func sortRows(rows [][]*string, key int, keyName string) error {
	type keyed struct {
		k   *big.Int
		row []*string
	}
	ks := make([]keyed, len(rows))
	for i, r := range rows {
		k, err := parseKey(r[key])
		if err != nil {
			return fmt.Errorf("sort column %s: %w", keyName, err)
		}
		ks[i] = keyed{k, r}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		if c := a.k.Cmp(b.k); c != 0 {
			return c
		}
		return compareRows(a.row, b.row)
	})
	for i := range ks {
		rows[i] = ks[i].row
	}
	return nil
}

func parseKey(s *string) (*big.Int, error) {
	if s == nil {
		return nil, errors.New("NULL value")
	}
	v := *s
	digits := strings.TrimPrefix(v, "-")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return nil, fmt.Errorf("value %q is not an integer", v)
	}
	k, ok := new(big.Int).SetString(v, 10)
	if !ok {
		return nil, fmt.Errorf("value %q is not an integer", v)
	}
	return k, nil
}

func compareRows(a, b []*string) int {
	for i := range min(len(a), len(b)) {
		if c := compareCell(a[i], b[i]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

func compareCell(a, b *string) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return strings.Compare(*a, *b)
}
