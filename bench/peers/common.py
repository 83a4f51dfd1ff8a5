"""Shared command line of the peer scripts: each one exports one table to Parquet (zstd) in
--out (a directory it creates) and prints one JSON line: the tool's version, the rows it wrote
and the options it ran with. The harness (bench/run.py) runs every peer as its own child process
and takes wall time, CPU (rusage of the process tree), peak RSS and output size from outside."""
import argparse
import json
import os
import sys


def parse_args(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--dsn", required=True, help="postgres:// URI")
    ap.add_argument("--table", required=True, help="table name in schema public")
    ap.add_argument("--parallel", type=int, default=1, help="connections / threads / partitions")
    ap.add_argument("--partition-on", default="", help="integer column to split the query on")
    ap.add_argument("--out", required=True, help="output directory (created)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    return args


def report(version, rows, options):
    json.dump({"version": version, "rows": rows, "options": options}, sys.stdout)
    sys.stdout.write("\n")
