package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/pgparquet/pgparquet/sql/control"
)

// runStatus prints the newest rows of parquet_export_status the connected role may see.
func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := envDefaults{}
	dsn := fs.String("dsn", env.str("PGPARQUET_DSN", ""), "PostgreSQL connection string (default: the PG* environment variables) [PGPARQUET_DSN]")
	schema := fs.String("schema", env.str("PGPARQUET_SCHEMA", control.DefaultSchema), "schema of the control tables [PGPARQUET_SCHEMA]")
	limit := fs.Int("limit", 20, "newest requests to show")
	states := fs.String("state", "", "only requests in these states, comma-separated (queued, running, publishing, succeeded, failed, cancelled)")
	requester := fs.String("requester", "", "only this role's requests")
	table := fs.String("table", "", "only requests of this table (schema.table, or table)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("status: unexpected argument %q", fs.Arg(0))
	}
	for _, st := range splitList(*states) {
		if !slices.Contains([]string{"queued", "running", "publishing", "succeeded", "failed", "cancelled"}, st) {
			return usagef("status: --state %q is not one of queued, running, publishing, succeeded, failed, cancelled", st)
		}
	}
	conn, err := connectDSN(ctx, *dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // done with it
	rows, err := control.Over(conn, *schema).Status(ctx, control.StatusFilter{Limit: *limit, States: splitList(*states),
		Requester: *requester, Table: *table})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(control.StatusColumns, "\t")))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}
