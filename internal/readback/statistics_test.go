package readback_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/pgparquet/pgparquet/internal/readback"
)

// statsWriterScript writes, with pyarrow (arrow C++, a writer independent of ours), a table of
// every type CheckStatistics orders (signed and unsigned ints, floats with NaN, -0.0 and
// infinities, strings with "" and U+FFFF, binary, uuid, decimals of 9, 38 and 76 digits,
// dates, timestamps of three units, times, float16, booleans), an all-NULL column, an all-NaN
// one, a dictionary, and nested ones (lists with NULL and empty lists, lists of lists, a struct
// holding a list, a map), with NULLs in every column, into argv[1] in three layouts: small
// V1 pages with a page index, V2 pages without dictionaries, and decimals stored as integers.
const statsWriterScript = `
import decimal, random, sys, uuid
import pyarrow as pa, pyarrow.parquet as pq

random.seed(7)
n = 2000
D = decimal.Decimal
def maybe(v, i, k=7):
    return None if i % k == 0 else v
def rnd(a, b):
    return random.randint(a, b)
cols = {
    "i8": pa.array([maybe(rnd(-128, 127), i) for i in range(n)], pa.int8()),
    "i64": pa.array([maybe(rnd(-2**63, 2**63 - 1), i) for i in range(n)], pa.int64()),
    "u32": pa.array([maybe(rnd(0, 2**32 - 1), i) for i in range(n)], pa.uint32()),
    "u64": pa.array([maybe(rnd(0, 2**64 - 1), i) for i in range(n)], pa.uint64()),
    "f4": pa.array([maybe(random.choice([0.0, -0.0, float("nan"), float("inf"), -1.5, 2.25]), i) for i in range(n)], pa.float32()),
    "f8": pa.array([maybe(random.choice([0.0, -0.0, float("nan"), 1e300, -1e-300]), i) for i in range(n)], pa.float64()),
    "zeros": pa.array([maybe(random.choice([0.0, -0.0]), i) for i in range(n)], pa.float64()),
    "nans": pa.array([maybe(float("nan"), i) for i in range(n)], pa.float64()),
    "b": pa.array([maybe(i % 3 == 0, i) for i in range(n)], pa.bool_()),
    "s": pa.array([maybe(random.choice(["", "a", "é", "zz", "\x00", "\uffff"]) + str(i % 50), i) for i in range(n)], pa.string()),
    "ls": pa.array([maybe("x" * rnd(0, 300), i) for i in range(n)], pa.large_string()),
    "bin": pa.array([maybe(bytes(rnd(0, 255) for _ in range(rnd(0, 5))), i) for i in range(n)], pa.binary()),
    "u": pa.ExtensionArray.from_storage(pa.uuid(), pa.array([maybe(uuid.UUID(int=random.getrandbits(128)).bytes, i) for i in range(n)], pa.binary(16))),
    "d9": pa.array([maybe(D(rnd(-10**9 + 1, 10**9 - 1)).scaleb(-2), i) for i in range(n)], pa.decimal128(9, 2)),
    "d38": pa.array([maybe(D(rnd(-10**38 + 1, 10**38 - 1)).scaleb(-10), i) for i in range(n)], pa.decimal128(38, 10)),
    "d76": pa.array([maybe(D(rnd(-10**70, 10**70)).scaleb(-5), i) for i in range(n)], pa.decimal256(76, 5)),
    "d": pa.array([maybe(rnd(-2**31, 2**31 - 1), i) for i in range(n)], pa.int32()).cast(pa.date32()),
    "ts": pa.array([maybe(rnd(-2**63 + 1, 2**63 - 1), i) for i in range(n)], pa.int64()).cast(pa.timestamp("us")),
    "tms": pa.array([maybe(rnd(-2**40, 2**40), i) for i in range(n)], pa.int64()).cast(pa.timestamp("ms", tz="UTC")),
    "tns": pa.array([maybe(rnd(-2**62, 2**62), i) for i in range(n)], pa.int64()).cast(pa.timestamp("ns")),
    "tm": pa.array([maybe(rnd(0, 86400 * 10**6), i) for i in range(n)], pa.int64()).cast(pa.time64("us")),
    "h": pa.array([maybe(random.choice([0.0, -0.0, 1.5, -2.0]), i) for i in range(n)], pa.float64()).cast(pa.float16()),
    "allnull": pa.array([None] * n, pa.string()),
    "dict": pa.array([maybe(random.choice(["p", "q", "r"]), i) for i in range(n)], pa.string()).dictionary_encode(),
    "li": pa.array([maybe([maybe(rnd(-5, 5), j, 3) for j in range(rnd(0, 4))], i) for i in range(n)], pa.list_(pa.int32())),
    "lls": pa.array([maybe([maybe([maybe(str(rnd(0, 99)), k, 4) for k in range(rnd(0, 3))], j, 3) for j in range(rnd(0, 3))], i)
                     for i in range(n)], pa.list_(pa.list_(pa.string()))),
    "st": pa.array([maybe({"a": maybe(rnd(0, 9), i, 5), "l": maybe([str(i)] * rnd(0, 2), i, 3)}, i) for i in range(n)],
                   pa.struct([("a", pa.int16()), ("l", pa.list_(pa.string()))])),
    "m": pa.array([maybe([(str(j), maybe(j, j, 2)) for j in range(rnd(0, 3))], i) for i in range(n)], pa.map_(pa.string(), pa.int64())),
}
t = pa.table(cols)
out = sys.argv[1]
pq.write_table(t, out + "/v1.parquet", row_group_size=700, data_page_size=2000, write_page_index=True)
pq.write_table(t, out + "/v2.parquet", row_group_size=500, data_page_size=500, data_page_version="2.0", use_dictionary=False,
               compression="zstd", write_page_index=True)
pq.write_table(t, out + "/ints.parquet", row_group_size=1500, store_decimal_as_integer=True)
`

// TestCheckStatisticsPassesTrueStatistics: files whose statistics are the true ones pass, and
// the check compares what they hold. arrow C++ (pyarrow) writes chunk statistics, page-header
// statistics (V1 and V2 pages) and page indexes for every type the check orders, nested columns
// included; arrow-go writes the same kinds of file with a page index. A directory stands for
// its .parquet files, dot-files and other names left out.
func TestCheckStatisticsPassesTrueStatistics(t *testing.T) {
	ctx := context.Background()
	pyDir := t.TempDir()
	py, err := readback.Python()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(py, "-c", statsWriterScript, pyDir).CombinedOutput(); err != nil {
		t.Fatalf("write files with pyarrow: %v\n%s", err, out)
	}
	for name, content := range map[string]string{"_manifest.json": "{}", ".part-9.parquet": "not parquet"} {
		if err := os.WriteFile(filepath.Join(pyDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goFile := filepath.Join(t.TempDir(), "arrow-go.parquet")
	writeGoStatsFile(t, goFile, parquet.WithCompression(compress.Codecs.Snappy))
	goIndexed := filepath.Join(t.TempDir(), "arrow-go-indexed.parquet")
	writeGoStatsFile(t, goIndexed, parquet.WithPageIndexEnabled(true), parquet.WithDataPageVersion(parquet.DataPageV2))
	for _, tc := range []struct {
		name  string
		path  string
		files int
		// pageStats: the pages' headers hold statistics (writers leave them out of pages that
		// a page index describes); indexes: the files have page indexes.
		pageStats, indexes bool
	}{
		{"pyarrow", pyDir, 3, true, true},
		{"arrow-go", goFile, 1, true, false},
		{"arrow-go with a page index", goIndexed, 1, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readback.CheckStatistics(ctx, tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if got.Files != tc.files || got.RowGroups < tc.files || got.Chunks == 0 || got.ChunkNullCounts != got.Chunks ||
				got.ChunkMinMax == 0 || got.ChunkDeprecatedMinMax == 0 || got.Pages < got.Chunks {
				t.Errorf("checked %+v: want every chunk's NULL count and min/max compared", got)
			}
			if tc.pageStats && (got.PageNullCounts == 0 || got.PageMinMax == 0) {
				t.Errorf("checked %+v: want pages' NULL counts and min/max compared", got)
			}
			if tc.indexes && (got.ColumnIndexes == 0 || got.OffsetIndexes != got.ColumnIndexes) {
				t.Errorf("checked %+v: want the page indexes compared", got)
			}
		})
	}
}

// goStatsRows is how many rows writeGoStatsFile writes.
const goStatsRows = 98

// Values in writeGoStatsFile's file that its footer holds once each (as statistics) and that
// TestCheckStatisticsFindsWrongStatistics patches.
const (
	minID    = -0x0123456789abcdef // column id's min
	maxS     = "s-max-zzzz"        // column s's max
	sNulls   = 37                  // column s's NULLs
	listMinV = 5                   // the least element of column l
)

// writeGoStatsFile writes with arrow-go's pqarrow, in one row group, goStatsRows rows: id
// (int64, minID among small ones), s (strings up to maxS, sNulls NULLs), f (float64: -0.0,
// +0.0, 1.5, NaN, so its min is -0.0) and l (list<int32> without NULL elements).
func writeGoStatsFile(t *testing.T, path string, opts ...parquet.WriterProperty) {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	id := b.Field(0).(*array.Int64Builder)
	s := b.Field(1).(*array.StringBuilder)
	f := b.Field(2).(*array.Float64Builder)
	l := b.Field(3).(*array.ListBuilder)
	lv := l.ValueBuilder().(*array.Int32Builder)
	floats := []float64{math.Copysign(0, -1), 0, 1.5, math.NaN()}
	for i := range goStatsRows {
		switch i {
		case 50:
			id.Append(minID)
			s.Append(maxS)
		default:
			id.Append(int64(i))
			if i%2 == 1 && i <= 2*sNulls {
				s.AppendNull()
			} else {
				s.Append("s-" + string(rune('0'+i%10)) + string(rune('0'+i/10)))
			}
		}
		f.Append(floats[i%len(floats)])
		l.Append(true)
		lv.AppendValues([]int32{int32(listMinV + i%3), int32(100 + i)}, nil)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	writeGoFile(t, path, sc, []arrow.RecordBatch{rec}, opts...)
}

// writeGoFile writes recs with pqarrow's buffered writer into one row group (no dictionaries,
// statistics on).
func writeGoFile(t *testing.T, path string, sc *arrow.Schema, recs []arrow.RecordBatch, opts ...parquet.WriterProperty) {
	t.Helper()
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	props := parquet.NewWriterProperties(append([]parquet.WriterProperty{parquet.WithDictionaryDefault(false), parquet.WithStats(true)}, opts...)...)
	w, err := pqarrow.NewFileWriter(sc, out, props, pqarrow.NewArrowWriterProperties())
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if err := w.WriteBuffered(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// Which occurrences patch replaces.
const (
	every = iota
	first
	last
)

// patch replaces old by new in b[lo:hi]: the first occurrence, the last, or every one, which
// must then be want of them.
func patch(t *testing.T, b []byte, lo, hi int, old, new []byte, which, want int) {
	t.Helper()
	if len(old) != len(new) {
		t.Fatalf("patch of %d bytes by %d", len(old), len(new))
	}
	region := b[lo:hi]
	if which != every {
		k := bytes.Index(region, old)
		if which == last {
			k = bytes.LastIndex(region, old)
		}
		if k < 0 {
			t.Fatalf("%x not in bytes %d-%d", old, lo, hi)
		}
		copy(region[k:], new)
		return
	}
	if n := bytes.Count(region, old); n != want {
		t.Fatalf("%x occurs %d times in bytes %d-%d, want %d", old, n, lo, hi, want)
	}
	copy(region, bytes.ReplaceAll(region, old, new))
}

// footer is where the Parquet footer (the Thrift FileMetaData) of file b lies.
func footer(t *testing.T, b []byte) (lo, hi int) {
	t.Helper()
	if len(b) < 12 || string(b[len(b)-4:]) != "PAR1" {
		t.Fatal("not a Parquet file")
	}
	n := int(binary.LittleEndian.Uint32(b[len(b)-8:]))
	return len(b) - 8 - n, len(b) - 8
}

func le64(v int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(v)) }

// TestCheckStatisticsFindsWrongStatistics: a statistic that is not the true one is an error
// line naming file, row group, column (and page), what it claims and what is true. The wrong
// statistics are the footer's, a page header's or a column index's of a file arrow-go wrote,
// patched in place: a string max below a value (the bug of 173c0f2), an int64 min above one
// (both its fields, new and deprecated), a NULL count one too many, a zero min written +0.0
// where the spec says -0.0; and, unpatched, what arrow-go v18.8.0 writes for a list whose
// batch holds as many values as NULL and empty lists: a chunk min above a value it holds.
func TestCheckStatisticsFindsWrongStatistics(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.parquet")
	writeGoStatsFile(t, good)
	indexed := filepath.Join(dir, "indexed.parquet")
	writeGoStatsFile(t, indexed, parquet.WithPageIndexEnabled(true))
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	origIndexed, err := os.ReadFile(indexed)
	if err != nil {
		t.Fatal(err)
	}
	// The first data page of column s, whose header holds the page's statistics.
	rdr, err := file.OpenParquetFile(good, false)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := rdr.MetaData().RowGroup(0).ColumnChunk(1)
	rdr.Close()
	if err != nil {
		t.Fatal(err)
	}
	sPage := int(cc.DataPageOffset())
	negZero := le64(int64(math.Float64bits(math.Copysign(0, -1))))
	zigzag := func(v int64) byte { return byte(v << 1) } // one byte for small counts

	for _, tc := range []struct {
		name    string
		indexed bool // patch the file with a page index
		patch   func(t *testing.T, b []byte)
		want    []string // the error's lines, each after the file name
	}{
		{"string max below a value", false, func(t *testing.T, b []byte) {
			lo, hi := footer(t, b)
			patch(t, b, lo, hi, []byte(maxS), []byte("s-max-zzzy"), every, 1)
		}, []string{` row group 0 column s: max claims 's-max-zzzy', true max 's-max-zzzz'`}},
		{"int64 min above a value", false, func(t *testing.T, b []byte) {
			lo, hi := footer(t, b)
			patch(t, b, lo, hi, le64(minID), le64(minID+1), every, 2)
		}, []string{
			` row group 0 column id: min claims -81985529216486894, true min -81985529216486895`,
			` row group 0 column id: deprecated min claims -81985529216486894, true min -81985529216486895`,
		}},
		{"NULL count", false, func(t *testing.T, b []byte) {
			lo, hi := footer(t, b)
			// Statistics of s: null_count (field 3, i64), then max_value (field 5, binary).
			old := append([]byte{0x36, zigzag(sNulls), 0x28, byte(len(maxS))}, maxS...)
			patch(t, b, lo, hi, old, append([]byte{0x36, zigzag(sNulls + 1), 0x28, byte(len(maxS))}, maxS...), every, 1)
		}, []string{` row group 0 column s: null_count claims 38, true 37`}},
		{"zero min not -0.0", false, func(t *testing.T, b []byte) {
			lo, hi := footer(t, b)
			patch(t, b, lo, hi, negZero, le64(0), every, 2)
		}, []string{
			` row group 0 column f: min claims 0.0, true min -0.0`,
			` row group 0 column f: deprecated min claims 0.0, true min -0.0`,
		}},
		{"page header max below a value", false, func(t *testing.T, b []byte) {
			patch(t, b, sPage, len(b), []byte(maxS), []byte("s-max-zzzy"), first, 0)
		}, []string{` row group 0 column s page 0 (levels 0-97): max claims 's-max-zzzy', true max 's-max-zzzz'`}},
		{"column index max below a value", true, func(t *testing.T, b []byte) {
			lo, _ := footer(t, b) // the page index lies before the footer, after the pages
			patch(t, b, 0, lo, []byte(maxS), []byte("s-max-zzzy"), last, 0)
		}, []string{` row group 0 column s column index page 0 (levels 0-97): claims min 's-00' max 's-max-zzzy', true min 's-00' max 's-max-zzzz'`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(orig)
			if tc.indexed {
				b = bytes.Clone(origIndexed)
			}
			tc.patch(t, b)
			path := filepath.Join(t.TempDir(), "wrong.parquet")
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			checkWrong(ctx, t, path, tc.want)
		})
	}

	t.Run("arrow-go list batch", func(t *testing.T) {
		sc := arrow.NewSchema([]arrow.Field{{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int32), Nullable: true}}, nil)
		var recs []arrow.RecordBatch
		for _, js := range []string{`[{"l": [5, null]}, {"l": []}]`, `[{"l": [7]}, {"l": [8]}]`} {
			rec, _, err := array.RecordFromJSON(memory.DefaultAllocator, sc, strings.NewReader(js))
			if err != nil {
				t.Fatal(err)
			}
			defer rec.Release()
			recs = append(recs, rec)
		}
		path := filepath.Join(t.TempDir(), "lists.parquet")
		writeGoFile(t, path, sc, recs)
		checkWrong(ctx, t, path, []string{
			` row group 0 column l.list.element: min claims 7, true min 5`,
			` row group 0 column l.list.element: deprecated min claims 7, true min 5`,
			` row group 0 column l.list.element page 0 (levels 0-4): min claims 7, true min 5`,
			` row group 0 column l.list.element page 0 (levels 0-4): deprecated min claims 7, true min 5`,
		})
	})
}

// checkWrong requires CheckStatistics of path to fail with a *StatisticsError of exactly the
// lines path+want[i].
func checkWrong(ctx context.Context, t *testing.T, path string, want []string) {
	t.Helper()
	_, err := readback.CheckStatistics(ctx, path)
	var se *readback.StatisticsError
	if !errors.As(err, &se) {
		t.Fatalf("CheckStatistics: %v, want a *StatisticsError", err)
	}
	var lines []string
	for _, w := range want {
		lines = append(lines, path+w)
	}
	if strings.Join(se.Lines, "\n") != strings.Join(lines, "\n") || se.More != 0 {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(se.Lines, "\n"), strings.Join(lines, "\n"))
	}
	if !strings.Contains(err.Error(), lines[0]) {
		t.Errorf("error %q does not show its first line", err)
	}
}

// TestCheckStatisticsErrors: paths that are not Parquet files fail with what is wrong.
func TestCheckStatisticsErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	notParquet := filepath.Join(dir, "x.parquet")
	if err := os.WriteFile(notParquet, []byte("not a parquet file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		paths   []string
		wantErr string
	}{
		{"no paths", nil, "no paths given"},
		{"missing", []string{filepath.Join(dir, "absent")}, "no such file or directory"},
		{"no files", []string{t.TempDir()}, "no .parquet files in"},
		{"not Parquet", []string{notParquet}, "no PAR1 magic at the end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readback.CheckStatistics(ctx, tc.paths...)
			var se *readback.StatisticsError
			if err == nil || errors.As(err, &se) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("CheckStatistics error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
