"""Compares the Parquet files of two exports of one table with pyarrow (the GPU host's image has
it): the same schema, the same rows (both sorted by the key columns) and, column by column,
the same values. Prints one line per export pair; exits 1 when they differ.
Usage: python3 bench/gpuhost-compare.py DIR_A DIR_B KEY[,KEY...] (GPU-host scripts, session 23)."""
import glob, os, sys, time

import pyarrow.parquet as pq

a, b, keys = sys.argv[1], sys.argv[2], sys.argv[3].split(',')
t0 = time.time()


def read(d):
    files = sorted(glob.glob(os.path.join(d, '*.parquet')))
    if not files:
        sys.exit(f'compare: no Parquet files in {d}')
    return pq.ParquetDataset(files).read(use_threads=True), len(files)


ta, fa = read(a)
tb, fb = read(b)
if ta.schema != tb.schema:
    print(f'compare {a} {b}: schemas differ:\n{ta.schema}\n--\n{tb.schema}')
    sys.exit(1)
if ta.num_rows != tb.num_rows:
    print(f'compare {a} {b}: {ta.num_rows} rows against {tb.num_rows}')
    sys.exit(1)
order = [(k, 'ascending') for k in keys]
ta, tb = ta.sort_by(order), tb.sort_by(order)
bad = [n for n in ta.column_names if not ta[n].equals(tb[n])]
print(f'compare {a} ({fa} files) {b} ({fb} files): {ta.num_rows} rows, {ta.num_columns} columns, '
      f'{"the same values" if not bad else "DIFFERENT in " + ", ".join(bad)} ({time.time() - t0:.1f} s)')
sys.exit(1 if bad else 0)
