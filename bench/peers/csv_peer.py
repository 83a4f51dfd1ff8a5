"""Do-it-yourself baseline: psql streams `COPY (SELECT * FROM T) TO STDOUT (FORMAT csv, HEADER)`
through a pipe into pyarrow's streaming CSV reader (types inferred from the first 64 MB block),
and each batch goes to a zstd ParquetWriter. One connection; memory stays bounded. psql is a
child of this process, so its CPU counts in this process's rusage."""
import os
import subprocess

import pyarrow as pa
import pyarrow.csv as pc
import pyarrow.parquet as pq

from common import parse_args, report

a = parse_args(__doc__)
psql = os.environ.get("BENCH_PSQL", "psql")
version = subprocess.run([psql, "--version"], capture_output=True, text=True).stdout.strip()
p = subprocess.Popen([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", a.dsn, "-c",
                      f"COPY (SELECT * FROM {a.table}) TO STDOUT (FORMAT csv, HEADER)"], stdout=subprocess.PIPE)
reader = pc.open_csv(p.stdout, read_options=pc.ReadOptions(block_size=64 << 20),
                     convert_options=pc.ConvertOptions(strings_can_be_null=True))
rows = 0
with pq.ParquetWriter(f"{a.out}/part-0.parquet", reader.schema, compression="zstd") as w:
    for batch in reader:
        w.write_batch(batch)
        rows += batch.num_rows
if p.wait() != 0:
    raise SystemExit(f"psql exited {p.returncode}")
report(f"{version}; pyarrow {pa.__version__}", rows, {"connections": 1, "csv_block_size": "64MB", "write": "ParquetWriter(compression='zstd')"})
