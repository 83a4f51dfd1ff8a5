package gpuparse

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/pgparquet/pgparquet/pgarrow"
	"github.com/pgparquet/pgparquet/pgcopy"
)

// lineorderChunk builds a chunk of n tuples shaped like the SSB lineorder
// table: int4 ×5, date, bpchar(15), bpchar(1), int4, int8 ×2, int4, int8,
// numeric(12,2), int4, timestamp, varchar(10). It is deterministic.
func lineorderChunk(n int) (cols []pgarrow.Column, data []byte, starts []uint32) {
	cols = lineorderColumns()
	rng := rand.New(rand.NewPCG(1, 2))
	priorities := []string{"1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW"}
	modes := []string{"AIR", "MAIL", "RAIL", "SHIP", "TRUCK", "REG AIR", "FOB"}
	for i := range n {
		starts = append(starts, uint32(len(data)))
		prio := priorities[rng.IntN(len(priorities))]
		prio += strings.Repeat(" ", 15-len(prio))
		cost := fmt.Sprintf("%d.%02d", 1+rng.IntN(99999), rng.IntN(100))
		data = append(data, tuple(
			wI32(int32(i/4+1)), wI32(int32(i%7+1)), wI32(rng.Int32N(3000000)), wI32(rng.Int32N(1400000)), wI32(rng.Int32N(200000)),
			wI32(int32(-2922+rng.IntN(2557))),
			wText(prio), wText("0"),
			wI32(int32(1+rng.IntN(50))),
			wI64(rng.Int64N(10000000)), wI64(rng.Int64N(50000000)),
			wI32(int32(rng.IntN(11))),
			wI64(rng.Int64N(10000000)),
			wNumeric(cost),
			wI32(int32(rng.IntN(9))),
			wI64((-2922+rng.Int64N(2557))*86400000000),
			wText(modes[rng.IntN(len(modes))]),
		)...)
	}
	return cols, data, starts
}

func lineorderColumns() []pgarrow.Column {
	int4 := func(name string) pgarrow.Column { return pgarrow.PlanColumn(name, pgtype.Int4OID, -1, "integer") }
	int8 := func(name string) pgarrow.Column { return pgarrow.PlanColumn(name, pgtype.Int8OID, -1, "bigint") }
	return []pgarrow.Column{
		int4("lo_orderkey"), int4("lo_linenumber"), int4("lo_custkey"), int4("lo_partkey"), int4("lo_suppkey"),
		pgarrow.PlanColumn("lo_orderdate", pgtype.DateOID, -1, "date"),
		pgarrow.PlanColumn("lo_orderpriority", pgtype.BPCharOID, 19, "character(15)"),
		pgarrow.PlanColumn("lo_shippriority", pgtype.BPCharOID, 5, "character(1)"),
		int4("lo_quantity"),
		int8("lo_extendedprice"), int8("lo_ordtotalprice"),
		int4("lo_discount"),
		int8("lo_revenue"),
		numCol("lo_supplycost", 12, 2),
		int4("lo_tax"),
		pgarrow.PlanColumn("lo_commitdate", pgtype.TimestampOID, -1, "timestamp without time zone"),
		pgarrow.PlanColumn("lo_shipmode", pgtype.VarcharOID, 14, "character varying(10)"),
	}
}

// BenchmarkCPUDecodeLineorder decodes a ~4 MiB lineorder-shaped chunk on one
// goroutine; MB/s is COPY BINARY input bytes per second.
func BenchmarkCPUDecodeLineorder(b *testing.B) {
	cols, data, starts := lineorderChunk(4 << 20 / 174)
	dec := NewCPUDecoder(cols, memory.NewGoAllocator())
	c := &pgcopy.Chunk{Data: data, RowStarts: starts, Source: "bench"}
	ctx := context.Background()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rec, err := dec.Decode(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		rec.Release()
	}
	b.ReportMetric(float64(len(starts))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}
