"""check_stats.py checks that the statistics Parquet files claim are the true ones: for every
file, row group and leaf column chunk, and every data page, the NULL count and the min and max
that the footer (and the page headers, and the column index when there is one) claim are
compared with the values pyarrow reads back.

Usage: check_stats.py FILE_OR_DIR...

Paths are taken as readback.py takes them (a directory: its *.parquet files, no dot-files;
s3://bucket/key through pyarrow's S3FileSystem and the AWS_* variables). The output is one JSON
document on stdout:

    {"checked": {"files": n, "row_groups": n, ...}, "errors": ["<file> row group 0 column a: ..."],
     "more_errors": n}

where each error is one line naming the file, row group, column (and page) with what the
statistics claim and what is true; at most maxErrors lines come back, more_errors counts the
rest. A wrong statistic is an error line with exit status 0; a file that cannot be read at all
is a message on stderr with exit status 1.

What is checked, against the values pyarrow reads (the statistics themselves are read here,
from the footer's and page headers' Thrift, not through pyarrow, which hides statistics it deems
unusable and does not expose page headers, the deprecated min/max fields or the exactness flags):

  - num_values of a chunk and of its data pages: the number of levels (slots, below) they hold.
  - null_count: the number of slots without a value, which is what Parquet counts for a leaf:
    a NULL value, and in a nested column also a NULL or empty list and a NULL parent struct
    (definition level below the maximum), as arrow C++ and arrow-go count it. Exact.
  - min_value/max_value: exactly the least and greatest non-NULL values under the column order
    of the leaf's type (ColumnOrder TYPE_DEFINED_ORDER, the only one there is): signed for
    INT32/INT64 (ints, dates, times, timestamps, decimals), unsigned for INT32/INT64 annotated
    unsigned, false < true for BOOLEAN, IEEE order for FLOAT/DOUBLE/FLOAT16 with NaN left out
    and a zero extreme written as -0.0 for min and +0.0 for max (the spec's writing rule), two's
    complement for DECIMAL on BYTE_ARRAY/FIXED_LEN_BYTE_ARRAY, and unsigned byte-wise for every
    other BYTE_ARRAY/FIXED_LEN_BYTE_ARRAY (strings, JSON, enums, binary, uuid). A chunk or page
    without a non-NULL (non-NaN) value must have none. Where the statistics say a byte-array
    bound is inexact (is_min_value_exact/is_max_value_exact false), only soundness is required
    (min <= every value <= max). INT96, INTERVAL and the other types whose order is undefined
    are not checked (their count is reported).
  - the deprecated min/max fields, when present: for a signed-order column exactly what
    min_value/max_value must be; for an unsigned-order one the extremes under signed
    comparison, which is what the spec says those fields hold.
  - page headers' statistics (DATA_PAGE and DATA_PAGE_V2; V2's num_nulls and num_rows too),
    each page's slots being the next num_values levels of its chunk.
  - the column index and offset index, when written: null_pages, null_counts, min/max per page
    (byte arrays only soundly: the column index may truncate them), boundary_order, and the
    offset index's page offsets, sizes and first row indexes.
"""

import decimal
import json
import math
import os
import struct
import sys

if sys.path and sys.path[0] in ("", "."):
    del sys.path[0]

maxErrors = 200

# Parquet's physical types, page types and converted types (parquet.thrift).
BOOLEAN, INT32, INT64, INT96, FLOAT, DOUBLE, BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY = range(8)
PHYSICAL = ["BOOLEAN", "INT32", "INT64", "INT96", "FLOAT", "DOUBLE", "BYTE_ARRAY", "FIXED_LEN_BYTE_ARRAY"]
DATA_PAGE, INDEX_PAGE, DICTIONARY_PAGE, DATA_PAGE_V2 = range(4)
CT_UTF8, CT_DECIMAL, CT_UINT_8, CT_UINT_64, CT_INTERVAL = 0, 5, 11, 14, 21
CT_TIMESTAMP_MILLIS, CT_TIMESTAMP_MICROS, CT_TIME_MILLIS, CT_TIME_MICROS = 9, 10, 7, 8


class CheckError(Exception):
    """A failure to read a file at all, reported as one line on stderr."""


class _Short(Exception):
    """The Thrift reader ran past the bytes it was given."""


# ---------------------------------------------------------------------------------------------
# Thrift compact protocol, read into dicts of field id -> value.


class Thrift:
    def __init__(self, buf):
        self.b = buf
        self.p = 0

    def byte(self):
        if self.p >= len(self.b):
            raise _Short()
        v = self.b[self.p]
        self.p += 1
        return v

    def take(self, n):
        if n < 0 or self.p + n > len(self.b):
            raise _Short()
        v = bytes(self.b[self.p:self.p + n])
        self.p += n
        return v

    def varint(self):
        v, shift = 0, 0
        while True:
            x = self.byte()
            v |= (x & 0x7F) << shift
            if not x & 0x80:
                return v
            shift += 7
            if shift > 70:
                raise CheckError("thrift: varint too long")

    def zigzag(self):
        v = self.varint()
        return (v >> 1) ^ -(v & 1)

    def value(self, t):
        if t == 1:
            return True
        if t == 2:
            return False
        if t == 3:
            b = self.byte()
            return b - 256 if b >= 128 else b
        if t in (4, 5, 6):
            return self.zigzag()
        if t == 7:
            return struct.unpack("<d", self.take(8))[0]
        if t == 8:
            return self.take(self.varint())
        if t in (9, 10):
            h = self.byte()
            n, et = h >> 4, h & 15
            if n == 15:
                n = self.varint()
            if et in (1, 2):
                return [self.byte() == 1 for _ in range(n)]
            return [self.value(et) for _ in range(n)]
        if t == 11:
            n = self.varint()
            if n == 0:
                return {}
            kv = self.byte()
            return {self.value(kv >> 4): self.value(kv & 15) for _ in range(n)}
        if t == 12:
            return self.struct()
        raise CheckError(f"thrift: unknown compact type {t}")

    def struct(self):
        out, last = {}, 0
        while True:
            h = self.byte()
            if h == 0:
                return out
            t, delta = h & 15, h >> 4
            fid = last + delta if delta else self.zigzag()
            out[fid] = self.value(t)
            last = fid


def parse_at(f, offset, limit, what):
    """Parses one Thrift struct at offset of f, reading at most limit bytes; returns it and its
    length. It reads a small window first and grows it when the struct is longer."""
    window = min(limit, 64 << 10)
    while True:
        f.seek(offset)
        buf = f.read(window)
        t = Thrift(buf)
        try:
            return t.struct(), t.p
        except _Short:
            if window >= limit or len(buf) < window:
                raise CheckError(f"{what} at offset {offset}: truncated")
            window = min(limit, window * 4)


# ---------------------------------------------------------------------------------------------
# Files


_s3 = None


def open_file(path):
    """Opens path for random access: a local file, or an S3 object through pyarrow."""
    global _s3
    if not path.startswith("s3://"):
        return open(path, "rb")
    if _s3 is None:
        _s3 = s3_filesystem()  # parquet_files.py
    return _s3.open_input_file(path[len("s3://"):])


def read_footer(f, name):
    f.seek(0, os.SEEK_END)
    size = f.tell()
    if size < 12:
        raise CheckError(f"{name}: {size} bytes is too short for Parquet")
    f.seek(size - 8)
    tail = f.read(8)
    if tail[4:] == b"PARE":
        raise CheckError(f"{name}: encrypted footer, not checked")
    if tail[4:] != b"PAR1":
        raise CheckError(f"{name}: no PAR1 magic at the end")
    n = struct.unpack("<I", tail[:4])[0]
    if n > size - 12:
        raise CheckError(f"{name}: footer length {n} past the file's {size} bytes")
    f.seek(size - 8 - n)
    buf = f.read(n)
    t = Thrift(buf)
    try:
        md = t.struct()
    except _Short:
        raise CheckError(f"{name}: footer truncated")
    if 8 in md:
        raise CheckError(f"{name}: encrypted columns, not checked")
    return md


# ---------------------------------------------------------------------------------------------
# Schema


class Leaf:
    """One leaf column: its path, physical type, and how its values are ordered and shown."""

    def __init__(self, path, e):
        self.path = ".".join(path)
        self.phys = e.get(1)
        self.length = e.get(2, 0)
        lt = e.get(10) or {}
        ct = e.get(6)
        self.logical = lt
        self.converted = ct
        self.scale = e.get(7, 0)
        self.unit = None  # a timestamp's or time's unit: "ms", "us", "ns"
        if 5 in lt:
            self.scale = lt[5].get(1, self.scale)
        for k in (7, 8):  # TIME, TIMESTAMP
            if k in lt:
                u = lt[k].get(2, {})
                self.unit = "ms" if 1 in u else "us" if 2 in u else "ns" if 3 in u else None
        if ct in (CT_TIMESTAMP_MILLIS, CT_TIME_MILLIS):
            self.unit = self.unit or "ms"
        if ct in (CT_TIMESTAMP_MICROS, CT_TIME_MICROS):
            self.unit = self.unit or "us"
        self.decimal = 5 in lt or ct == CT_DECIMAL
        self.uuid = 14 in lt
        self.text = 1 in lt or 4 in lt or 12 in lt or ct in (CT_UTF8, 4, 19)
        self.kind = self._kind()

    def _kind(self):
        """The order of the leaf's values: int, uint, bool, float, float16, decimal (two's
        complement bytes), bytes (unsigned), or None where it is undefined."""
        p, lt, ct = self.phys, self.logical, self.converted
        if p == BOOLEAN:
            return "bool"
        if p in (INT32, INT64):
            if 10 in lt:
                return "int" if lt[10].get(2, True) else "uint"
            if ct is not None and CT_UINT_8 <= ct <= CT_UINT_64:
                return "uint"
            return "int"
        if p in (FLOAT, DOUBLE):
            return "float"
        if p in (BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY):
            if self.decimal:
                return "decimal"
            if 15 in lt:
                return "float16" if p == FIXED_LEN_BYTE_ARRAY and self.length == 2 else None
            if ct == CT_INTERVAL or any(k in lt for k in (16, 17, 18)):  # VARIANT, GEOMETRY, GEOGRAPHY
                return None
            return "bytes"
        return None  # INT96

    def signed_order(self):
        return self.kind in ("int", "bool", "float", "float16", "decimal")

    def decode(self, raw):
        """A statistics value (PLAIN, without a length prefix) as a comparable Python value."""
        p, k = self.phys, self.kind
        want = {BOOLEAN: 1, INT32: 4, INT64: 8, FLOAT: 4, DOUBLE: 8}.get(p)
        if p == FIXED_LEN_BYTE_ARRAY:
            want = self.length
        if want is not None and len(raw) != want:
            raise ValueError(f"{len(raw)} bytes, not a {PHYSICAL[p]} value ({raw.hex()})")
        if p == BOOLEAN:
            if raw[0] > 1:
                raise ValueError(f"boolean byte {raw[0]}")
            return bool(raw[0])
        if p in (INT32, INT64):
            return int.from_bytes(raw, "little", signed=k != "uint")
        if p == FLOAT:
            return struct.unpack("<f", raw)[0]
        if p == DOUBLE:
            return struct.unpack("<d", raw)[0]
        if k == "decimal":
            if not raw:
                raise ValueError("empty decimal")
            return int.from_bytes(raw, "big", signed=True)
        if k == "float16":
            return struct.unpack("<e", raw)[0]
        return bytes(raw)

    def show(self, v):
        if v is None:
            return "none"
        k = self.kind
        if k == "bool":
            return "true" if v else "false"
        if k in ("float", "float16"):
            return repr(v)
        if k == "decimal":
            ctx = decimal.Context(prec=1000)
            return str(decimal.Decimal(v).scaleb(-self.scale, context=ctx))
        if isinstance(v, bytes):
            if self.text:
                try:
                    s = v.decode("utf-8")
                except UnicodeDecodeError:
                    s = None
                if s is not None:
                    return repr(s) if len(s) <= 40 else repr(s[:40]) + f"... ({len(v)} bytes)"
            return v.hex() if len(v) <= 32 else v[:32].hex() + f"... ({len(v)} bytes)"
        return str(v)


def schema_leaves(elements):
    """The leaf columns of a flattened schema (FileMetaData.schema), in order."""
    if not elements:
        raise CheckError("empty schema")
    leaves, pos = [], 1

    def walk(n, path):
        nonlocal pos
        for _ in range(n):
            if pos >= len(elements):
                raise CheckError("schema ends inside a group")
            e = elements[pos]
            pos += 1
            p = path + [e[4].decode("utf-8", "replace")]
            if e.get(5):
                walk(e[5], p)
            else:
                leaves.append(Leaf(p, e))

    walk(elements[0].get(5, 0), [])
    return leaves


# ---------------------------------------------------------------------------------------------
# Values: each leaf's slots (one per level: the value, or None where the level has none) and
# where each row's slots start.


def leaf_slots(pa, arr, leaves, at):
    """Returns, for each leaf under arr (starting at leaves[at]), (slots, starts): starts[i] is
    the first slot of arr's element i (len(arr)+1 entries)."""
    t = arr.type
    if isinstance(t, pa.BaseExtensionType):
        return leaf_slots(pa, arr.storage, leaves, at)
    if pa.types.is_dictionary(t):
        return leaf_slots(pa, arr.dictionary_decode(), leaves, at)
    n = len(arr)
    if pa.types.is_struct(t):
        out = []
        kids = [arr.field(j) for j in range(t.num_fields)]
        for kid in kids:
            if len(kid) != n:
                raise CheckError(f"struct child of {len(kid)} elements for {n}")
            sub = leaf_slots(pa, kid, leaves, at + len(out))
            out.extend(sub)
        if arr.null_count == 0:
            return out
        valid = arr.is_valid().to_pylist()
        return [_regroup(sub, valid) for sub in out]
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_map(t):
        offs = arr.offsets.to_pylist()
        if pa.types.is_map(t):
            sub = leaf_slots(pa, arr.keys, leaves, at)
            sub = sub + leaf_slots(pa, arr.items, leaves, at + len(sub))
        else:
            sub = leaf_slots(pa, arr.values, leaves, at)
        valid = arr.is_valid().to_pylist()
        out = []
        for slots, starts in sub:
            ns, nst = [], [0]
            for i in range(n):
                a, b = offs[i], offs[i + 1]
                if not valid[i] or a == b:
                    ns.append(None)
                else:
                    ns.extend(slots[starts[a]:starts[b]])
                nst.append(len(ns))
            out.append((ns, nst))
        return out
    if at >= len(leaves):
        raise CheckError(f"more Arrow leaves than the {len(leaves)} Parquet leaves")
    return [(physical_values(pa, arr, leaves[at]), range(n + 1))]


def _regroup(sub, valid):
    slots, starts = sub
    ns, nst = [], [0]
    for i, ok in enumerate(valid):
        if ok:
            ns.extend(slots[starts[i]:starts[i + 1]])
        else:
            ns.append(None)
        nst.append(len(ns))
    return ns, nst


def physical_values(pa, arr, leaf):
    """The values of a flat Arrow array as the leaf's statistics hold them (None for NULL):
    ints as the physical type's bits read signed or unsigned, floats, bytes, decimals as their
    unscaled integer. A combination not handled is an error, never a silent skip."""
    t = arr.type
    types = pa.types
    p, k = leaf.phys, leaf.kind
    if k is None:
        return [0 if ok else None for ok in arr.is_valid().to_pylist()]  # only NULLs are counted
    if types.is_decimal(t):
        if not leaf.decimal:
            raise CheckError(f"column {leaf.path}: Arrow {t} for a {PHYSICAL[p]} that is not a decimal")
        width = t.byte_width
        raw = arr.view(pa.binary(width)).to_pylist()
        vals = [None if v is None else int.from_bytes(v, "little", signed=True) for v in raw]
        if p in (INT32, INT64):
            return [None if v is None else _wrap(v, p, "int") for v in vals]
        return vals
    if p == BOOLEAN and types.is_boolean(t):
        return arr.to_pylist()
    if p in (INT32, INT64):
        if types.is_timestamp(t):
            if leaf.unit and t.unit != leaf.unit:
                arr = arr.cast(pa.timestamp(leaf.unit, tz=t.tz))
            arr = arr.view(pa.int64())
        elif types.is_date64(t):
            arr = arr.cast(pa.date32()).view(pa.int32())
        elif types.is_date32(t):
            arr = arr.view(pa.int32())
        elif types.is_time32(t) or types.is_time64(t):
            if leaf.unit and t.unit != leaf.unit:
                arr = arr.cast(pa.time64(leaf.unit) if leaf.unit in ("us", "ns") else pa.time32(leaf.unit))
            arr = arr.view(pa.int64() if types.is_time64(arr.type) else pa.int32())
        elif not types.is_integer(t):
            raise CheckError(f"column {leaf.path}: Arrow {t} for {PHYSICAL[p]}")
        return [None if v is None else _wrap(v, p, k) for v in arr.to_pylist()]
    if p in (FLOAT, DOUBLE):
        if not types.is_floating(t) or types.is_float16(t):
            raise CheckError(f"column {leaf.path}: Arrow {t} for {PHYSICAL[p]}")
        return arr.to_pylist()
    if p in (BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY):
        if k == "float16":
            if not types.is_float16(t):
                raise CheckError(f"column {leaf.path}: Arrow {t} for FLOAT16")
            return [None if v is None else struct.unpack("<e", struct.pack("<H", v))[0] for v in arr.view(pa.uint16()).to_pylist()]
        if types.is_string(t) or types.is_large_string(t) or types.is_string_view(t):
            return [None if v is None else v.encode("utf-8") for v in arr.to_pylist()]
        if types.is_binary(t) or types.is_large_binary(t) or types.is_binary_view(t) or types.is_fixed_size_binary(t):
            return arr.to_pylist()
    raise CheckError(f"column {leaf.path}: Arrow {t} for {PHYSICAL[p]} not handled")


def _wrap(v, p, k):
    """v as the bits of physical type p read signed (k int) or unsigned (uint)."""
    bits = 32 if p == INT32 else 64
    v &= (1 << bits) - 1
    if k != "uint" and v >= 1 << (bits - 1):
        v -= 1 << bits
    return v


# ---------------------------------------------------------------------------------------------
# The checks


def is_nan(v):
    return isinstance(v, float) and v != v


def same(a, b):
    """Equal values, a float's zero sign included."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b and type(a) is type(b)


def true_extremes(kind, values, signed_legacy=False):
    """The least and greatest of the non-NULL values under kind's order (None when there is
    none), with the float rules: NaN left out, a zero min -0.0 and a zero max +0.0. With
    signed_legacy, an unsigned order is replaced by the signed one the deprecated fields use."""
    vals = [v for v in values if v is not None]
    if kind in ("float", "float16"):
        vals = [v for v in vals if v == v]
        if not vals:
            return None
        lo, hi = min(vals), max(vals)
        return (-0.0 if lo == 0 else lo), (0.0 if hi == 0 else hi)
    if not vals:
        return None
    if signed_legacy and kind == "bytes":
        key = lambda b: bytes(x ^ 0x80 for x in b)  # noqa: E731 (Java's signed bytes)
        return min(vals, key=key), max(vals, key=key)
    return min(vals), max(vals)


class Checker:
    def __init__(self):
        self.errors = []
        self.more = 0
        self.checked = {
            "files": 0, "row_groups": 0, "chunks": 0, "chunk_null_counts": 0, "chunk_min_max": 0,
            "chunk_min_max_sound_only": 0, "chunk_deprecated_min_max": 0, "unordered_min_max": 0,
            "pages": 0, "page_null_counts": 0, "page_min_max": 0, "column_indexes": 0, "offset_indexes": 0,
        }

    def error(self, where, msg):
        if len(self.errors) < maxErrors:
            self.errors.append(f"{where}: {msg}")
        else:
            self.more += 1

    def stats(self, where, leaf, st, slots, has_order, counter):
        """Checks one Statistics struct (a chunk's or a page's) against its slots; returns
        whether min/max were compared."""
        nulls = sum(1 for v in slots if v is None)
        if 3 in st:
            self.checked[counter + "_null_counts"] += 1
            if st[3] != nulls:
                self.error(where, f"null_count claims {st[3]}, true {nulls}")
        compared = False
        for fmin, fmax, name, legacy in ((6, 5, "", False), (2, 1, "deprecated ", True)):
            if fmin not in st and fmax not in st:
                continue
            if (fmin in st) != (fmax in st):
                self.error(where, f"{name}min and max: only one of them is set")
                continue
            if leaf.kind is None:
                self.checked["unordered_min_max"] += 1
                continue
            if not legacy and not has_order:
                self.error(where, "min_value/max_value without the file's column_orders: their meaning is undefined")
                continue
            try:
                lo, hi = leaf.decode(st[fmin]), leaf.decode(st[fmax])
            except ValueError as e:
                self.error(where, f"{name}min/max unreadable: {e}")
                continue
            if is_nan(lo) or is_nan(hi):
                self.error(where, f"{name}min/max claims min {leaf.show(lo)} max {leaf.show(hi)}: NaN is never written")
                continue
            signed_legacy = legacy and not leaf.signed_order()
            if signed_legacy and leaf.kind == "uint":
                lo, hi = _wrap(lo, leaf.phys, "int"), _wrap(hi, leaf.phys, "int")
                vals = [None if v is None else _wrap(v, leaf.phys, "int") for v in slots]
                ext = true_extremes("int", vals)
            else:
                ext = true_extremes(leaf.kind, slots, signed_legacy)
            if ext is None:
                self.error(where, f"{name}min/max claims min {leaf.show(lo)} max {leaf.show(hi)}, true: no non-NULL{' non-NaN' if leaf.kind in ('float', 'float16') else ''} value")
                continue
            tlo, thi = ext
            exact_min, exact_max = st.get(8, True), st.get(7, True)
            if legacy:
                exact_min = exact_max = True
            if not (exact_min and exact_max) and leaf.kind != "bytes":
                self.error(where, "min/max flagged inexact on a column that is not a byte array")
            if exact_min and not same(lo, tlo):
                self.error(where, f"{name}min claims {leaf.show(lo)}, true min {leaf.show(tlo)}")
            if exact_max and not same(hi, thi):
                self.error(where, f"{name}max claims {leaf.show(hi)}, true max {leaf.show(thi)}")
            if not exact_min and lo > tlo:
                self.error(where, f"inexact min claims {leaf.show(lo)}, above the true min {leaf.show(tlo)}")
            if not exact_max and hi < thi:
                self.error(where, f"inexact max claims {leaf.show(hi)}, below the true max {leaf.show(thi)}")
            if legacy:
                if counter == "chunk":
                    self.checked["chunk_deprecated_min_max"] += 1
            else:
                compared = True
                if counter == "chunk" and not (exact_min and exact_max):
                    self.checked["chunk_min_max_sound_only"] += 1
                else:
                    self.checked[counter + "_min_max"] += 1
        return compared

    def check_file(self, name):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.checked["files"] += 1
        with open_file(name) as f:
            md = read_footer(f, name)
            leaves = schema_leaves(md.get(2, []))
            orders = md.get(7)
            if orders is not None and len(orders) != len(leaves):
                self.error(name, f"{len(orders)} column orders for {len(leaves)} leaf columns")
            f.seek(0)
            try:
                pf = pq.ParquetFile(f)
            except Exception as e:
                raise CheckError(f"pyarrow: open {name}: {e}") from e
            for rg, g in enumerate(md.get(4, [])):
                self.checked["row_groups"] += 1
                try:
                    table = pf.read_row_group(rg, use_threads=False)  # see the end of the file
                except Exception as e:
                    raise CheckError(f"pyarrow: read {name} row group {rg}: {e}") from e
                if table.num_rows != g.get(3):
                    self.error(f"{name} row group {rg}", f"num_rows claims {g.get(3)}, pyarrow read {table.num_rows}")
                per_leaf = []
                for ci in range(table.num_columns):
                    arr = table.column(ci).combine_chunks()
                    if isinstance(arr, pa.ChunkedArray):
                        arr = pa.concat_arrays(arr.chunks) if arr.num_chunks else pa.array([], arr.type)
                    per_leaf.extend(leaf_slots(pa, arr, leaves, len(per_leaf)))
                chunks = g.get(1, [])
                if len(per_leaf) != len(leaves) or len(chunks) != len(leaves):
                    raise CheckError(
                        f"{name} row group {rg}: {len(chunks)} column chunks, {len(leaves)} schema leaves, {len(per_leaf)} Arrow leaves"
                    )
                for ci, (cc, leaf, (slots, starts)) in enumerate(zip(chunks, leaves, per_leaf)):
                    has_order = orders is not None and ci < len(orders) and 1 in orders[ci]
                    self.check_chunk(f, name, rg, cc, leaf, slots, starts, has_order)

    def check_chunk(self, f, name, rg, cc, leaf, slots, starts, has_order):
        self.checked["chunks"] += 1
        where = f"{name} row group {rg} column {leaf.path}"
        meta = cc.get(3)
        if meta is None:
            self.error(where, "no column metadata")
            return
        if ".".join(x.decode("utf-8", "replace") for x in meta.get(3, [])) != leaf.path:
            self.error(where, f"path_in_schema is {meta.get(3)}")
        if meta.get(1) != leaf.phys:
            self.error(where, f"physical type {meta.get(1)}, schema's {leaf.phys}")
        if meta.get(5) != len(slots):
            self.error(where, f"num_values claims {meta.get(5)}, true {len(slots)} levels")
        if 12 in meta:
            self.stats(where, leaf, meta[12], slots, has_order, "chunk")
        pages = self.check_pages(f, where, leaf, meta, slots, starts, has_order)
        if pages is not None and 6 in cc:
            self.check_column_index(f, where, leaf, cc, pages, slots, starts)

    def check_pages(self, f, where, leaf, meta, slots, starts, has_order):
        """Walks the chunk's page headers, checking each data page's statistics on its slots;
        returns the data pages as (offset, size, first slot, slot count)."""
        start = meta.get(9)
        dict_off = meta.get(11)
        if dict_off is not None and 0 < dict_off < start:
            start = dict_off
        end = start + meta.get(7, 0)
        pos, slot, pages = start, 0, []
        import bisect

        while pos < end:
            try:
                ph, hlen = parse_at(f, pos, end - pos, f"{where}: page header")
            except CheckError as e:
                self.error(where, str(e))
                return None
            size = ph.get(3, 0)
            typ = ph.get(1)
            if typ in (DATA_PAGE, DATA_PAGE_V2):
                h = ph.get(5 if typ == DATA_PAGE else 8, {})
                n = h.get(1, 0)
                k = len(pages)
                self.checked["pages"] += 1
                pw = f"{where} page {k} (levels {slot}-{slot + n - 1})"
                if slot + n > len(slots):
                    self.error(pw, f"num_values {n} runs past the chunk's {len(slots)} levels")
                    return None
                ps = slots[slot:slot + n]
                if typ == DATA_PAGE_V2:
                    nulls = sum(1 for v in ps if v is None)
                    if h.get(2) != nulls:
                        self.error(pw, f"num_nulls claims {h.get(2)}, true {nulls}")
                    r0 = bisect.bisect_left(starts, slot)
                    r1 = bisect.bisect_left(starts, slot + n)
                    if h.get(3) != r1 - r0:
                        self.error(pw, f"num_rows claims {h.get(3)}, true {r1 - r0}")
                st = h.get(5 if typ == DATA_PAGE else 8)
                if st is not None:
                    self.stats(pw, leaf, st, ps, has_order, "page")
                pages.append((pos, hlen + size, slot, n))
                slot += n
            pos += hlen + size
        if pos != end:
            self.error(where, f"pages end at offset {pos}, the chunk at {end}")
        if slot != len(slots):
            self.error(where, f"data pages hold {slot} levels, the chunk {len(slots)}")
        return pages

    def check_column_index(self, f, where, leaf, cc, pages, slots, starts):
        import bisect

        self.checked["column_indexes"] += 1
        ci, _ = parse_at(f, cc[6], cc.get(7, 1 << 30), f"{where}: column index")
        null_pages, mins, maxs, nulls = ci.get(1, []), ci.get(2, []), ci.get(3, []), ci.get(5)
        if not (len(null_pages) == len(mins) == len(maxs) == len(pages)) or (nulls is not None and len(nulls) != len(pages)):
            self.error(where, f"column index of {len(null_pages)} pages ({len(mins)} mins, {len(maxs)} maxes), the chunk has {len(pages)} data pages")
            return
        prev = None
        for k, (_, _, s, n) in enumerate(pages):
            pw = f"{where} column index page {k} (levels {s}-{s + n - 1})"
            ps = slots[s:s + n]
            cnt = sum(1 for v in ps if v is None)
            if nulls is not None and nulls[k] != cnt:
                self.error(pw, f"null_count claims {nulls[k]}, true {cnt}")
            ext = true_extremes(leaf.kind, ps) if leaf.kind else None
            if leaf.kind is None:
                continue
            if null_pages[k]:
                if ext is not None:
                    self.error(pw, f"null page, true min {leaf.show(ext[0])} max {leaf.show(ext[1])}")
                continue
            try:
                lo, hi = leaf.decode(mins[k]), leaf.decode(maxs[k])
            except ValueError as e:
                if leaf.kind != "bytes":
                    self.error(pw, f"min/max unreadable: {e}")
                    continue
                lo, hi = bytes(mins[k]), bytes(maxs[k])
            if ext is None:
                self.error(pw, f"claims min {leaf.show(lo)} max {leaf.show(hi)}, true: not a null page but no value")
                continue
            if leaf.kind == "bytes":  # the column index may truncate byte arrays: sound only
                if lo > ext[0] or hi < ext[1]:
                    self.error(pw, f"claims min {leaf.show(lo)} max {leaf.show(hi)}, true min {leaf.show(ext[0])} max {leaf.show(ext[1])}")
            else:
                if not same(lo, ext[0]):
                    self.error(pw, f"min claims {leaf.show(lo)}, true min {leaf.show(ext[0])}")
                if not same(hi, ext[1]):
                    self.error(pw, f"max claims {leaf.show(hi)}, true max {leaf.show(ext[1])}")
            if prev is not None:
                order = ci.get(4, 0)  # UNORDERED, ASCENDING, DESCENDING
                if order == 1 and (lo < prev[0] or hi < prev[1]):
                    self.error(pw, "boundary_order ASCENDING, but min or max is below the previous page's")
                if order == 2 and (lo > prev[0] or hi > prev[1]):
                    self.error(pw, "boundary_order DESCENDING, but min or max is above the previous page's")
            prev = (lo, hi)
        if 4 in cc:
            self.checked["offset_indexes"] += 1
            oi, _ = parse_at(f, cc[4], cc.get(5, 1 << 30), f"{where}: offset index")
            locs = oi.get(1, [])
            if len(locs) != len(pages):
                self.error(where, f"offset index of {len(locs)} pages, the chunk has {len(pages)} data pages")
                return
            for k, (loc, (off, size, s, n)) in enumerate(zip(locs, pages)):
                row = bisect.bisect_right(starts, s) - 1
                got = (loc.get(1), loc.get(2), loc.get(3))
                if got != (off, size, row):
                    self.error(f"{where} offset index page {k}", f"claims offset {got[0]} size {got[1]} first row {got[2]}, true {off} {size} {row}")


def main():
    args = sys.argv[1:]
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        print("usage: check_stats.py FILE_OR_DIR...", file=sys.stderr)
        return 2
    c = Checker()
    try:
        for name in parquet_files(args, CheckError):  # parquet_files.py, put before this file
            c.check_file(name)
    except CheckError as e:
        print(f"check_stats.py: {e}", file=sys.stderr)
        return 1
    json.dump({"checked": c.checked, "errors": c.errors, "more_errors": c.more}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    # Leave without the interpreter's teardown: under load (make test) it aborted once in
    # Arrow's C++ destructors ("terminate called without an active exception") after the
    # result was written. The output is flushed first; reads run on this thread alone.
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
