"""readback.py reads Parquet files back with one of three independent readers and prints their
values in a canonical text form that can be reproduced exactly from PostgreSQL with SQL.

Usage: readback.py --reader pyarrow|duckdb|spark --sort-column NAME [--] FILE_OR_DIR...

A directory stands for every *.parquet file directly inside it, except dot-files. An
s3://bucket/key path is one object, read through pyarrow's S3FileSystem or DuckDB's httpfs
extension (loaded by path from the duckdb_extension_httpfs package) with the endpoint, region
and credentials of AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY
(path-style addressing). The output is one JSON document on stdout:

    {"reader": ..., "version": ..., "columns": [...], "types": {name: type}, "rows": [[...], ...]}

Every cell is a JSON string in canonical form, or null for NULL (see the Go package readback for
the forms). Rows are sorted by the sort column's value read as an integer, ties broken by the
whole row (null before any string, strings by code point) so that the order is total and the Go
side can reproduce it. A column of a type without a canonical form is an error naming the column
and its type, so that no type is ever compared loosely. The pyarrow and DuckDB paths share only
the formatting of Python values (hex of bytes, decimal notation); the pyarrow path never runs
when --reader duckdb is chosen, and pyarrow is not even imported then. Spark's path reads the
files with Spark's own Parquet reader and takes its rows as Arrow (DataFrame.toArrow), whose
values are then formatted as pyarrow's: what Spark read, in the same canonical form.

Errors go to stderr with exit status 1 (2 for usage errors).
"""

import argparse
import decimal
import json
import os
import re
import struct
import sys

# Run as `python - args` (the Go side feeds this file on stdin), Python puts the working
# directory first on sys.path; drop it so that a stray pyarrow.py there cannot shadow a reader.
if sys.path and sys.path[0] in ("", "."):
    del sys.path[0]


class ReadbackError(Exception):
    """A failure to report to the caller as one line on stderr."""


_INT_RE = re.compile(r"-?[0-9]+\Z")


def fmt_decimal(value, scale, column):
    """Formats a Decimal in plain notation with exactly scale digits after the point."""
    if not isinstance(value, decimal.Decimal) or not value.is_finite():
        raise ReadbackError(f"column {column}: decimal value {value!r} is not a finite Decimal")
    ctx = decimal.Context(prec=1000, traps=[decimal.Inexact, decimal.InvalidOperation])
    quantum = decimal.Decimal(1).scaleb(-scale, context=ctx)
    try:
        # Inexact is trapped: a value with more digits than the scale is an error, not rounded.
        q = value.quantize(quantum, context=ctx)
    except decimal.DecimalException as e:
        raise ReadbackError(
            f"column {column}: decimal value {value} does not fit scale {scale}: {e!r}"
        ) from e
    if q.is_zero():
        q = q.copy_abs()  # PostgreSQL numeric has no negative zero
    return format(q, "f")


def fmt_float32(value):
    return None if value is None else struct.pack(">f", value).hex()


def fmt_float64(value):
    return None if value is None else struct.pack(">d", value).hex()


def fmt_bool(value):
    if value is None:
        return None
    return "t" if value else "f"


def fmt_int(value):
    return None if value is None else str(int(value))


def fmt_str(value):
    if value is None:
        return None
    if not isinstance(value, str):
        raise ReadbackError(f"expected a str, got {type(value).__name__}")
    return value


def fmt_hex(value):
    return None if value is None else bytes(value).hex()


def top_level(value):
    """A cell's canonical text: nested values (lists) as compact JSON, as the Go side writes
    PostgreSQL's."""
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


# ---------------------------------------------------------------------------------------------
# pyarrow


def read_pyarrow(files):
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    s3 = None
    if any(f.startswith("s3://") for f in files):
        s3 = s3_filesystem()  # parquet_files.py
    tables = []
    for f in files:
        try:
            # arrow_extensions_enabled: the UUID and JSON logical types come back as the
            # arrow.uuid / arrow.json extension types, so the reported type names show them.
            if f.startswith("s3://"):
                with s3.open_input_file(f[len("s3://"):]) as src:
                    t = pq.ParquetFile(src, arrow_extensions_enabled=True).read()
            else:
                t = pq.ParquetFile(f, arrow_extensions_enabled=True).read()
        except Exception as e:
            raise ReadbackError(f"pyarrow: read {f}: {e}") from e
        if tables and not t.schema.equals(tables[0].schema, check_metadata=False):
            raise ReadbackError(
                f"pyarrow: schema of {f} differs from {files[0]}:\n{t.schema}\nvs\n{tables[0].schema}"
            )
        tables.append(t)

    schema = tables[0].schema
    columns = list(schema.names)
    types = {}
    values = []  # per column: list of canonical values over all rows
    for i, field in enumerate(schema):
        types[field.name] = str(field.type)
        col = []
        for t in tables:
            for chunk in t.column(i).chunks:
                col.extend(top_level(v) for v in _pyarrow_values(pa, pc, field.name, field.type, chunk))
        values.append(col)
    nrows = sum(t.num_rows for t in tables)
    rows = [[values[c][r] for c in range(len(columns))] for r in range(nrows)]
    return pa.__version__, columns, types, rows


def _pyarrow_values(pa, pc, name, typ, chunk):
    """Returns the canonical values of one chunk: strings (or None) for scalars, Python lists
    for lists and structs (struct fields in order), recursively."""
    t = pa.types
    if t.is_dictionary(typ):
        chunk = chunk.dictionary_decode()
        typ = typ.value_type
    if t.is_list(typ) or t.is_large_list(typ):
        inner = _pyarrow_values(pa, pc, name, typ.value_type, chunk.flatten())
        out, k = [], 0
        for n in chunk.value_lengths().to_pylist():
            if n is None:
                out.append(None)
                continue
            out.append(inner[k:k + n])
            k += n
        return out
    if t.is_struct(typ):
        kids = [
            _pyarrow_values(pa, pc, f"{name}.{typ.field(j).name}", typ.field(j).type, a)
            for j, a in enumerate(chunk.flatten())
        ]
        valid = chunk.is_valid().to_pylist()
        return [[k[r] for k in kids] if valid[r] else None for r in range(len(chunk))]
    return _pyarrow_chunk(pa, pc, name, typ, chunk)


def _pyarrow_chunk(pa, pc, name, typ, chunk):
    """Returns the canonical values of one chunk of a scalar column, or raises for an unknown type."""
    t = pa.types
    if isinstance(typ, pa.BaseExtensionType):
        ext = typ.extension_name
        if ext == "arrow.uuid" and t.is_fixed_size_binary(typ.storage_type) and typ.storage_type.byte_width == 16:
            return [fmt_hex(v) for v in chunk.storage.to_pylist()]
        if ext == "arrow.json" and (t.is_string(typ.storage_type) or t.is_large_string(typ.storage_type) or t.is_string_view(typ.storage_type)):
            return [fmt_str(v) for v in chunk.storage.to_pylist()]
        raise ReadbackError(f"pyarrow: column {name}: unsupported extension type {typ}")
    if t.is_boolean(typ):
        return [fmt_bool(v) for v in chunk.to_pylist()]
    if t.is_integer(typ):
        return [fmt_int(v) for v in chunk.to_pylist()]
    if t.is_float32(typ):
        # Reinterpret the bits: a round trip through a Python float could alter NaN payloads.
        return [None if v is None else f"{v:08x}" for v in chunk.view(pa.uint32()).to_pylist()]
    if t.is_float64(typ):
        return [None if v is None else f"{v:016x}" for v in chunk.view(pa.uint64()).to_pylist()]
    if t.is_decimal(typ):
        return [None if v is None else fmt_decimal(v, typ.scale, name) for v in chunk.to_pylist()]
    if t.is_string(typ) or t.is_large_string(typ) or t.is_string_view(typ):
        return [fmt_str(v) for v in chunk.to_pylist()]
    if t.is_binary(typ) or t.is_large_binary(typ) or t.is_binary_view(typ):
        return [fmt_hex(v) for v in chunk.to_pylist()]
    if t.is_fixed_size_binary(typ) and typ.byte_width == 16:
        return [fmt_hex(v) for v in chunk.to_pylist()]
    if t.is_date32(typ):
        # Days as int32, without Python dates, so that values outside 1..9999 AD (and the int32
        # extremes standing for +-infinity) stay exact.
        return [fmt_int(v) for v in pc.cast(chunk, pa.int32()).to_pylist()]
    if t.is_timestamp(typ):
        if typ.unit != "us":
            raise ReadbackError(f"pyarrow: column {name}: timestamp unit {typ.unit}, want us (type {typ})")
        return [fmt_int(v) for v in pc.cast(chunk, pa.int64()).to_pylist()]
    if t.is_time64(typ):
        if typ.unit != "us":
            raise ReadbackError(f"pyarrow: column {name}: time unit {typ.unit}, want us (type {typ})")
        return [fmt_int(v) for v in chunk.view(pa.int64()).to_pylist()]
    raise ReadbackError(f"pyarrow: column {name}: unsupported type {typ}")


# ---------------------------------------------------------------------------------------------
# Spark


def read_spark(files):
    """Reads the files with Spark's own Parquet reader (a local session, UTC, its default read
    settings) and hands its rows over as Arrow (DataFrame.toArrow), whose values are then put in
    canonical form as pyarrow's are: the values are Spark's, only their formatting is shared."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[1]")
        .appName("pgparquet-readback")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    try:
        spark.sparkContext.setLogLevel("ERROR")
        try:
            df = spark.read.parquet(*files)
            table = df.toArrow()
        except Exception as e:
            raise ReadbackError(f"spark: read {' '.join(files)}: {str(e).splitlines()[0]}") from e
        types = {f.name: f.dataType.simpleString() for f in df.schema.fields}
        columns = list(table.schema.names)
        values = []
        for i, field in enumerate(table.schema):
            col = []
            for chunk in table.column(i).chunks:
                col.extend(top_level(v) for v in _pyarrow_values(pa, pc, field.name, field.type, chunk))
            values.append(col)
        rows = [[values[c][r] for c in range(len(columns))] for r in range(table.num_rows)]
        return spark.version, columns, types, rows
    finally:
        spark.stop()


# ---------------------------------------------------------------------------------------------
# DuckDB

_DUCKDB_INTS = {
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
}
_DUCKDB_DECIMAL_RE = re.compile(r"DECIMAL\((\d+),(\d+)\)\Z")


def _sql_str(s):
    return "'" + s.replace("'", "''") + "'"


def _sql_ident(s):
    return '"' + s.replace('"', '""') + '"'


def read_duckdb(files):
    import duckdb

    for f in files:
        # read_parquet expands globs; refuse paths that could match other files.
        if any(ch in f for ch in "*?[{"):
            raise ReadbackError(f"duckdb: path {f} contains glob characters")
    # No network: the readers needed (parquet, json) are built into the Python package.
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "allow_unsigned_extensions": True})
    if any(f.startswith("s3://") for f in files):
        _duckdb_s3(con)
    opts = "binary_as_string=false, hive_partitioning=false, union_by_name=false"

    def scan(fs):
        return f"read_parquet([{', '.join(_sql_str(f) for f in fs)}], {opts})"

    schemas = []
    for f in files:
        try:
            schemas.append([(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {scan([f])}").fetchall()])
        except duckdb.Error as e:
            raise ReadbackError(f"duckdb: read schema of {f}: {e}") from e
        if schemas[-1] != schemas[0]:
            raise ReadbackError(f"duckdb: schema of {f} differs from {files[0]}: {schemas[-1]} vs {schemas[0]}")

    columns = [name for name, _ in schemas[0]]
    types = dict(schemas[0])
    try:
        rel_types = con.sql(f"SELECT * FROM {scan(files[:1])}").types
    except duckdb.Error as e:
        raise ReadbackError(f"duckdb: read types of {files[0]}: {e}") from e
    exprs, convs = [], []
    for name, dtype in zip(columns, rel_types):
        sql, conv = _duckdb_expr(_sql_ident(name), dtype, name, 0)
        exprs.append(sql)
        convs.append(conv)

    sql = f"SELECT {', '.join(exprs)} FROM {scan(files)}"
    try:
        result = con.execute(sql).fetchall()
    except duckdb.Error as e:
        raise ReadbackError(f"duckdb: {e}\nquery: {sql}") from e
    rows = []
    for r in result:
        row = []
        for name, conv, v in zip(columns, convs, r):
            try:
                row.append(top_level(conv(v)))
            except ReadbackError as e:
                raise ReadbackError(f"duckdb: column {name} ({types[name]}): {e}") from e
        rows.append(row)
    return duckdb.__version__, columns, types, rows


def _duckdb_s3(con):
    """Loads httpfs from the duckdb_extension_httpfs package's file (no download) and points
    it at AWS_ENDPOINT_URL with path-style addressing."""
    import glob
    from urllib.parse import urlparse

    try:
        import duckdb_extension_httpfs
    except ImportError as e:
        raise ReadbackError("duckdb: s3:// paths need the duckdb-extension-httpfs package (requirements-test.txt)") from e
    found = sorted(glob.glob(os.path.join(os.path.dirname(duckdb_extension_httpfs.__file__), "extensions", "*", "httpfs.duckdb_extension")))
    if not found:
        raise ReadbackError("duckdb: the duckdb_extension_httpfs package holds no httpfs.duckdb_extension")
    con.execute(f"LOAD {_sql_str(found[-1])}")
    ep = urlparse(os.environ["AWS_ENDPOINT_URL"])
    con.execute(
        "CREATE SECRET (TYPE s3, KEY_ID ?, SECRET ?, REGION ?, ENDPOINT ?, URL_STYLE 'path', USE_SSL ?)".replace("?", "{}").format(
            _sql_str(os.environ["AWS_ACCESS_KEY_ID"]),
            _sql_str(os.environ["AWS_SECRET_ACCESS_KEY"]),
            _sql_str(os.environ.get("AWS_REGION", "us-east-1")),
            _sql_str(ep.netloc),
            "true" if ep.scheme == "https" else "false",
        )
    )


def _duckdb_expr(c, dtype, name, depth):
    """Returns the SQL expression reading value c of DuckDB type dtype and the Python function
    turning the fetched value into its canonical form (str, None or list), recursively."""
    if dtype.id == "list":
        x = f"x{depth}"
        inner_sql, inner_conv = _duckdb_expr(x, dtype.children[0][1], name, depth + 1)
        sql = c if inner_sql == x else f"list_transform({c}, lambda {x}: {inner_sql})"
        return sql, lambda v: None if v is None else [inner_conv(e) for e in v]
    if dtype.id == "struct":
        names, sqls, kid_convs = [], [], []
        for fname, ftype in dtype.children:
            fexpr = f"struct_extract({c}, {_sql_str(fname)})"
            fsql, fconv = _duckdb_expr(fexpr, ftype, f"{name}.{fname}", depth + 1)
            names.append(fname)
            sqls.append(fsql)
            kid_convs.append(fconv)
        packed = ", ".join(f"{_sql_ident(n)} := {q}" for n, q in zip(names, sqls))
        sql = f"CASE WHEN {c} IS NULL THEN NULL ELSE struct_pack({packed}) END"
        return sql, lambda v: None if v is None else [f(v[n]) for n, f in zip(names, kid_convs)]
    typ = str(dtype)
    m = _DUCKDB_DECIMAL_RE.match(typ)
    if typ == "BOOLEAN":
        return c, fmt_bool
    if typ in _DUCKDB_INTS:
        return c, fmt_int
    if typ == "FLOAT":
        return c, fmt_float32
    if typ == "DOUBLE":
        return c, fmt_float64
    if m:
        return c, lambda v, s=int(m.group(2)), n=name: None if v is None else fmt_decimal(v, s, n)
    if typ in ("VARCHAR", "JSON"):
        return c, fmt_str
    if typ == "BLOB":
        return c, fmt_hex
    if typ == "UUID":
        return c, lambda v: None if v is None else v.hex
    if typ == "DATE":
        # Date minus date is the difference of the stored day numbers, exact for every int32
        # (DuckDB's +-infinity are +-2147483647), where Python dates stop at 1..9999 AD.
        return f"({c} - DATE '1970-01-01')", fmt_int
    if typ == "TIME":
        # Microseconds since midnight, 24:00:00 included (Python's time cannot hold it).
        return f"epoch_us({c})", fmt_int
    if typ in ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE"):
        # epoch_us returns the stored microseconds but NULL for DuckDB's +-infinity, which
        # are stored as +-9223372036854775807.
        return (
            f"CASE WHEN {c} = CAST('infinity' AS {typ}) THEN 9223372036854775807"
            f" WHEN {c} = CAST('-infinity' AS {typ}) THEN -9223372036854775807"
            f" ELSE epoch_us({c}) END"
        ), fmt_int
    raise ReadbackError(f"duckdb: column {name}: unsupported type {typ}")


# ---------------------------------------------------------------------------------------------


def sort_rows(columns, rows, sort_column):
    if sort_column not in columns:
        raise ReadbackError(f"sort column {sort_column} not among columns {columns}")
    k = columns.index(sort_column)
    for r in rows:
        if r[k] is None or not _INT_RE.match(r[k]):
            raise ReadbackError(f"sort column {sort_column}: value {r[k]!r} is not an integer")
    rows.sort(key=lambda r: (int(r[k]), [(v is not None, v or "") for v in r]))


def main():
    p = argparse.ArgumentParser(prog="readback.py", description="Reads Parquet files back and prints their values in canonical form.")
    p.add_argument("--reader", required=True, choices=["pyarrow", "duckdb", "spark"])
    p.add_argument("--sort-column", required=True)
    p.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    a = p.parse_args()
    out = sys.stdout
    if a.reader == "spark":
        # Spark's JVM inherits file descriptor 1: point it at stderr so that nothing it prints
        # mixes with the JSON document, which goes to the original stdout.
        sys.stdout.flush()
        out = os.fdopen(os.dup(1), "w")
        os.dup2(2, 1)
    try:
        files = parquet_files(a.paths, ReadbackError)  # parquet_files.py, put before this file
        read = {"pyarrow": read_pyarrow, "duckdb": read_duckdb, "spark": read_spark}[a.reader]
        version, columns, types, rows = read(files)
        if len(set(columns)) != len(columns):
            raise ReadbackError(f"duplicate column names: {columns}")
        sort_rows(columns, rows, a.sort_column)
    except ReadbackError as e:
        print(f"readback.py: {e}", file=sys.stderr)
        return 1
    doc = {"reader": a.reader, "version": version, "columns": columns, "types": types, "rows": rows}
    json.dump(doc, out, allow_nan=False, separators=(",", ":"))
    out.write("\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
