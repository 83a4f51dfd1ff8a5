package sidecar

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/outcome"
)

// TestFormatOptionsFromSQL: the format options of a SQL request (as_text, numeric, timestamp,
// wide_numeric, compat, row_group_size) reach the export, as the CLI's flags of the same
// names do, and the manifest shows them; a schedule's reach the requests it queues.
func TestFormatOptionsFromSQL(t *testing.T) {
	e := leastPrivilegeEnv(t)
	alice := e.role(t, "alice")
	pgtest.Exec(t, e.su, `CREATE TABLE fmt (id int PRIMARY KEY, u uuid, tm time, w numeric(60,2), n numeric, ts timestamp, c char(4))`)
	pgtest.Exec(t, e.su, `INSERT INTO fmt SELECT g, md5(g::text)::uuid, time '12:00' + g * interval '1 s', g * 1.5, g / 3.0, timestamp '2000-01-01' + g * interval '1 h', 'x'
		FROM generate_series(1, 10) g`)
	pgtest.Exec(t, e.su, `GRANT SELECT ON fmt TO alice`)
	s := e.start(t, "s1", nil)
	waitHealthy(t, s.Sidecar, true) // it created the control tables

	manifest := func(id int64) outcome.Result {
		t.Helper()
		st := e.waitState(t, id, "succeeded", 30*time.Second)
		b, err := os.ReadFile(filepath.Join(st.OutputDir, "_manifest.json"))
		if err != nil {
			t.Fatal(err)
		}
		var res outcome.Result
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	types := func(res outcome.Result) map[string]string {
		m := map[string]string{}
		for _, c := range res.Columns {
			m[c.Name] = c.ArrowType
		}
		return m
	}

	var id int64
	if err := alice.QueryRow(context.Background(), `SELECT parquet_export('fmt', '{"compat": "spark", "as_text": ["c"], "numeric": "float64",
		"timestamp": "text", "row_group_size": 3, "output_path": "spark"}')`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	res := manifest(id)
	got := types(res)
	want := map[string]string{"u": "utf8", "tm": "int64", "w": "utf8", "n": "float64", "ts": "utf8", "c": "utf8"}
	for col, typ := range want {
		if got[col] != typ {
			t.Errorf("compat spark request: column %s is %s, want %s (all: %v)", col, got[col], typ, got)
		}
	}
	if res.Compat != "spark" {
		t.Errorf("compat %q, want spark", res.Compat)
	}
	var groups int
	st := e.status(t, id)
	for _, f := range res.Files {
		pf, err := file.OpenParquetFile(filepath.Join(st.OutputDir, f.Name), false)
		if err != nil {
			t.Fatal(err)
		}
		groups += pf.NumRowGroups()
		pf.Close()
	}
	if groups < 4 {
		t.Errorf("%d row groups for 10 rows of row_group_size 3, want 4 or more", groups)
	}

	if err := alice.QueryRow(context.Background(), `INSERT INTO parquet_export_requests (table_name, output_path, format)
		VALUES ('fmt', 'wide', '{"wide_numeric": "decimal256"}') RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	res = manifest(id)
	if got := types(res); got["w"] != "decimal256(60, 2)" || got["u"] == "utf8" || res.Compat != "default" {
		t.Errorf("wide_numeric decimal256 request: types %v, compat %q", got, res.Compat)
	}
}
