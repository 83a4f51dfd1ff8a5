"""What dictionary encoding of lineorder's low-cardinality integer, date and char(1) columns (7 to 2500 values)
would save (issue 12, item 1), per codec: for each export directory given (CODEC=DIR, a
pgparquet export of lineorder with --compression CODEC), it rewrites the first file's
low-cardinality columns with pyarrow at the same codec and row-group size, dictionary-encoded,
and prints each column's compressed bytes beside pgparquet's own (PLAIN), and what a writer
that chose per column the smaller of the two would save, as a share of the whole file.
(lo_shippriority, char(1), is left out: pgparquet dictionary-encodes strings already.)
Usage: python bench/lowcard-dict.py snappy=/tmp/lo-snappy zstd=/tmp/lo-zstd ... (session 21)."""
import collections, glob, io, sys

import pyarrow as pa
import pyarrow.parquet as pq

COLS = ['lo_linenumber', 'lo_orderdate', 'lo_quantity', 'lo_discount', 'lo_tax']


def chunk_bytes(md):
    s = collections.Counter()
    for rg in range(md.num_row_groups):
        for j in range(md.num_columns):
            c = md.row_group(rg).column(j)
            s[c.path_in_schema] += c.total_compressed_size
    return s


for arg in sys.argv[1:]:
    codec, d = arg.split('=', 1)
    first = sorted(glob.glob(d + '/*.parquet'))[0]
    ours = chunk_bytes(pq.read_metadata(first))
    t = pq.read_table(first, columns=COLS)
    rows = pq.read_metadata(first).row_group(0).num_rows
    buf = io.BytesIO()
    pq.write_table(t, buf, compression=None if codec == 'none' else codec, use_dictionary=True, row_group_size=rows)
    dic = chunk_bytes(pq.read_metadata(pa.BufferReader(buf.getvalue())))
    print(f'{codec}: {t.num_rows} rows, row groups of {rows}, file {sum(ours.values())} bytes')
    for c in COLS:
        print(f'   {c:14s} pgparquet PLAIN {ours[c]:9d}  dictionary {dic[c]:9d}')
    saved = sum(max(ours[c] - dic[c], 0) for c in COLS)
    print(f'   the smaller of the two per column saves {saved} bytes, {100 * saved / sum(ours.values()):.2f}% of the file')
