"""DuckDB + its postgres extension, loaded from the PyPI wheel duckdb-extension-postgres-scanner
(no network: autoinstall and autoload are off), threads=P, one COPY of the attached table to a
zstd Parquet file. The extension reads the table by ctid page ranges over several connections
in one exported snapshot, as pgparquet does."""
import os

import duckdb
import duckdb_extension_postgres_scanner as ext

from common import parse_args, report

a = parse_args(__doc__)
path = os.path.join(os.path.dirname(ext.__file__), "extensions", f"v{duckdb.__version__}", "postgres_scanner.duckdb_extension")
if not os.path.exists(path):
    raise SystemExit(f"no postgres_scanner extension for duckdb {duckdb.__version__} at {path}")
con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
con.execute(f"SET threads={a.parallel}")
con.execute(f"LOAD '{path}'")
con.execute(f"ATTACH '{a.dsn}' AS pg (TYPE postgres, READ_ONLY)")
rows = con.execute(f"COPY (SELECT * FROM pg.public.{a.table}) TO '{a.out}/part-0.parquet' (FORMAT parquet, COMPRESSION zstd)").fetchone()[0]
report(duckdb.__version__, rows, {"threads": a.parallel, "extension": f"postgres_scanner {duckdb.__version__} (PyPI wheel, LOAD by path)",
                                  "copy": "COPY (SELECT * FROM pg.public.T) TO 'f.parquet' (FORMAT parquet, COMPRESSION zstd)"})
