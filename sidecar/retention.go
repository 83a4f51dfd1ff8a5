package sidecar

import (
	"context"

	"github.com/pgparquet/pgparquet/sql/control"
)

// expire marks the succeeded exports past their retention (a request's keep_for, a schedule's
// keep and keep_for) for deletion; deleteExports then removes their files.
func (jn *janitor) expire(ctx context.Context) {
	expired, err := jn.db.ExpireExports(ctx)
	if err != nil {
		if ctx.Err() == nil {
			jn.log.Warn("look for expired exports failed; will retry", "err", err)
		}
		return
	}
	for _, x := range expired {
		jn.log.Info("export expired", "request", x.ID, "reason", x.Reason)
	}
}

// deleteExports removes the files of up to janitorBatch exports marked for deletion (expired,
// or asked by parquet_export_delete) and marks them deleted. Each is removed under its
// request's row lock, manifest first; one cut off half-way is finished by a later pass.
func (jn *janitor) deleteExports(ctx context.Context) {
	ids, err := jn.db.Deletions(ctx, janitorBatch)
	if err != nil {
		if ctx.Err() == nil {
			jn.log.Warn("look for exports to delete failed; will retry", "err", err)
		}
		return
	}
	for _, id := range ids {
		var reason string
		done, err := jn.db.DeleteExport(ctx, id, func(d control.Deletion) error {
			reason = d.Reason
			if err := checkOutputDir(d.OutputDir); err != nil {
				return err
			}
			return jn.out.removePublished(ctx, d.OutputDir, d.Files)
		})
		switch {
		case err != nil && ctx.Err() == nil:
			jn.log.Warn("deleting an export's files failed; will retry", "request", id, "err", err)
		case done:
			jn.metrics.deleted.Add(1)
			jn.log.Info("export's files deleted", "request", id, "reason", reason)
		}
	}
}
