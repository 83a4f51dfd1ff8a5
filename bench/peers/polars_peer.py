"""Polars: read_database_uri with the connectorx engine (partition_on + partition_num for
parallel reads), then DataFrame.write_parquet with zstd. The whole table is held in memory."""
import polars as pl

from common import parse_args, report

a = parse_args(__doc__)
opts = {"engine": "connectorx"}
if a.parallel > 1 and a.partition_on:
    opts.update(partition_on=a.partition_on, partition_num=a.parallel)
df = pl.read_database_uri(f"SELECT * FROM {a.table}", a.dsn, **opts)
df.write_parquet(f"{a.out}/part-0.parquet", compression="zstd")
report(pl.__version__, df.height, dict(opts, write="write_parquet(compression='zstd')"))
