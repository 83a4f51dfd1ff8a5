"""Reads an Iceberg table back with two independent readers and prints JSON.

Usage: python - '<json request>' < read_iceberg.py (readback.FromIceberg). The request names the catalog: the SQL
catalog's database (postgres URL, "database") or a REST catalog's URL ("rest"), the table
(namespace.name), the columns to read and, optionally, a snapshot id to time-travel to.
pyiceberg 0.12 opens the table through the same catalog (the SQL catalog's rows in schema
pgparquet_iceberg, or the REST catalog's API); DuckDB's iceberg extension reads the metadata file
the catalog points to, or, with "rest", the table through the REST catalog (ATTACH ... TYPE
iceberg). Values come back as text (None for null), rows sorted by the first column.
With "s3": {endpoint, key, secret, region} the files are read from an S3-compatible server.
"""
import glob
import json
import os
import sys
from urllib.parse import urlparse, quote


def text(v):
    if v is None:
        return None
    return str(v)


def sort_rows(rows):
    return sorted(rows, key=lambda r: (r[0] is None, int(r[0]) if r[0] is not None and r[0].lstrip("-").isdigit() else r[0]))


def read_pyiceberg(req):
    props = {}
    s3 = req.get("s3")
    if s3:
        props.update({"s3.endpoint": s3["endpoint"], "s3.access-key-id": s3["key"], "s3.secret-access-key": s3["secret"],
                      "s3.region": s3["region"], "s3.force-virtual-addressing": False})
    if req.get("rest"):
        from pyiceberg.catalog.rest import RestCatalog

        cat = RestCatalog("pgparquet", uri=req["rest"], **props)
    else:
        from pyiceberg.catalog.sql import SqlCatalog

        u = urlparse(req["database"])
        props["uri"] = f"postgresql+psycopg2://{u.username or ''}{':' + u.password if u.password else ''}@{u.hostname}:{u.port}{u.path}?options={quote('-csearch_path=pgparquet_iceberg')}"
        cat = SqlCatalog("pgparquet", **props)
    tbl = cat.load_table(req["table"])
    snaps = [{"id": s.snapshot_id, "operation": s.summary.operation.value if s.summary else None,
              "summary": dict(s.summary.additional_properties) if s.summary else {}} for s in tbl.snapshots()]
    scan = tbl.scan(snapshot_id=req.get("snapshot")) if req.get("snapshot") else tbl.scan()
    t = scan.to_arrow()
    cols = [c for c in req["columns"] if c in t.column_names]
    data = [t.column(c).to_pylist() for c in cols]
    rows = [[text(col[i]) for col in data] for i in range(t.num_rows)]
    return {"columns": cols, "rows": sort_rows(rows), "snapshots": snaps, "current": tbl.current_snapshot().snapshot_id,
            "schema": [f.name for f in tbl.schema().fields], "metadata": tbl.metadata_location}


def read_duckdb(req, metadata):
    import duckdb
    import duckdb_extension_avro
    import duckdb_extension_iceberg

    con = duckdb.connect(config={"autoinstall_known_extensions": False, "allow_unsigned_extensions": True})
    for mod, name in ((duckdb_extension_avro, "avro"), (duckdb_extension_iceberg, "iceberg")):
        found = sorted(glob.glob(os.path.join(os.path.dirname(mod.__file__), "extensions", "*", name + ".duckdb_extension")))
        con.execute(f"LOAD '{found[-1]}'")
    s3 = req.get("s3")
    if s3 or req.get("rest"):
        import duckdb_extension_httpfs
        found = sorted(glob.glob(os.path.join(os.path.dirname(duckdb_extension_httpfs.__file__), "extensions", "*", "httpfs.duckdb_extension")))
        con.execute(f"LOAD '{found[-1]}'")
    if s3:
        ep = urlparse(s3["endpoint"])
        con.execute(f"CREATE SECRET (TYPE s3, KEY_ID '{s3['key']}', SECRET '{s3['secret']}', REGION '{s3['region']}', "
                    f"ENDPOINT '{ep.netloc}', URL_STYLE 'path', USE_SSL {'true' if ep.scheme == 'https' else 'false'})")
    if req.get("rest"):
        # Through the REST catalog itself (the extension's ATTACH ... TYPE iceberg).
        con.execute(f"ATTACH '' AS lake (TYPE iceberg, ENDPOINT '{req['rest']}', AUTHORIZATION_TYPE 'none')")
        ns, name = req["table"].rsplit(".", 1)
        source = f'lake."{ns}"."{name}"'
        if req.get("snapshot"):
            source += f" AT (VERSION => {int(req['snapshot'])})"
    else:
        # file:///path (iceberg-go) or file:/path (Java's HadoopFileIO)
        path = urlparse(metadata).path if metadata.startswith("file:") else metadata
        args = f"'{path}'"
        if req.get("snapshot"):
            args += f", snapshot_from_id => {int(req['snapshot'])}"
        source = f"iceberg_scan({args})"
    rel = con.sql(f"SELECT * FROM {source}")
    cols = [c for c in req["columns"] if c in rel.columns]
    rows = [[text(v) for v in r] for r in con.sql(f"SELECT {', '.join(chr(34) + c + chr(34) for c in cols)} FROM {source}").fetchall()]
    return {"columns": cols, "rows": sort_rows(rows)}


def main():
    req = json.loads(sys.argv[1])
    out = {"pyiceberg": read_pyiceberg(req)}
    out["duckdb"] = read_duckdb(req, out["pyiceberg"]["metadata"])
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
