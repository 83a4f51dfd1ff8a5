package export_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgparquet/pgparquet/export"
	"github.com/pgparquet/pgparquet/internal/pgtest"
)

// randomTable is a table of every kind the GPU decodes and encodes (bool, integers, floats,
// dates, timestamps, numeric as decimal128, strings of low and high cardinality with empty and
// long ones, char, varchar, bytea, uuid, json, jsonb, and lists of text and of int4), filled
// from a seed: each column's NULL rate is drawn from 0 to 1 (two columns are NULL only), and a
// few strings of 300 KB to 1.2 MB cross pages and make one-row batches (each is larger than
// the exports' receive buffers). The middle third of the rows is deleted after the insert, so
// that a ctid range of an export of several ranges holds none (a task of no rows). The same
// seed makes the same table in any PostgreSQL, which is how the GPU host's exports are checked
// here (TestGPUWriterRandomTables).
type randomTable struct {
	seed uint64
	rows int
}

const randomTableDDL = `CREATE TABLE %s (
	id int8 PRIMARY KEY, b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, d date,
	ts timestamp, tz timestamptz, nm numeric(18,4), nw numeric(38,10), slow text, shigh text,
	vc varchar(40), ch char(5), by bytea, u uuid, j json, jb jsonb, ta text[], ia int4[],
	f8null float8, snull text)`

// create makes table in the database of conn and fills it. It returns how many rows are left.
func (r randomTable) create(t *testing.T, conn *pgx.Conn, table string) int {
	t.Helper()
	rng := rand.New(rand.NewPCG(r.seed, r.seed^0x9e3779b97f4a7c15))
	pgtest.Exec(t, conn, fmt.Sprintf(randomTableDDL, table))
	const cols = 23 // after id
	var nullRate [cols]float64
	rates := []float64{0, 0, 0.02, 0.3, 0.5, 0.9, 0.99, 1}
	for i := range nullRate {
		nullRate[i] = rates[rng.IntN(len(rates))]
	}
	nullRate[cols-2], nullRate[cols-1] = 1, 1 // f8null, snull
	low := []string{"", "a", "é", "日本", "😀", "zz", "status", "\x01", "Z", "a b", "ß", "x'y", `q"r`, "\\", "tab\t", "11", "010", "é́", "ok", "no"}
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			pgtest.Exec(t, conn, b.String())
			b.Reset()
		}
	}
	for id := 1; id <= r.rows; id++ {
		if b.Len() == 0 {
			fmt.Fprintf(&b, "INSERT INTO %s VALUES ", table)
		} else {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "(%d", id)
		for c := range cols {
			b.WriteString(",")
			if rng.Float64() < nullRate[c] {
				b.WriteString("NULL")
				continue
			}
			b.WriteString(r.value(rng, c, low))
		}
		b.WriteString(")")
		if b.Len() > 1<<20 || id%200 == 0 {
			flush()
		}
	}
	flush()
	third := r.rows / 3
	pgtest.Exec(t, conn, fmt.Sprintf("DELETE FROM %s WHERE id > %d AND id <= %d", table, third, 2*third))
	pgtest.Exec(t, conn, "ANALYZE "+table)
	var long, nullOnly int
	var maxLen int64
	if err := conn.QueryRow(context.Background(), fmt.Sprintf(`SELECT count(*) FILTER (WHERE length(shigh) > 300000),
		coalesce(max(octet_length(shigh)), 0) FROM %s`, table)).Scan(&long, &maxLen); err != nil {
		t.Fatal(err)
	}
	for _, rate := range nullRate {
		if rate == 1 {
			nullOnly++
		}
	}
	t.Logf("%s: %d rows left of %d, NULL rates %v (%d columns NULL only), %d strings over 300 KB (longest %d bytes)",
		table, r.rows-third, r.rows, nullRate, nullOnly, long, maxLen)
	return r.rows - third
}

// value is a SQL literal for column c (0-based after id) of a row.
func (r randomTable) value(rng *rand.Rand, c int, low []string) string {
	switch c {
	case 0:
		return strconv.FormatBool(rng.IntN(2) == 0)
	case 1:
		return strconv.Itoa(int(int16(rng.Uint32())))
	case 2:
		return strconv.Itoa(int(int32(rng.Uint32()))) + "::int4"
	case 3:
		return strconv.FormatInt(int64(rng.Uint64()), 10) + "::int8"
	case 4:
		return "'" + strconv.FormatFloat(float64(specialFloat(rng, float64(math.Float32frombits(rng.Uint32())))), 'g', -1, 32) + "'::float4"
	case 5:
		return "'" + strconv.FormatFloat(specialFloat(rng, math.Float64frombits(rng.Uint64())), 'g', -1, 64) + "'::float8"
	case 6:
		return "'" + randomTime(rng).Format("2006-01-02") + "'::date"
	case 7:
		return "'" + randomTime(rng).Format("2006-01-02 15:04:05.999999") + "'::timestamp"
	case 8:
		return "'" + randomTime(rng).Format("2006-01-02 15:04:05.999999") + "+00'::timestamptz"
	case 9:
		return randomDecimal(rng, 14, 4)
	case 10:
		return randomDecimal(rng, 28, 10)
	case 11:
		return quote(low[rng.IntN(len(low))])
	case 12:
		if rng.IntN(400) == 0 {
			return quote(strings.Repeat(randomString(rng, 50), 6000+rng.IntN(18000))) // 300 KB to 1.2 MB
		}
		return quote(randomString(rng, rng.IntN(100)))
	case 13:
		return quote(randomString(rng, rng.IntN(40)))
	case 14:
		return quote(randomString(rng, rng.IntN(6)))
	case 15:
		return "'\\x" + hex.EncodeToString(randomBytes(rng, rng.IntN(64))) + "'::bytea"
	case 16:
		u := randomBytes(rng, 16)
		switch rng.IntN(20) {
		case 0:
			clear(u)
		case 1:
			for i := range u {
				u[i] = 0xff
			}
		}
		h := hex.EncodeToString(u)
		return "'" + h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:] + "'::uuid"
	case 17, 18:
		v, err := json.Marshal(map[string]any{"k": rng.IntN(1000), "s": randomString(rng, rng.IntN(30)), "l": []int{rng.IntN(5), rng.IntN(50)}})
		if err != nil {
			panic(err)
		}
		if c == 17 {
			return quote(string(v)) + "::json"
		}
		return quote(string(v)) + "::jsonb"
	case 19:
		return randomArray(rng, "text", func() string { return quote(low[rng.IntN(len(low))]) })
	case 20:
		return randomArray(rng, "int4", func() string { return strconv.Itoa(int(int32(rng.Uint32()))) })
	}
	panic(fmt.Sprintf("column %d is NULL only", c))
}

// randomArray is an array literal of type elem[] of 0 to 4 elements, each NULL or value().
func randomArray(rng *rand.Rand, elem string, value func() string) string {
	el := make([]string, rng.IntN(5))
	for i := range el {
		el[i] = "NULL"
		if rng.IntN(6) > 0 {
			el[i] = value()
		}
	}
	return "ARRAY[" + strings.Join(el, ",") + "]::" + elem + "[]"
}

// specialFloat is v, or now and then NaN, ±Inf, -0 or 0 (f's NaN payloads are not kept: SQL
// has one NaN).
func specialFloat(rng *rand.Rand, v float64) float64 {
	switch rng.IntN(40) {
	case 0:
		return math.NaN()
	case 1:
		return math.Inf(1)
	case 2:
		return math.Inf(-1)
	case 3:
		return math.Copysign(0, -1)
	case 4:
		return 0
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 1.5
	}
	return v
}

// randomTime is a microsecond in years 1 to 9999.
func randomTime(rng *rand.Rand) time.Time {
	lo := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	hi := time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC).UnixMicro()
	return time.UnixMicro(lo + rng.Int64N(hi-lo)).UTC()
}

// randomDecimal is a numeric of up to whole digits before the point and exactly frac after.
func randomDecimal(rng *rand.Rand, whole, frac int) string {
	digits := func(n int) string {
		d := make([]byte, n)
		for i := range d {
			d[i] = byte('0' + rng.IntN(10))
		}
		return string(d)
	}
	sign := ""
	if rng.IntN(2) == 0 {
		sign = "-"
	}
	return "'" + sign + digits(1+rng.IntN(whole)) + "." + digits(frac) + "'::numeric"
}

// randomString is n characters, some of them outside ASCII.
func randomString(rng *rand.Rand, n int) string {
	alphabet := []rune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-'\"\\é日本😀ß")
	s := make([]rune, n)
	for i := range s {
		s[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(s)
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// quote is s as a SQL string literal (standard_conforming_strings on).
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// randomCodecs are the codecs the random tables are exported with.
var randomCodecs = []string{"zstd", "snappy", "gzip", "lz4", "none"}

// randomExport is the export of a random table every run of it uses: one connection over four
// ctid ranges (one of them without rows), so that its batches and row groups do not depend on
// timing, receive buffers smaller than its long strings.
func randomExport(table, dir, codec string) export.Options {
	return export.Options{Table: table, OutputDir: dir, Overwrite: true, Compression: codec,
		Parallel: 1, Chunks: 4, RowGroupSize: 1000, BufferSize: 256 << 10}
}

// TestRandomTables exports a fresh random table (randomTable; the seed is logged, and
// $PGPARQUET_RANDOM_SEED repeats one) with every codec through the file path the GPU writer
// shares with its CPU twins, and once over three connections and through arrow-go's
// FileWriter: every statistic is true, and pyarrow and DuckDB read PostgreSQL's values.
func TestRandomTables(t *testing.T) {
	seed := rand.Uint64()
	if s := os.Getenv("PGPARQUET_RANDOM_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("PGPARQUET_RANDOM_SEED: %v", err)
		}
	}
	t.Logf("seed %d", seed)
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	rows := randomTable{seed: seed, rows: 3000}.create(t, conn, "rt")
	want := postgresValues(t, conn, "rt")
	type run struct {
		name, pageWriter string
		opts             export.Options
	}
	var runs []run
	for _, codec := range randomCodecs {
		runs = append(runs, run{name: codec, opts: randomExport("rt", t.TempDir(), codec)})
	}
	p3 := randomExport("rt", t.TempDir(), "zstd")
	p3.Parallel, p3.Chunks, p3.BufferSize = 3, 7, 64<<10
	runs = append(runs, run{name: "zstd P=3", opts: p3},
		run{name: "arrow-go's FileWriter", pageWriter: "off", opts: randomExport("rt", t.TempDir(), "zstd")})
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			t.Setenv("PGPARQUET_PAGE_WRITER", r.pageWriter)
			r.opts.ConnConfig = config(t, dsn)
			res, err := export.Run(context.Background(), r.opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Rows != int64(rows) {
				t.Fatalf("exported %d rows, want %d", res.Rows, rows)
			}
			checked := checkStatistics(t, r.opts.OutputDir)
			// Columns NULL only, or nearly, have no min and max.
			if checked.Chunks == 0 || checked.ChunkMinMax < checked.Chunks/3 {
				t.Errorf("compared %+v: want a third of the chunks or more with min and max", checked)
			}
			checkReaders(t, want, r.opts.OutputDir, "", 20)
		})
	}
}
