package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"

	"github.com/pgparquet/pgparquet/incremental"
)

// runMaterialize parses the materialize command's flags and writes the table of an
// incremental chain as of its end (or --as-of-lsn) as plain Parquet.
func runMaterialize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("materialize", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var opts incremental.MaterializeOptions
	fs.StringVar(&opts.Input, "input", "", "the chain directory (pgparquet export --incremental's --output-dir) (required)")
	fs.StringVar(&opts.OutputDir, "output-dir", "", "directory for part-00000.parquet (required)")
	fs.StringVar(&opts.AsOfLSN, "as-of-lsn", "", "the table as of this LSN (e.g. 0/1A2B3C4D): the transactions committed at or before it (default: the chain's end)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fs.Usage()
			return errUsage
		}
		return usagef("materialize: %w (pgparquet materialize -h lists the flags)", err)
	}
	if fs.NArg() > 0 {
		return usagef("materialize: unexpected argument %q: materialize takes flags only", fs.Arg(0))
	}
	if opts.Input == "" || opts.OutputDir == "" {
		return usagef("materialize: --input and --output-dir are required (e.g. --input ./orders --output-dir ./orders-now)")
	}
	res, err := incremental.Materialize(ctx, opts)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}
