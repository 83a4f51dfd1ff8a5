package export_test

import (
	"context"
	"fmt"
	"github.com/pgparquet/pgparquet/internal/pgtest"
	"testing"

	"github.com/pgparquet/pgparquet/export"
)

// BenchmarkExportLineorder exports a 200k-row lineorder-shaped table; b.SetBytes reports COPY
// bytes per second. Run with -cpuprofile to see where the sidecar's CPU goes.
func BenchmarkExportLineorder(b *testing.B) {
	ctx := context.Background()
	dsn := shared.NewDB(b)
	conn := pgtest.Connect(b, dsn)
	pgtest.Exec(b, conn, pgtest.LineorderDDL("lineorder"))
	pgtest.Exec(b, conn, pgtest.LineorderFill("lineorder", 0, 199999))
	pgtest.Exec(b, conn, "VACUUM ANALYZE lineorder")
	for _, par := range []int{1, 2} {
		b.Run(fmt.Sprintf("parallel=%d", par), func(b *testing.B) {
			for range b.N {
				res, err := export.Run(ctx, export.Options{ConnConfig: config(b, dsn), Table: "lineorder",
					OutputDir: b.TempDir(), Parallel: par})
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(res.CopyBytes)
				b.ReportMetric(res.Timings.Decode, "decode-s")
				b.ReportMetric(res.Timings.Encode, "encode-s")
			}
		})
	}
}
