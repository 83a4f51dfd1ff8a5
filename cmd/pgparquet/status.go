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
	chains := fs.Bool("chains", false, "show incremental chains (parquet_export_chain_status: slot, retained WAL, last and next run) instead of requests")
	ended := fs.Bool("ended", false, "with --chains: ended chains too")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("status: unexpected argument %q", fs.Arg(0))
	}
	if *ended && !*chains {
		return usagef("status: --ended needs --chains")
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
	if *chains {
		rows, err := control.Over(conn, *schema).ChainStatus(ctx, *ended, *limit)
		if err != nil {
			return err
		}
		return printTable(stdout, control.ChainStatusColumns, rows)
	}
	rows, err := control.Over(conn, *schema).Status(ctx, control.StatusFilter{Limit: *limit, States: splitList(*states),
		Requester: *requester, Table: *table})
	if err != nil {
		return err
	}
	return printTable(stdout, control.StatusColumns, rows)
}

// printTable writes rows under upper-cased column names, aligned.
func printTable(w io.Writer, columns []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(columns, "\t")))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}
