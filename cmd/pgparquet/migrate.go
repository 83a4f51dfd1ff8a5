package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/pgparquet/pgparquet/sql/control"
)

// runMigrate applies the control tables' migrations and prints what it applied.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := envDefaults{}
	dsn := fs.String("dsn", env.str("PGPARQUET_DSN", ""), "PostgreSQL connection string (default: the PG* environment variables) [PGPARQUET_DSN]")
	var opts control.MigrateOptions
	fs.StringVar(&opts.Schema, "schema", env.str("PGPARQUET_SCHEMA", control.DefaultSchema), "schema of the control tables [PGPARQUET_SCHEMA]")
	fs.StringVar(&opts.AdminRole, "admin-role", env.str("PGPARQUET_ADMIN_ROLE", control.DefaultAdminRole), "role whose members see every request [PGPARQUET_ADMIN_ROLE]")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("migrate: unexpected argument %q", fs.Arg(0))
	}
	conn, err := connectDSN(ctx, *dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // done with it
	applied, err := control.Migrate(ctx, conn, opts)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "schema %s: up to date\n", opts.Schema)
		return nil
	}
	fmt.Fprintf(stdout, "schema %s: applied migrations %v\n", opts.Schema, applied)
	return nil
}
