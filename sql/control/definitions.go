package control

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"

	"github.com/jackc/pgx/v5"
)

// definitionFiles hold the current text of the functions (and views) that change from one
// migration to the next: a migration that changes one says so in a comment and edits its file
// here, instead of copying the whole definition into itself. Each file is idempotent (CREATE
// OR REPLACE).
//
//go:embed definitions/*.sql
var definitionFiles embed.FS

// applyDefinitions runs every definitions file, in name order, in tx (search_path set to the
// control schema), rebuilding security_invoker views as Migrate does where the server lacks
// them. Migrate calls it after applying one or more migrations, and only then: a binary that
// applied none may be older than the control tables, and must not put older definitions back.
func applyDefinitions(ctx context.Context, tx pgx.Tx, schema string, hasInvokerViews bool) error {
	entries, err := fs.ReadDir(definitionFiles, "definitions")
	if err != nil {
		return fmt.Errorf("read embedded definitions: %w", err)
	}
	for _, e := range entries {
		body, err := definitionFiles.ReadFile(path.Join("definitions", e.Name()))
		if err != nil {
			return fmt.Errorf("read definition %s: %w", e.Name(), err)
		}
		sql, views := string(body), []string(nil)
		if !hasInvokerViews {
			sql, views = invokerViews(sql)
		}
		if _, err := tx.Exec(ctx, sql); err != nil {
			return fmt.Errorf("apply definition %s: %w", e.Name(), err)
		}
		for _, v := range views {
			if err := emulateInvokerView(ctx, tx, schema, v); err != nil {
				return fmt.Errorf("apply definition %s: %w", e.Name(), err)
			}
		}
	}
	return nil
}
