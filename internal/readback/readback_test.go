package readback_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/internal/readback"
)

var shared pgtest.Shared

func TestMain(m *testing.M) { pgtest.Main(m, &shared) }

// null marks a NULL in the string slices of the test tables.
const null = "\x00NULL"

// edgeTableName is the edge table, quoted as callers pass it (pgx.Identifier.Sanitize's form).
const edgeTableName = `"s"."Edge Table"`

// edgeColumn is one column of the edge table: how PostgreSQL declares and fills it, the
// canonical values it must give, and how the test writes the same values to Parquet.
type edgeColumn struct {
	name   string
	pgType string   // as in CREATE TABLE
	oid    uint32   // base type OID that ColumnsOf must report
	sql    []string // one SQL expression per row, in the order of ids
	want   []string // canonical value per row; null for NULL
	// writeAs says how writerScript builds the Parquet column from the canonical values.
	writeAs     string
	pyarrowType string // the type name each reader reports for the written column
	duckdbType  string
}

// edgeColumns is the edge table: an int8 id (sort keys whose text order differs from their
// numeric order), then one or more columns of each type readback handles, with edge values and
// a NULL in each.
func edgeColumns() []edgeColumn {
	ids := []string{"-10", "-2", "0", "1", "2", "9", "10", "100", "1000", "123456789012"}
	same := func(v ...string) []string { return v }
	// quoted turns canonical text values into SQL literals (NULL stays NULL).
	quoted := func(v ...string) []string {
		out := make([]string, len(v))
		for i, s := range v {
			if s == null {
				out[i] = "NULL"
			} else {
				out[i] = "'" + strings.ReplaceAll(s, "'", "''") + "'"
			}
		}
		return out
	}
	uuids := same("'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'00000000-0000-0000-0000-000000000000'",
		"'ffffffff-ffff-ffff-ffff-ffffffffffff'", "NULL", "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12'",
		"'{00010203-0405-0607-0809-0a0b0c0d0e0f}'", "'11111111111111111111111111111111'",
		"'80000000-0000-0000-0000-000000000000'", "'7fffffff-ffff-ffff-ffff-ffffffffffff'", "'01234567-89ab-cdef-0123-456789abcdef'")
	uuidHex := same("a0eebc999c0b4ef8bb6d6bb9bd380a11", "00000000000000000000000000000000",
		"ffffffffffffffffffffffffffffffff", null, "a0eebc999c0b4ef8bb6d6bb9bd380a12",
		"000102030405060708090a0b0c0d0e0f", "11111111111111111111111111111111",
		"80000000000000000000000000000000", "7fffffffffffffffffffffffffffffff", "0123456789abcdef0123456789abcdef")
	texts := same("", "héllo ✓ 𝄞", "line\nbreak\ttab \"q\" \\ back", "NULL", " lead and trail ",
		strings.Repeat("x", 300), null, "a'b", "b", "日本語")
	return []edgeColumn{
		{name: "id", pgType: "int8", oid: 20, sql: ids, want: ids,
			writeAs: "int64", pyarrowType: "int64", duckdbType: "BIGINT"},
		{name: "b", pgType: "bool", oid: 16,
			sql:     same("true", "false", "NULL", "true", "false", "true", "false", "true", "false", "true"),
			want:    same("t", "f", null, "t", "f", "t", "f", "t", "f", "t"),
			writeAs: "bool", pyarrowType: "bool", duckdbType: "BOOLEAN"},
		{name: "i2", pgType: "int2", oid: 21,
			sql:     same("-32768", "32767", "0", "NULL", "-1", "1", "42", "7", "100", "-100"),
			want:    same("-32768", "32767", "0", null, "-1", "1", "42", "7", "100", "-100"),
			writeAs: "int16", pyarrowType: "int16", duckdbType: "SMALLINT"},
		{name: "i4", pgType: "int4", oid: 23,
			sql:     same("-2147483648", "2147483647", "0", "NULL", "-1", "1", "42", "7", "100", "-100"),
			want:    same("-2147483648", "2147483647", "0", null, "-1", "1", "42", "7", "100", "-100"),
			writeAs: "int32", pyarrowType: "int32", duckdbType: "INTEGER"},
		{name: "i8", pgType: "int8", oid: 20,
			sql:     same("-9223372036854775808", "9223372036854775807", "0", "NULL", "-1", "1", "42", "7", "100", "-100"),
			want:    same("-9223372036854775808", "9223372036854775807", "0", null, "-1", "1", "42", "7", "100", "-100"),
			writeAs: "int64", pyarrowType: "int64", duckdbType: "BIGINT"},
		{name: "f4", pgType: "float4", oid: 700,
			sql: quoted("0", "-0", "NaN", "Infinity", "-Infinity", "1.1", "1.4e-45", "3.4028235e38",
				"-1.17549435e-38", null),
			want: same("00000000", "80000000", "7fc00000", "7f800000", "ff800000", "3f8ccccd", "00000001",
				"7f7fffff", "80800000", null),
			writeAs: "float32", pyarrowType: "float", duckdbType: "FLOAT"},
		{name: "f8", pgType: "float8", oid: 701,
			sql: quoted("0", "-0", "NaN", "Infinity", "-Infinity", "0.1", "5e-324", "1.7976931348623157e308",
				"-2.2250738585072014e-308", null),
			want: same("0000000000000000", "8000000000000000", "7ff8000000000000", "7ff0000000000000",
				"fff0000000000000", "3fb999999999999a", "0000000000000001", "7fefffffffffffff",
				"8010000000000000", null),
			writeAs: "float64", pyarrowType: "double", duckdbType: "DOUBLE"},
		{name: "n", pgType: "numeric(12,2)", oid: 1700,
			sql: same("1.5", "-0.01", "-0.001", "9999999999.99", "-9999999999.99", "0.1", "123", "-5.5",
				"0.005", "NULL"),
			want: same("1.50", "-0.01", "0.00", "9999999999.99", "-9999999999.99", "0.10", "123.00", "-5.50",
				"0.01", null),
			writeAs: "decimal128(12,2)", pyarrowType: "decimal128(12, 2)", duckdbType: "DECIMAL(12,2)"},
		{name: "n38", pgType: "numeric(38,18)", oid: 1700,
			sql: same("12345678901234567890.123456789012345678", "-99999999999999999999.999999999999999999",
				"0", "NULL", "1e-18", "-1e-18", "1", "-1", "0.5", "100"),
			want: same("12345678901234567890.123456789012345678", "-99999999999999999999.999999999999999999",
				"0.000000000000000000", null, "0.000000000000000001", "-0.000000000000000001",
				"1.000000000000000000", "-1.000000000000000000", "0.500000000000000000", "100.000000000000000000"),
			writeAs: "decimal128(38,18)", pyarrowType: "decimal128(38, 18)", duckdbType: "DECIMAL(38,18)"},
		{name: "t", pgType: "text", oid: 25, sql: quoted(texts...), want: texts,
			writeAs: "string", pyarrowType: "string", duckdbType: "VARCHAR"},
		{name: `Vc "x"`, pgType: "varchar(10)", oid: 1043,
			sql:     quoted("abc", "", "ten chars!", null, "é", "  ", "x", "y", "z", "0"),
			want:    same("abc", "", "ten chars!", null, "é", "  ", "x", "y", "z", "0"),
			writeAs: "string", pyarrowType: "string", duckdbType: "VARCHAR"},
		{name: "nm", pgType: "name", oid: 19,
			sql:     quoted("pg_class", "", null, "Name With Space", "x", "y", "z", "é", "1", "2"),
			want:    same("pg_class", "", null, "Name With Space", "x", "y", "z", "é", "1", "2"),
			writeAs: "string", pyarrowType: "string", duckdbType: "VARCHAR"},
		{name: "bp", pgType: "char(5)", oid: 1042,
			sql:     quoted("ab", "", "abcde", null, "é", " a", "a b", "x", "y  ", "z"),
			want:    same("ab   ", "     ", "abcde", null, "é    ", " a   ", "a b  ", "x    ", "y    ", "z    "),
			writeAs: "string", pyarrowType: "string", duckdbType: "VARCHAR"},
		{name: "by", pgType: "bytea", oid: 17,
			sql: same(`'\x'`, `'\x00ff10'`, `'\xdeadbeef'`, "NULL", "decode(repeat('ab', 100), 'hex')",
				`'\x00'`, "'abc'::bytea", `'\x0a'`, `'\xff'`, `'\x7f80'`),
			want:    same("", "00ff10", "deadbeef", null, strings.Repeat("ab", 100), "00", "616263", "0a", "ff", "7f80"),
			writeAs: "binary", pyarrowType: "binary", duckdbType: "BLOB"},
		{name: "u", pgType: "uuid", oid: 2950, sql: uuids, want: uuidHex,
			writeAs: "uuid_fsb", pyarrowType: "fixed_size_binary[16]", duckdbType: "BLOB"},
		{name: "ux", pgType: "uuid", oid: 2950, sql: uuids, want: uuidHex,
			writeAs: "uuid", pyarrowType: "extension<arrow.uuid>", duckdbType: "UUID"},
		{name: "j", pgType: "json", oid: 114,
			sql: quoted(`{"b": 1,  "a": [1, 2]}`, `"str"`, "null", "[]", `{"k": "\u00e9"}`, null, "1.0e3",
				"true", "{}", `"é"`),
			want: same(`{"b": 1,  "a": [1, 2]}`, `"str"`, "null", "[]", `{"k": "\u00e9"}`, null, "1.0e3",
				"true", "{}", `"é"`),
			writeAs: "json", pyarrowType: "extension<arrow.json>", duckdbType: "JSON"},
		{name: "jb", pgType: "jsonb", oid: 3802,
			sql: quoted(`{"b": 1,  "a": [1, 2]}`, `"str"`, "null", "[]", `{"k": "\u00e9"}`, null, "1.0e3",
				"true", "{}", `"é"`),
			want: same(`{"a": [1, 2], "b": 1}`, `"str"`, "null", "[]", `{"k": "é"}`, null, "1000",
				"true", "{}", `"é"`),
			writeAs: "string", pyarrowType: "string", duckdbType: "VARCHAR"},
		{name: "d", pgType: "date", oid: 1082,
			sql: quoted("infinity", "-infinity", "1970-01-01", "1969-12-31", "2000-02-29", "4714-11-24 BC",
				"5874897-12-31", "0001-01-01", "0044-03-15 BC", null),
			want: same("2147483647", "-2147483648", "0", "-1", "11016", "-2440588", "2145042905", "-719162",
				"-735160", null),
			writeAs: "date32", pyarrowType: "date32[day]", duckdbType: "DATE"},
		{name: "ts", pgType: "timestamp", oid: 1114,
			sql: quoted("infinity", "-infinity", "1970-01-01 00:00:00", "1969-12-31 23:59:59.999999",
				"2000-01-01 00:00:00.000001", "4714-11-24 00:00:00 BC", "1900-06-15 12:34:56.789012",
				"294247-01-10 04:00:54.775806", null, "9999-12-31 23:59:59.999999"),
			want: same("9223372036854775807", "-9223372036854775808", "0", "-1", "946684800000001",
				"-210866803200000000", "-2194687503210988", "9223372036854775806", null, "253402300799999999"),
			writeAs: "timestamp_us", pyarrowType: "timestamp[us]", duckdbType: "TIMESTAMP"},
		{name: "tz", pgType: "timestamptz", oid: 1184,
			sql: quoted("infinity", "-infinity", "1970-01-01 00:00:00+00", "1970-01-01 01:00:00+01",
				"2000-01-01 00:00:00.5-08", "4714-11-24 00:00:00+00 BC", null, "1969-12-31 23:59:59.999999+00",
				"2021-03-14 02:30:00-05", "2038-01-19 03:14:08+00"),
			want: same("9223372036854775807", "-9223372036854775808", "0", "0", "946713600500000",
				"-210866803200000000", null, "-1", "1615707000000000", "2147483648000000"),
			writeAs: "timestamptz_us", pyarrowType: "timestamp[us, tz=UTC]", duckdbType: "TIMESTAMP WITH TIME ZONE"},
		{name: "ip", pgType: "inet", oid: 869,
			sql: quoted("10.1.2.3/8", "::1", "0.0.0.0", null, "192.168.0.1", "2001:db8::/32", "255.255.255.255",
				"10.0.0.1/32", "fe80::1/64", "1.2.3.4/24"),
			// As inet_out prints them (a cast to text would add /32 and /128).
			want: same("10.1.2.3/8", "::1", "0.0.0.0", null, "192.168.0.1", "2001:db8::/32", "255.255.255.255",
				"10.0.0.1", "fe80::1/64", "1.2.3.4/24"),
			writeAs: "string", pyarrowType: "string", duckdbType: "VARCHAR"},
		{name: "pt", pgType: "point", oid: 600,
			sql:     quoted("(1,2)", "(0,0)", null, "(-1.5,2e300)", "(3,4)", "(5,6)", "(7,8)", "(9,10)", "(11,12)", "(13,14)"),
			want:    same("(1,2)", "(0,0)", null, "(-1.5,2e+300)", "(3,4)", "(5,6)", "(7,8)", "(9,10)", "(11,12)", "(13,14)"),
			writeAs: "string", pyarrowType: "string", duckdbType: "VARCHAR"},
		{name: "dm", pgType: "s.pos2", oid: 23,
			sql:     same("1", "2", "NULL", "2147483647", "3", "4", "5", "6", "7", "8"),
			want:    same("1", "2", null, "2147483647", "3", "4", "5", "6", "7", "8"),
			writeAs: "int32", pyarrowType: "int32", duckdbType: "INTEGER"},
	}
}

// edgeTableValues creates the edge table and reads it back with FromPostgres.
func edgeTableValues(t *testing.T) *readback.Table {
	t.Helper()
	ctx := context.Background()
	conn := edgeTable(t)
	cols, err := readback.ColumnsOf(ctx, conn, edgeTableName)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := readback.FromPostgres(ctx, conn, edgeTableName, "id", cols)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

// edgeTable creates the edge table in a fresh database and returns a connection whose session
// time zone is not UTC, so that canonical forms are shown not to depend on it.
func edgeTable(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn := pgtest.Connect(t, shared.NewDB(t))
	cols := edgeColumns()
	defs := make([]string, len(cols))
	for i, c := range cols {
		defs[i] = pgx.Identifier{c.name}.Sanitize() + " " + c.pgType
	}
	stmts := []string{
		"SET TimeZone = 'America/New_York'",
		"CREATE SCHEMA s",
		"CREATE DOMAIN s.pos AS int4 CHECK (VALUE > 0)",
		"CREATE DOMAIN s.pos2 AS s.pos",
		"CREATE TABLE " + edgeTableName + " (" + strings.Join(defs, ", ") + ")",
		"ALTER TABLE " + edgeTableName + " ADD COLUMN dropped int4",
		"ALTER TABLE " + edgeTableName + " DROP COLUMN dropped",
	}
	for r := range cols[0].sql {
		vals := make([]string, len(cols))
		for i, c := range cols {
			vals[i] = c.sql[r]
		}
		stmts = append(stmts, "INSERT INTO "+edgeTableName+" VALUES ("+strings.Join(vals, ", ")+")")
	}
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return conn
}

// wantTable is the canonical table the edge columns describe.
func wantTable(cols []edgeColumn) *readback.Table {
	tab := &readback.Table{Source: "test", SortColumn: "id"}
	for _, c := range cols {
		tab.Columns = append(tab.Columns, c.name)
	}
	for r := range cols[0].want {
		row := make([]*string, len(cols))
		for i, c := range cols {
			if v := c.want[r]; v != null {
				row[i] = &v
			}
		}
		tab.Rows = append(tab.Rows, row)
	}
	return tab
}

// writerScript writes a Parquet file with pyarrow from canonical values, building each Arrow
// array from the values' typed meaning (bits, days, microseconds) so that nothing passes through
// a lossy Python object.
const writerScript = `
import decimal, json, re, sys
import pyarrow as pa, pyarrow.parquet as pq

spec = json.load(open(sys.argv[1]))

def ints(vals, base=10):
    return [None if v is None else int(v, base) for v in vals]

def build(kind, vals):
    m = re.fullmatch(r"decimal128\((\d+),(\d+)\)", kind)
    if m:
        return pa.array([None if v is None else decimal.Decimal(v) for v in vals],
                        pa.decimal128(int(m.group(1)), int(m.group(2))))
    if kind == "bool":
        return pa.array([None if v is None else v == "t" for v in vals], pa.bool_())
    if kind in ("int16", "int32", "int64"):
        return pa.array(ints(vals), getattr(pa, kind)())
    if kind == "float32":
        return pa.array(ints(vals, 16), pa.uint32()).view(pa.float32())
    if kind == "float64":
        return pa.array(ints(vals, 16), pa.uint64()).view(pa.float64())
    if kind == "string":
        return pa.array(vals, pa.string())
    if kind == "json":
        return pa.ExtensionArray.from_storage(pa.json_(), pa.array(vals, pa.string()))
    if kind in ("binary", "uuid_fsb", "uuid"):
        hexed = [None if v is None else bytes.fromhex(v) for v in vals]
    if kind == "binary":
        return pa.array(hexed, pa.binary())
    if kind == "uuid_fsb":
        return pa.array(hexed, pa.binary(16))
    if kind == "uuid":
        return pa.ExtensionArray.from_storage(pa.uuid(), pa.array(hexed, pa.binary(16)))
    if kind == "date32":
        return pa.array(ints(vals), pa.int32()).cast(pa.date32())
    if kind == "timestamp_us":
        return pa.array(ints(vals), pa.int64()).cast(pa.timestamp("us"))
    if kind == "timestamptz_us":
        return pa.array(ints(vals), pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    if kind == "timestamp_ns":
        return pa.array(ints(vals), pa.int64()).cast(pa.timestamp("ns"))
    if kind == "map_int32":
        return pa.array([None if v is None else [tuple(p) for p in json.loads(v)] for v in vals], pa.map_(pa.int32(), pa.int32()))
    raise SystemExit("writer: unknown kind " + kind)

cols = spec["columns"]
table = pa.Table.from_arrays([build(c["kind"], c["values"]) for c in cols], names=[c["name"] for c in cols])
pq.write_table(table, spec["path"])
`

type writerColumn struct {
	Name   string    `json:"name"`
	Kind   string    `json:"kind"`
	Values []*string `json:"values"`
}

// writeParquet writes rows (indexes into the columns' values, in that order) of cols to path.
func writeParquet(t *testing.T, path string, cols []edgeColumn, rows []int) {
	t.Helper()
	spec := struct {
		Path    string         `json:"path"`
		Columns []writerColumn `json:"columns"`
	}{Path: path}
	for _, c := range cols {
		wc := writerColumn{Name: c.name, Kind: c.writeAs, Values: []*string{}}
		for _, r := range rows {
			var v *string
			if c.want[r] != null {
				v = &c.want[r]
			}
			wc.Values = append(wc.Values, v)
		}
		spec.Columns = append(spec.Columns, wc)
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	specPath := filepath.Join(t.TempDir(), "spec.json")
	if err := os.WriteFile(specPath, b, 0o644); err != nil {
		t.Fatal(err)
	}
	py, err := readback.Python()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(py, "-c", writerScript, specPath).CombinedOutput(); err != nil {
		t.Fatalf("write %s: %v\n%s", path, err, out)
	}
}

func allRows(cols []edgeColumn) []int {
	rows := make([]int, len(cols[0].want))
	for i := range rows {
		rows[i] = i
	}
	return rows
}

func TestColumnsOfResolvesDomainsAndSkipsDropped(t *testing.T) {
	conn := edgeTable(t)
	got, err := readback.ColumnsOf(context.Background(), conn, edgeTableName)
	if err != nil {
		t.Fatal(err)
	}
	var want []readback.PGColumn
	for _, c := range edgeColumns() {
		want = append(want, readback.PGColumn{Name: c.name, TypeOID: c.oid})
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ColumnsOf = %v\nwant %v", got, want)
	}
}

func TestFromPostgresGivesCanonicalValues(t *testing.T) {
	got := edgeTableValues(t)
	want := wantTable(edgeColumns())
	if d := readback.Diff(want, got, 50); len(d) > 0 {
		t.Errorf("FromPostgres differs from the expected canonical values:\n%s", strings.Join(d, "\n"))
	}
	if !slices.Equal(got.Columns, want.Columns) {
		t.Errorf("columns = %q, want %q", got.Columns, want.Columns)
	}
	for _, c := range []struct{ col, typ string }{{"n", "numeric"}, {"bp", "character"}, {"dm", "integer"}} {
		if got.Types[c.col] != c.typ {
			t.Errorf("type of %s = %q, want %q", c.col, got.Types[c.col], c.typ)
		}
	}
	if got.Source != "postgres" || got.SortColumn != "id" {
		t.Errorf("Source, SortColumn = %q, %q; want postgres, id", got.Source, got.SortColumn)
	}
}

func TestFromParquetMatchesPostgres(t *testing.T) {
	ctx := context.Background()
	pg := edgeTableValues(t)
	cols := edgeColumns()

	// Two files with rows out of order, beside files the readers must ignore: a manifest and a
	// dot-file that is not Parquet at all.
	dir := t.TempDir()
	writeParquet(t, filepath.Join(dir, "part-0.parquet"), cols, []int{9, 7, 5, 3, 1})
	writeParquet(t, filepath.Join(dir, "part-1.parquet"), cols, []int{8, 6, 4, 2, 0})
	for name, content := range map[string]string{"_manifest.json": "{}", ".part-2.parquet": "not parquet"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The same rows given as one file.
	single := filepath.Join(t.TempDir(), "all.parquet")
	writeParquet(t, single, cols, []int{4, 0, 9, 1, 8, 2, 7, 3, 6, 5})

	for _, reader := range readback.Readers() {
		for _, in := range []struct{ name, path string }{{"dir", dir}, {"file", single}} {
			t.Run(reader+"/"+in.name, func(t *testing.T) {
				got, err := readback.FromParquet(ctx, reader, "id", in.path)
				if err != nil {
					t.Fatal(err)
				}
				if d := readback.Diff(pg, got, 50); len(d) > 0 {
					t.Errorf("%s differs from postgres:\n%s", got.Source, strings.Join(d, "\n"))
				}
				if !strings.HasPrefix(got.Source, reader+" ") {
					t.Errorf("Source = %q, want %q and a version", got.Source, reader)
				}
				for _, c := range cols {
					want := c.pyarrowType
					if reader == readback.ReaderDuckDB {
						want = c.duckdbType
					}
					if got.Types[c.name] != want {
						t.Errorf("type of %s = %q, want %q", c.name, got.Types[c.name], want)
					}
				}
			})
		}
	}
}

func TestDiffNamesTheChangedCell(t *testing.T) {
	ctx := context.Background()
	pg := edgeTableValues(t)
	tests := []struct {
		name     string
		col      string
		row      int // index in the edge table's rows
		value    string
		wantLine string
	}{
		{"float8 last bit", "f8", 5, "3fb999999999999b",
			`row 9 column f8: postgres="3fb999999999999a" parquet="3fb999999999999b"`},
		{"float4 NaN sign", "f4", 2, "ffc00000",
			`row 0 column f4: postgres="7fc00000" parquet="ffc00000"`},
		{"text to NULL", "t", 0, null,
			`row -10 column t: postgres="" parquet=NULL`},
		{"bpchar padding lost", "bp", 0, "ab",
			`row -10 column bp: postgres="ab   " parquet="ab"`},
		{"decimal last digit", "n38", 0, "12345678901234567890.123456789012345677",
			`row -10 column n38: postgres="12345678901234567890.123456789012345678" parquet="12345678901234567890.123456789012345677"`},
		{"timestamp one microsecond", "tz", 9, "2147483648000001",
			`row 123456789012 column tz: postgres="2147483648000000" parquet="2147483648000001"`},
		{"date infinity", "d", 1, "-2147483647",
			`row -2 column d: postgres="-2147483648" parquet="-2147483647"`},
	}
	for _, tt := range tests {
		cols := edgeColumns()
		changed := false
		for i := range cols {
			if cols[i].name == tt.col {
				cols[i].want[tt.row] = tt.value
				changed = true
			}
		}
		if !changed {
			t.Fatalf("%s: no column %s", tt.name, tt.col)
		}
		path := filepath.Join(t.TempDir(), "changed.parquet")
		writeParquet(t, path, cols, allRows(cols))
		for _, reader := range readback.Readers() {
			t.Run(tt.name+"/"+reader, func(t *testing.T) {
				got, err := readback.FromParquet(ctx, reader, "id", path)
				if err != nil {
					t.Fatal(err)
				}
				d := readback.Diff(pg, got, 10)
				if len(d) != 1 || d[0] != tt.wantLine {
					t.Errorf("Diff = %q\nwant [%q]", d, tt.wantLine)
				}
			})
		}
	}
}

func TestFromParquetRejectsUnsupportedTypes(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		kind   string
		values []string
		// wantErr are substrings each reader's error must contain.
		wantErr map[string]string
	}{
		{"map_int32", []string{"[[1, 2]]", null}, map[string]string{
			readback.ReaderPyArrow: "column bad: unsupported type map<int32, int32",
			readback.ReaderDuckDB:  "column bad: unsupported type MAP(INTEGER, INTEGER)",
		}},
		{"timestamp_ns", []string{"1", null}, map[string]string{
			readback.ReaderPyArrow: "column bad: timestamp unit ns",
			readback.ReaderDuckDB:  "column bad: unsupported type TIMESTAMP_NS",
		}},
	}
	for _, tt := range tests {
		cols := []edgeColumn{
			{name: "id", writeAs: "int64", want: []string{"1", "2"}},
			{name: "bad", writeAs: tt.kind, want: tt.values},
		}
		path := filepath.Join(t.TempDir(), tt.kind+".parquet")
		writeParquet(t, path, cols, []int{0, 1})
		for _, reader := range readback.Readers() {
			t.Run(tt.kind+"/"+reader, func(t *testing.T) {
				_, err := readback.FromParquet(ctx, reader, "id", path)
				if err == nil || !strings.Contains(err.Error(), tt.wantErr[reader]) {
					t.Errorf("FromParquet error = %v, want one containing %q", err, tt.wantErr[reader])
				}
			})
		}
	}
}

func TestFromParquetErrors(t *testing.T) {
	ctx := context.Background()
	cols := []edgeColumn{
		{name: "id", writeAs: "int64", want: []string{"1", null}},
		{name: "v", writeAs: "string", want: []string{"a", "b"}},
	}
	dir := t.TempDir()
	withNullKey := filepath.Join(dir, "nullkey.parquet")
	writeParquet(t, withNullKey, cols, []int{0, 1})
	tests := []struct {
		name, reader, sortColumn, path, wantErr string
	}{
		{"unknown reader", "polars", "id", withNullKey, `unknown reader "polars"`},
		{"missing sort column", readback.ReaderPyArrow, "nope", withNullKey, "sort column nope not among columns"},
		{"NULL sort key", readback.ReaderDuckDB, "id", withNullKey, "sort column id: value None is not an integer"},
		{"text sort key", readback.ReaderPyArrow, "v", withNullKey, "sort column v: value 'a' is not an integer"},
		{"no files", readback.ReaderDuckDB, "id", t.TempDir(), "no .parquet files in"},
		{"missing path", readback.ReaderPyArrow, "id", filepath.Join(dir, "absent"), "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readback.FromParquet(ctx, tt.reader, tt.sortColumn, tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("FromParquet error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestPythonSaysHowToCreateTheVenv(t *testing.T) {
	t.Setenv(readback.PythonEnv, filepath.Join(t.TempDir(), "no-python"))
	if _, err := readback.Python(); err == nil || !strings.Contains(err.Error(), readback.PythonEnv) {
		t.Errorf("Python() with a missing $%s: error %v", readback.PythonEnv, err)
	}

	t.Setenv(readback.PythonEnv, "")
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/m\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(sub)
	if _, err := readback.Python(); err == nil || !strings.Contains(err.Error(), "make venv") || !strings.Contains(err.Error(), root) {
		t.Errorf("Python() without .venv: error %v, want one saying to run `make venv` in %s", err, root)
	}
}

func TestFromPostgresBeyondInt64Microseconds(t *testing.T) {
	// PostgreSQL timestamps reach 294276 AD, past what int64 microseconds since 1970 (and so a
	// Parquet timestamp) can hold: FromPostgres must still give the exact value, for Diff to show.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, shared.NewDB(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range []string{
		"CREATE TABLE far (id int8, ts timestamp, tz timestamptz)",
		"INSERT INTO far VALUES (1, '294276-12-31 23:59:59.999999', '294276-12-31 23:59:59.999999+00'), (2, '294247-01-10 04:00:54.775808', '294247-01-10 04:00:54.775807+00')",
	} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	cols, err := readback.ColumnsOf(ctx, conn, "far")
	if err != nil {
		t.Fatal(err)
	}
	got, err := readback.FromPostgres(ctx, conn, "far", "id", cols)
	if err != nil {
		t.Fatal(err)
	}
	want := table([]string{"id", "ts", "tz"},
		[]string{"1", "9224318015999999999", "9224318015999999999"},
		[]string{"2", "9223372036854775808", "9223372036854775807"})
	if d := readback.Diff(want, got, 10); len(d) > 0 {
		t.Errorf("FromPostgres:\n%s", strings.Join(d, "\n"))
	}
}
