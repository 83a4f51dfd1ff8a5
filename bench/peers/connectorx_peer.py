"""ConnectorX + pyarrow: ConnectorX reads the table into one Arrow table with partition_num
queries split on an integer column (its documented way to read in parallel, binary protocol),
then pyarrow writes it as one zstd Parquet file. The whole table is held in memory."""
import time

import connectorx as cx
import pyarrow.parquet as pq

from common import parse_args, report

a = parse_args(__doc__)
opts = {"return_type": "arrow", "protocol": "binary"}
if a.parallel > 1 and a.partition_on:
    opts.update(partition_on=a.partition_on, partition_num=a.parallel)
t0 = time.time()
tbl = cx.read_sql(a.dsn, f"SELECT * FROM {a.table}", **opts)
t1 = time.time()
pq.write_table(tbl, f"{a.out}/part-0.parquet", compression="zstd")
report(cx.__version__, tbl.num_rows, dict(opts, read_s=round(t1 - t0, 3), write_s=round(time.time() - t1, 3),
                                           write="pyarrow.parquet.write_table(compression='zstd')"))
