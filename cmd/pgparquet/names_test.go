package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/pgparquet/pgparquet/internal/pgtest"
	"github.com/pgparquet/pgparquet/outcome"
)

// TestSplitNames: --columns and --as-text take names as written, or quoted as in SQL for names
// with commas, spaces or quotes.
func TestSplitNames(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"", nil, ""},
		{"a", []string{"a"}, ""},
		{"a, b ,c", []string{"a", "b", "c"}, ""},
		{`"a,b", c`, []string{"a,b", "c"}, ""},
		{`" lead", "trail "`, []string{" lead", "trail "}, ""},
		{`"say ""hi"""`, []string{`say "hi"`}, ""},
		{`"MiXed",x`, []string{"MiXed", "x"}, ""},
		{`"open`, nil, "has no closing quote"},
		{`"a"b`, nil, `a comma must follow the quoted name "a"`},
		{"a,,b", nil, "an empty name"},
		{"a,", nil, "an empty name"},
	}
	for _, tc := range tests {
		got, err := splitNames(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("splitNames(%q): %v, %v; want an error containing %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("splitNames(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestQuotedColumnNames exports columns whose names hold a comma, a leading space and a quote,
// named quoted on the command line, and checks the manifest names them exactly, in order.
func TestQuotedColumnNames(t *testing.T) {
	bin := buildBinary(t)
	dsn := shared.NewDB(t)
	conn := pgtest.Connect(t, dsn)
	pgtest.Exec(t, conn, `CREATE TABLE odd (id int, "a,b" int, " lead" text, "say ""hi""" text, plain int)`)
	pgtest.Exec(t, conn, `INSERT INTO odd VALUES (1, 2, 'x', 'y', 3)`)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "export", "--dsn", dsn, "--table", "odd", "--output-dir", t.TempDir(), "--no-progress",
		"--columns", `"say ""hi""", " lead","a,b", id`)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("export: %v\n%s", err, stderr.String())
	}
	var res outcome.Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range res.Columns {
		names = append(names, c.Name)
	}
	if want := []string{`say "hi"`, " lead", "a,b", "id"}; !slices.Equal(names, want) {
		t.Errorf("exported columns %q, want %q", names, want)
	}
}
