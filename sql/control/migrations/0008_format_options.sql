-- Format options from SQL, as the CLI has them (and compression levels): as_text (columns exported as their text form),
-- numeric, timestamp, wide_numeric, compat (the reader profile) and row_group_size, for a
-- request (parquet_export's options, or the format column) and a schedule (its options);
-- checked when written, with a one-line error naming the option and what it takes. Sidecars
-- record their --max-parallel, and a request or schedule asking for more parallel workers than
-- any live sidecar runs is refused at once. Run by sql.Migrate with search_path set to the
-- target schema.

ALTER TABLE parquet_export_requests ADD COLUMN format jsonb;
GRANT INSERT (format) ON parquet_export_requests TO PUBLIC;
ALTER TABLE parquet_export_sidecar_log ADD COLUMN max_parallel integer;

-- parquet_export_format_of returns the format options among opts (NULL when none).
CREATE FUNCTION parquet_export_format_of(opts jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT pg_catalog.jsonb_object_agg(k, v) FROM pg_catalog.jsonb_each(opts) AS e(k, v)
        WHERE k IN ('as_text', 'numeric', 'timestamp', 'wide_numeric', 'compat', 'row_group_size')
$$;

-- parquet_export_check_format raises a one-line error (what names the request or schedule)
-- unless format holds only valid format options: as_text names distinct columns of relid;
-- numeric is string, float64 or decimal:P,S (1 <= P <= 76, 0 <= S <= P); timestamp is micros
-- or text; wide_numeric is string or decimal256; compat is default or spark (which reads no
-- decimal above 38 digits); row_group_size is 1 to 16777216 rows.
CREATE FUNCTION parquet_export_check_format(what text, relid oid, format jsonb) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v text;
    p integer;
    s integer;
    unknown text;
    twice text;
    have text;
    compat text;
    n numeric;
BEGIN
    IF format IS NULL THEN
        RETURN;
    END IF;
    IF pg_catalog.jsonb_typeof(format) <> 'object' THEN
        RAISE EXCEPTION '%format must be a JSON object of format options, not %', what, pg_catalog.jsonb_typeof(format)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT pg_catalog.string_agg(k, ', ' ORDER BY k) INTO unknown FROM pg_catalog.jsonb_object_keys(format) k
        WHERE k NOT IN ('as_text', 'numeric', 'timestamp', 'wide_numeric', 'compat', 'row_group_size');
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION '%unknown format option(s) %: they are as_text, numeric, timestamp, wide_numeric, compat, row_group_size', what, unknown
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR v IN SELECT k FROM pg_catalog.jsonb_object_keys(format) k WHERE k <> 'as_text' AND k <> 'row_group_size'
            AND pg_catalog.jsonb_typeof(format -> k) <> 'string' LOOP
        RAISE EXCEPTION '% must be a string, not %', what || v, (format -> v)::text
            USING ERRCODE = 'invalid_parameter_value';
    END LOOP;
    v := format ->> 'numeric';
    IF v IS NOT NULL THEN
        IF v !~ '^(string|float64|decimal:[0-9]{1,3},[0-9]{1,3})$' THEN
            RAISE EXCEPTION '%numeric % is not one of string, float64, decimal:P,S (like decimal:38,10)', what, pg_catalog.quote_literal(v)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF v LIKE 'decimal:%' THEN
            p := pg_catalog.split_part(pg_catalog.substr(v, 9), ',', 1)::integer;
            s := pg_catalog.split_part(v, ',', 2)::integer;
            IF p NOT BETWEEN 1 AND 76 OR s > p THEN
                RAISE EXCEPTION '%numeric % is out of range: give decimal:P,S with P 1 to 76 and S 0 to P', what, pg_catalog.quote_literal(v)
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
        END IF;
    END IF;
    v := format ->> 'timestamp';
    IF v IS NOT NULL AND v NOT IN ('micros', 'text') THEN
        RAISE EXCEPTION '%timestamp % is not one of micros, text', what, pg_catalog.quote_literal(v)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    v := format ->> 'wide_numeric';
    IF v IS NOT NULL AND v NOT IN ('string', 'decimal256') THEN
        RAISE EXCEPTION '%wide_numeric % is not one of string, decimal256', what, pg_catalog.quote_literal(v)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    compat := pg_catalog.lower(format ->> 'compat');
    IF compat IS NOT NULL AND compat NOT IN ('default', 'spark') THEN
        RAISE EXCEPTION '%compat % is not one of default, spark', what, pg_catalog.quote_literal(format ->> 'compat')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF compat = 'spark' AND format ->> 'wide_numeric' = 'decimal256' THEN
        RAISE EXCEPTION '%wide_numeric decimal256 is not read by Spark (compat spark): leave it out', what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF compat = 'spark' AND p > 38 THEN
        RAISE EXCEPTION '%numeric % is decimal256, which Spark does not read (compat spark): use a precision of at most 38, or string', what, pg_catalog.quote_literal(format ->> 'numeric')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF format ? 'row_group_size' THEN
        IF pg_catalog.jsonb_typeof(format -> 'row_group_size') <> 'number' THEN
            RAISE EXCEPTION '%row_group_size must be a number of rows, not %', what, (format -> 'row_group_size')::text
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        n := (format ->> 'row_group_size')::numeric;
        IF n <> pg_catalog.trunc(n) OR n NOT BETWEEN 1 AND 16777216 THEN
            RAISE EXCEPTION '%row_group_size % is out of range: give 1 to 16777216 rows (default 122880)', what, format ->> 'row_group_size'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    IF format ? 'as_text' THEN
        IF pg_catalog.jsonb_typeof(format -> 'as_text') <> 'array' OR EXISTS (
                SELECT FROM pg_catalog.jsonb_array_elements(format -> 'as_text') e WHERE pg_catalog.jsonb_typeof(e) <> 'string') THEN
            RAISE EXCEPTION '%as_text must be a list of column names, like ["a", "b"], not %', what, (format -> 'as_text')::text
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT pg_catalog.string_agg(pg_catalog.quote_ident(c), ', ' ORDER BY i) INTO unknown
            FROM pg_catalog.jsonb_array_elements_text(format -> 'as_text') WITH ORDINALITY AS u(c, i)
            WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                WHERE a.attrelid = relid AND a.attname = u.c AND a.attnum > 0 AND NOT a.attisdropped);
        IF unknown IS NOT NULL THEN
            SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO have
                FROM pg_catalog.pg_attribute a WHERE a.attrelid = relid AND a.attnum > 0 AND NOT a.attisdropped;
            RAISE EXCEPTION '%as_text: % not in table % (its columns: %)', what, unknown, relid::pg_catalog.regclass, coalesce(have, 'none')
                USING ERRCODE = 'undefined_column';
        END IF;
        SELECT pg_catalog.string_agg(DISTINCT pg_catalog.quote_ident(c), ', ') INTO twice
            FROM (SELECT c FROM pg_catalog.jsonb_array_elements_text(format -> 'as_text') AS c GROUP BY c HAVING pg_catalog.count(*) > 1) d;
        IF twice IS NOT NULL THEN
            RAISE EXCEPTION '%as_text: % named more than once', what, twice
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
END
$$;

-- parquet_export_check_parallel refuses parallel above what every live sidecar runs (their
-- --max-parallel): such a request would fail when claimed. With no live sidecar (none
-- started yet, or all stopped) there is nothing to compare with.
CREATE FUNCTION parquet_export_check_parallel(what text, parallel integer) RETURNS void
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
DECLARE
    most integer;
BEGIN
    IF parallel IS NULL THEN
        RETURN;
    END IF;
    SELECT max(l.max_parallel) INTO most FROM parquet_export_sidecar_log l
        WHERE l.stopped_at IS NULL AND l.seen_at > now() - l.lease AND l.max_parallel IS NOT NULL;
    IF parallel > most THEN
        RAISE EXCEPTION '%parallel % is more than the sidecars run: give 1 to % (their --max-parallel)', what, parallel, most
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

CREATE FUNCTION parquet_export_requests_check_format() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM parquet_export_check_format('', NEW.relid, NEW.format);
    PERFORM parquet_export_check_parallel('', NEW.parallel);
    RETURN NEW;
END
$$;
-- After parquet_export_requests_before_insert (triggers fire in name order), which resolves
-- relid.
CREATE TRIGGER parquet_export_requests_check_format BEFORE INSERT ON parquet_export_requests
    FOR EACH ROW EXECUTE FUNCTION parquet_export_requests_check_format();

CREATE FUNCTION parquet_export_schedules_check_format() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    what text := pg_catalog.format('schedule %s: ', pg_catalog.quote_literal(NEW.name));
BEGIN
    IF pg_catalog.jsonb_typeof(NEW.options) <> 'object' THEN
        RETURN NEW; -- refused with its reason by parquet_export_schedules_before_write
    END IF;
    PERFORM parquet_export_check_format(what, NEW.table_name::regclass, parquet_export_format_of(NEW.options));
    IF pg_catalog.jsonb_typeof(NEW.options -> 'parallel') = 'number' THEN
        PERFORM parquet_export_check_parallel(what, (NEW.options ->> 'parallel')::integer);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER parquet_export_schedules_check_format BEFORE INSERT OR UPDATE OF table_name, options ON parquet_export_schedules
    FOR EACH ROW EXECUTE FUNCTION parquet_export_schedules_check_format();

-- Compression takes a level, as the CLI's --compression does ("zstd:3"): the column's check
-- (0001) gives way to parquet_export_check_options, as 0004's with levels.
ALTER TABLE parquet_export_requests DROP CONSTRAINT parquet_export_requests_compression_check;
CREATE OR REPLACE FUNCTION parquet_export_check_options(what text, relid oid, columns text[], compression text,
    parallel integer, max_attempts integer) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    codec text;
    lvl text;
    unknown text;
    twice text;
    have text;
BEGIN
    codec := pg_catalog.lower(pg_catalog.split_part(compression, ':', 1));
    IF compression IS NOT NULL AND codec NOT IN ('zstd', 'snappy', 'gzip', 'brotli', 'lz4', 'none') THEN
        RAISE EXCEPTION '%compression % is not one of zstd, snappy, gzip, brotli, lz4, none (with an optional :level for zstd, gzip and brotli, like zstd:3)', what, pg_catalog.quote_literal(compression)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.strpos(compression, ':') > 0 THEN
        lvl := pg_catalog.split_part(compression, ':', 2);
        IF lvl !~ '^[0-9]{1,2}$' OR codec NOT IN ('zstd', 'gzip', 'brotli')
                OR (codec = 'zstd' AND lvl::integer NOT BETWEEN 1 AND 22)
                OR (codec = 'gzip' AND lvl::integer NOT BETWEEN 1 AND 9)
                OR (codec = 'brotli' AND lvl::integer > 11) THEN
            RAISE EXCEPTION '%compression %: levels are zstd:1..22, gzip:1..9, brotli:0..11', what, pg_catalog.quote_literal(compression)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    IF parallel IS NOT NULL AND parallel NOT BETWEEN 1 AND 256 THEN
        RAISE EXCEPTION '%parallel % is out of range: give 1 to 256 (a sidecar runs at most its --max-parallel)', what, parallel
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_attempts IS NOT NULL AND max_attempts NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION '%max_attempts % is out of range: give 1 to 100', what, max_attempts
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF columns IS NULL THEN
        RETURN;
    END IF;
    IF pg_catalog.cardinality(columns) = 0 THEN
        RAISE EXCEPTION '%columns is empty: leave it out to export every column', what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(c), ', ' ORDER BY i) INTO unknown
        FROM pg_catalog.unnest(columns) WITH ORDINALITY AS u(c, i)
        WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
            WHERE a.attrelid = relid AND a.attname = u.c AND a.attnum > 0 AND NOT a.attisdropped);
    IF unknown IS NOT NULL THEN
        SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO have
            FROM pg_catalog.pg_attribute a WHERE a.attrelid = relid AND a.attnum > 0 AND NOT a.attisdropped;
        RAISE EXCEPTION '%columns: % not in table % (its columns: %)', what, unknown, relid::pg_catalog.regclass, coalesce(have, 'none')
            USING ERRCODE = 'undefined_column';
    END IF;
    SELECT pg_catalog.string_agg(DISTINCT pg_catalog.quote_ident(c), ', ') INTO twice
        FROM (SELECT c FROM pg_catalog.unnest(columns) AS c GROUP BY c HAVING pg_catalog.count(*) > 1) d;
    IF twice IS NOT NULL THEN
        RAISE EXCEPTION '%columns: % named more than once', what, twice
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;


-- As 0007's, with the format options among the options.
CREATE OR REPLACE FUNCTION parquet_export_schedules_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    owner_role oid;
    unknown text[];
    restart boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.owner := current_user;
        NEW.last_slot := NULL;
        NEW.last_request_id := NULL;
        NEW.last_run_at := NULL;
        NEW.created_at := now();
    ELSE
        SELECT relowner INTO owner_role FROM pg_catalog.pg_class WHERE oid = TG_RELID;
        IF NOT pg_catalog.pg_has_role(current_user, owner_role, 'MEMBER') THEN
            NEW.owner := OLD.owner;
        END IF;
    END IF;
    IF TG_OP = 'INSERT' OR NEW.cron IS DISTINCT FROM OLD.cron THEN
        EXECUTE format('SELECT %I.parquet_export_cron_check($1)', TG_TABLE_SCHEMA) USING NEW.cron;
    END IF;
    IF TG_OP = 'INSERT' OR NEW.timezone IS DISTINCT FROM OLD.timezone THEN
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_timezone_names WHERE name = NEW.timezone) THEN
            RAISE EXCEPTION 'schedule %: unknown time zone %', quote_literal(NEW.name), quote_literal(NEW.timezone)
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'use a name from pg_timezone_names, like UTC or Europe/Paris';
        END IF;
    END IF;
    IF TG_OP = 'INSERT' OR NEW.options IS DISTINCT FROM OLD.options THEN
        IF jsonb_typeof(NEW.options) <> 'object' THEN
            RAISE EXCEPTION 'schedule %: options must be a JSON object, not %', quote_literal(NEW.name), jsonb_typeof(NEW.options)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT array_agg(k ORDER BY k) INTO unknown FROM jsonb_object_keys(NEW.options) k
            WHERE k NOT IN ('columns', 'compression', 'parallel', 'output_path', 'priority', 'max_attempts', 'keep', 'keep_for',
                'as_text', 'numeric', 'timestamp', 'wide_numeric', 'compat', 'row_group_size');
        IF unknown IS NOT NULL THEN
            RAISE EXCEPTION 'schedule %: unknown option(s) %', quote_literal(NEW.name), array_to_string(unknown, ', ')
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'options are columns, compression, parallel, output_path, priority, max_attempts, keep, keep_for, as_text, numeric, timestamp, wide_numeric, compat, row_group_size';
        END IF;
    END IF;
    IF TG_OP = 'INSERT' OR NEW.table_name IS DISTINCT FROM OLD.table_name THEN
        -- Stored schema-qualified: the sidecar that queues the exports has its own search_path.
        SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) INTO NEW.table_name
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = NEW.table_name::regclass;
    END IF;
    restart := TG_OP = 'INSERT' OR NEW.cron IS DISTINCT FROM OLD.cron
        OR NEW.timezone IS DISTINCT FROM OLD.timezone OR (NEW.enabled AND NOT OLD.enabled);
    IF restart THEN
        NEW.slots_from := now();
        NEW.next_run_at := NULL;
    END IF;
    IF restart OR NEW.table_name IS DISTINCT FROM OLD.table_name OR NEW.options IS DISTINCT FROM OLD.options THEN
        NEW.error := NULL;
    END IF;
    RETURN NEW;
END
$$;

-- As 0007's, with the format options among the options (kept in the format column).
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
            'as_text', 'numeric', 'timestamp', 'wide_numeric', 'compat', 'row_group_size');
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'parquet_export: unknown option(s) %', array_to_string(unknown, ', ')
            USING HINT = 'options are columns, compression, parallel, output_path, priority, max_attempts, keep_for, as_text, numeric, timestamp, wide_numeric, compat, row_group_size';
    END IF;
    INSERT INTO parquet_export_requests
            (table_name, columns, compression, parallel, output_path, priority, max_attempts, keep_for, format)
        VALUES (tbl::text,
            (SELECT array_agg(c) FROM jsonb_array_elements_text(opts -> 'columns') c),
            opts ->> 'compression', (opts ->> 'parallel')::int, opts ->> 'output_path',
            coalesce((opts ->> 'priority')::int, 0), coalesce((opts ->> 'max_attempts')::int, 3),
            (opts ->> 'keep_for')::interval,
            parquet_export_format_of(opts))
        RETURNING id INTO new_id;
    RETURN new_id;
END
$$;

-- As 0007's, with the format options in options.
CREATE OR REPLACE VIEW parquet_export_status WITH (security_invoker = true) AS
SELECT r.id,
       r.table_name,
       r.requester,
       r.state,
       CASE
           WHEN r.state = 'succeeded' THEN 100.0
           WHEN r.state = 'publishing' THEN 99.9
           WHEN r.state <> 'running' OR r.progress_at IS NULL THEN NULL
           WHEN r.estimated_rows > 0 THEN least(99.9, round(100.0 * r.progress_rows / r.estimated_rows, 1))
           WHEN r.tasks > 0 THEN least(99.9, round(100.0 * r.tasks_done / r.tasks, 1))
       END AS progress_pct,
       coalesce(r.rows, r.progress_rows) AS rows,
       coalesce(r.copy_bytes, r.progress_copy_bytes) AS copy_bytes,
       r.output_bytes,
       r.file_count AS files,
       CASE
           WHEN r.state = 'succeeded' AND r.seconds > 0 THEN round((r.rows / r.seconds)::numeric, 0)
           WHEN r.state = 'running' AND r.progress_at > r.started_at
               THEN round(r.progress_rows / extract(epoch FROM r.progress_at - r.started_at)::numeric, 0)
       END AS rows_per_s,
       CASE
           WHEN r.state = 'succeeded' AND r.seconds > 0 THEN round((r.copy_bytes / r.seconds / 1e6)::numeric, 1)
           WHEN r.state = 'running' AND r.progress_at > r.started_at
               THEN round(r.progress_copy_bytes / extract(epoch FROM r.progress_at - r.started_at)::numeric / 1e6, 1)
       END AS mb_per_s,
       CASE
           WHEN r.state = 'running' AND r.estimated_rows > r.progress_rows AND r.progress_rows > 0
                AND r.progress_at > r.started_at
               THEN make_interval(secs => round((r.estimated_rows - r.progress_rows)
                    * extract(epoch FROM r.progress_at - r.started_at)::numeric / r.progress_rows))
       END AS eta,
       coalesce(r.finished_at, now()) - r.started_at AS elapsed,
       r.attempt,
       r.max_attempts,
       r.claimed_by AS sidecar,
       r.created_at,
       r.started_at,
       r.finished_at,
       r.output_dir,
       r.error,
       r.note,
       CASE WHEN r.state IN ('running', 'publishing') THEN now() - r.heartbeat_at END AS heartbeat_age,
       pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('columns', r.columns, 'compression', r.compression,
           'parallel', r.parallel, 'output_path', r.output_path, 'priority', nullif(r.priority, 0),
           'max_attempts', r.max_attempts)) || coalesce(r.format, '{}') AS options,
       r.cancelled_by,
       (SELECT s.name FROM parquet_export_schedules s WHERE s.id = r.schedule_id) AS schedule,
       CASE WHEN r.state = 'succeeded' THEN r.tasks ELSE r.tasks_done END AS tasks_done,
       r.tasks,
       r.keep_for,
       CASE WHEN r.state = 'succeeded' AND r.deleted_at IS NULL THEN r.finished_at + r.keep_for END AS expires_at,
       r.delete_requested_at,
       r.delete_reason,
       r.deleted_at
FROM parquet_export_requests r;
