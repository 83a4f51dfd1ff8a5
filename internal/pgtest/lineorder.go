package pgtest

import "fmt"

// LineorderColumns are the columns of the Star Schema Benchmark's lineorder table, the shape of
// ../shared/gpuhost/make-lineorder.sh that tests, the demo and the benchmarks all use.
const LineorderColumns = `lo_orderkey int, lo_linenumber int, lo_custkey int, lo_partkey int, lo_suppkey int, lo_orderdate date,
 lo_orderpriority char(15), lo_shippriority char(1), lo_quantity int, lo_extendedprice bigint, lo_ordtotalprice bigint,
 lo_discount int, lo_revenue bigint, lo_supplycost numeric(12,2), lo_tax int, lo_commitdate timestamp, lo_shipmode varchar(10)`

// LineorderRow is the SELECT list that makes lineorder row number g (an int).
const LineorderRow = `g/4, g%7, (g*31)%300000, (g*17)%800000, (g*13)%20000, date '1992-01-01' + (g%2500),
 (array['1-URGENT','2-HIGH','3-MEDIUM','4-NOT SPECIFIED','5-LOW'])[1+g%5], '0', 1+g%50, (g*7)%10000000, (g*11)%50000000,
 g%11, (g*3)%9000000, ((g%100000)/100.0)::numeric(12,2), g%9, timestamp '1992-01-01' + ((g%86400000) * interval '1 second'),
 (array['AIR','TRUCK','MAIL','RAIL','SHIP','FOB','REG AIR'])[1+g%7]`

// LineorderDDL creates table (a quoted or plain SQL name) with the lineorder columns.
func LineorderDDL(table string) string {
	return "CREATE TABLE " + table + " (" + LineorderColumns + ")"
}

// LineorderFill inserts lineorder rows first..last (inclusive) into table.
func LineorderFill(table string, first, last int64) string {
	return fmt.Sprintf("INSERT INTO %s SELECT %s FROM generate_series(%d, %d) g", table, LineorderRow, first, last)
}
