-- Current definition; applied by Migrate after the numbered migrations whenever it applies one
-- (see definitions.go). Run with search_path set to the target schema.

-- parquet_export(tbl, opts) queues a request with the options of a JSON object, each as the
-- request column of that name (format options gathered into format), and returns its id.
CREATE OR REPLACE FUNCTION parquet_export(tbl regclass, opts jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    unknown text[];
    new_id bigint;
BEGIN
    IF opts IS NULL THEN
        opts := '{}';
    END IF;
    IF jsonb_typeof(opts) <> 'object' THEN
        RAISE EXCEPTION 'parquet_export: options must be a JSON object, not %', jsonb_typeof(opts);
    END IF;
    IF opts ? 'keep' THEN
        RAISE EXCEPTION 'parquet_export: keep is a schedule''s option (how many of its runs keep their files); a request takes keep_for, like {"keep_for": "7 days"}'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT array_agg(k ORDER BY k) INTO unknown FROM jsonb_object_keys(opts) k
        WHERE k NOT IN ('columns', 'compression', 'parallel', 'output_path', 'priority', 'max_attempts', 'keep_for',
            'as_text', 'numeric', 'timestamp', 'wide_numeric', 'compat', 'row_group_size', 'iceberg_table', 'iceberg_catalog',
            'mode', 'max_retained_wal');
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'parquet_export: unknown option(s) %', array_to_string(unknown, ', ')
            USING HINT = 'options are columns, compression, parallel, output_path, priority, max_attempts, keep_for, as_text, numeric, timestamp, wide_numeric, compat, row_group_size, iceberg_table, iceberg_catalog, mode, max_retained_wal';
    END IF;
    IF opts ? 'mode' AND (jsonb_typeof(opts -> 'mode') <> 'string' OR opts ->> 'mode' NOT IN ('full', 'incremental')) THEN
        RAISE EXCEPTION 'parquet_export: mode must be "full" or "incremental", not %', (opts -> 'mode')::text
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO parquet_export_requests
            (table_name, columns, compression, parallel, output_path, priority, max_attempts, keep_for, format,
             iceberg_table, iceberg_catalog, mode, max_retained_wal)
        VALUES (tbl::text,
            (SELECT array_agg(c) FROM jsonb_array_elements_text(opts -> 'columns') c),
            opts ->> 'compression', (opts ->> 'parallel')::int, opts ->> 'output_path',
            coalesce((opts ->> 'priority')::int, 0), coalesce((opts ->> 'max_attempts')::int, 3),
            (opts ->> 'keep_for')::interval,
            parquet_export_format_of(opts), opts ->> 'iceberg_table', opts ->> 'iceberg_catalog',
            coalesce(opts ->> 'mode', 'full'), parquet_export_size_option('max_retained_wal', opts -> 'max_retained_wal'))
        RETURNING id INTO new_id;
    RETURN new_id;
END
$$;
