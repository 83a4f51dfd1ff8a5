package lakehouse

import (
	"context"
	"errors"
	"fmt"
	"path"

	"github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"

	"github.com/pgparquet/pgparquet/outcome"
)

// ChangelogSuffix names the changelog table of an incremental chain committed to a table:
// the change runs of a chain committed to sales.orders are appended to sales.orders_changes.
const ChangelogSuffix = "_changes"

// ChangelogTable is the changelog table of table (namespace.name): namespace.name_changes.
func ChangelogTable(table string) string { return table + ChangelogSuffix }

// ChainRun is one published run of an incremental chain (package incremental): its manifest
// and its directory, as an absolute URI (file:///path).
type ChainRun struct {
	Result *outcome.Result
	Dir    string
}

// CommitChain commits the published runs of one incremental chain that the tables do not
// hold yet, oldest first: the snapshot run as an overwrite of table (as a full export is), each
// change run that has rows as an append of its change files to ChangelogTable(table), whose
// schema gains the columns a run's new schema series adds. A change run without rows commits
// nothing (it has no files). runs are the chain's published runs in order; the last is
// normally the run just made, and earlier ones were committed by their own runs, unless
// that commit failed or never happened (a crash): those are committed now, before it.
//
// A run is known in a table by its summary (pgparquet.slot, from_lsn and to_lsn): the runs
// committed are those after the newest run with rows that its table holds, each committed
// once (Commit). It returns what it committed of each run, in runs' order (nil for a run it
// did not commit: one the tables held, or without rows), and the error of the first commit
// that failed (the runs after it are not committed; a later CommitChain commits them).
//
// One chain's runs are committed by one caller at a time, as they are made (the chain's slot
// serves one run at a time); commits of other writers to the same tables are retried as
// Commit retries them.
//
// location, when set, gives the location of a table a commit creates (Request.Location); nil:
// the catalog's warehouse places it.
func (c *Catalog) CommitChain(ctx context.Context, tableName string, runs []ChainRun, location func(table string) (string, error)) ([]*outcome.Iceberg, error) {
	if _, err := parseIdent(tableName); err != nil {
		return nil, fmt.Errorf("iceberg table: %w", err)
	}
	reqs := make([]Request, len(runs))
	for i, r := range runs {
		inc := r.Result.Incremental
		if inc == nil {
			return nil, fmt.Errorf("iceberg table %s: %s is not a run of an incremental chain", tableName, r.Dir)
		}
		reqs[i] = NewRequest(tableName, r.Dir, r.Result, "")
		if inc.Mode != "snapshot" {
			reqs[i].Table, reqs[i].Append = ChangelogTable(tableName), true
		}
		if location != nil {
			var err error
			if reqs[i].Location, err = location(reqs[i].Table); err != nil {
				return nil, err
			}
		}
	}
	start := 0
	held := map[string]*table.Table{}
	for i := len(reqs) - 1; i >= 0 && start == 0; i-- {
		if len(reqs[i].Files) == 0 {
			continue
		}
		tbl, ok := held[reqs[i].Table]
		if !ok {
			var err error
			if tbl, err = c.load(ctx, reqs[i].Table); err != nil {
				return nil, err
			}
			held[reqs[i].Table] = tbl
		}
		if tbl != nil {
			if _, ok := committed(tbl, reqs[i]); ok {
				start = i + 1
			}
		}
	}
	done := make([]*outcome.Iceberg, len(runs))
	for i := start; i < len(reqs); i++ {
		if len(reqs[i].Files) == 0 {
			continue
		}
		ice, err := c.Commit(ctx, reqs[i])
		if err != nil {
			return done, fmt.Errorf("run %s: %w", path.Base(runs[i].Dir), err)
		}
		done[i] = ice
	}
	return done, nil
}

// load loads the table named name, or returns nil when it does not exist.
func (c *Catalog) load(ctx context.Context, name string) (*table.Table, error) {
	ident, err := parseIdent(name)
	if err != nil {
		return nil, fmt.Errorf("iceberg table: %w", err)
	}
	tbl, err := c.cat.LoadTable(c.ctx(ctx), ident)
	if errors.Is(err, catalog.ErrNoSuchTable) || errors.Is(err, catalog.ErrNoSuchNamespace) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("iceberg table %s in catalog %s: load: %w", name, c.shown, err)
	}
	return tbl, nil
}
