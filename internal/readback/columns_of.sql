-- columns_of lists the live columns of table $1 (a name as written in SQL, quoted where needed)
-- in attnum order, with the type of each column resolved through any chain of domains to its
-- base type.
WITH RECURSIVE cols AS (
    SELECT a.attnum, a.attname::text AS name, a.atttypid AS typ, a.attndims AS dims
    FROM pg_catalog.pg_attribute a
    WHERE a.attrelid = $1::text::regclass AND a.attnum > 0 AND NOT a.attisdropped
), base (attnum, typ, depth) AS (
    SELECT attnum, typ, 0 FROM cols
    UNION ALL
    SELECT b.attnum, t.typbasetype, b.depth + 1
    FROM base b
    JOIN pg_catalog.pg_type t ON t.oid = b.typ
    WHERE t.typtype = 'd'
)
SELECT c.name,
       (SELECT b.typ FROM base b WHERE b.attnum = c.attnum ORDER BY b.depth DESC LIMIT 1),
       c.dims
FROM cols c
ORDER BY c.attnum
