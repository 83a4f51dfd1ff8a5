-- Operations in SQL: administrators change, disable and delete any role's schedules; the
-- requester or an administrator re-queues a failed or cancelled request (parquet_export_retry);
-- a schedule whose runs fail N times in a row disables itself, with the reason on the schedule.
-- Run by sql.Migrate with search_path set to the target schema.

-- Administrators may change, disable and delete every role's schedules (the owner's policies
-- stay; permissive policies add up).
CREATE POLICY admin_update ON parquet_export_schedules FOR UPDATE
    USING (parquet_export_is_admin()) WITH CHECK (parquet_export_is_admin());
CREATE POLICY admin_delete ON parquet_export_schedules FOR DELETE
    USING (parquet_export_is_admin());

-- Schedules count their failed runs in a row; past the limit (parquet_export_limits, column
-- max_schedule_failures: the role's row, else '*', default 5) the schedule is disabled and
-- says why in error. A succeeded run resets the count; enabling the schedule again does too.
ALTER TABLE parquet_export_limits
    ADD COLUMN max_schedule_failures integer CHECK (max_schedule_failures >= 1);
UPDATE parquet_export_limits SET max_schedule_failures = 5 WHERE role = '*';
ALTER TABLE parquet_export_schedules
    ADD COLUMN failures integer NOT NULL DEFAULT 0;

CREATE FUNCTION parquet_export_schedule_outcome() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    sc parquet_export_schedules;
    max_failures integer;
BEGIN
    IF NEW.schedule_id IS NULL OR NEW.state IS NOT DISTINCT FROM OLD.state
        OR NEW.state NOT IN ('succeeded', 'failed') THEN
        RETURN NULL;
    END IF;
    IF NEW.state = 'succeeded' THEN
        UPDATE parquet_export_schedules SET failures = 0 WHERE id = NEW.schedule_id AND failures <> 0;
        RETURN NULL;
    END IF;
    UPDATE parquet_export_schedules SET failures = failures + 1 WHERE id = NEW.schedule_id
        RETURNING * INTO sc;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT l.max_schedule_failures INTO max_failures FROM parquet_export_limits l
        WHERE l.role IN (sc.owner, '*') AND l.max_schedule_failures IS NOT NULL
        ORDER BY l.role = '*' LIMIT 1;
    IF sc.enabled AND sc.failures >= coalesce(max_failures, 5) THEN
        UPDATE parquet_export_schedules
        SET enabled = false,
            error = pg_catalog.format('disabled after %s failed runs in a row (the last, request %s: %s); '
                'fix the cause, then UPDATE parquet_export_schedules SET enabled = true WHERE name = %L',
                sc.failures, NEW.id, coalesce(NEW.error, 'no error recorded'), sc.name)
        WHERE id = sc.id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER parquet_export_schedule_outcome AFTER UPDATE OF state ON parquet_export_requests
    FOR EACH ROW EXECUTE FUNCTION parquet_export_schedule_outcome();

-- Enabling a schedule again starts its count afresh and clears the reason it was disabled.
CREATE FUNCTION parquet_export_schedule_enabled() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.enabled AND NOT OLD.enabled THEN
        NEW.failures := 0;
        IF OLD.error LIKE 'disabled after %' THEN
            NEW.error := NULL;
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER parquet_export_schedule_enabled BEFORE UPDATE OF enabled ON parquet_export_schedules
    FOR EACH ROW EXECUTE FUNCTION parquet_export_schedule_enabled();

-- parquet_export_retry re-queues a failed or cancelled request for one more attempt, for its
-- requester or an administrator (the requests' row-level security decides which rows a role
-- reaches; the column it sets, retry_requested_at, is the only one it may write). The previous
-- attempts' errors stay: in error until the next attempt ends, and per attempt in
-- parquet_export_attempts.
ALTER TABLE parquet_export_requests ADD COLUMN retry_requested_at timestamptz;
GRANT UPDATE (retry_requested_at) ON parquet_export_requests TO PUBLIC;

CREATE FUNCTION parquet_export_retry_requested() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.retry_requested_at IS NOT DISTINCT FROM OLD.retry_requested_at THEN
        RETURN NEW;
    END IF;
    IF OLD.state NOT IN ('failed', 'cancelled') THEN
        RAISE EXCEPTION 'request %: only a failed or cancelled request can be retried; it is %', OLD.id, OLD.state
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = CASE WHEN OLD.state = 'succeeded' THEN 'insert a new request to export the table again'
                              ELSE 'it has not finished: cancel it first, or wait' END;
    END IF;
    NEW.state := 'queued';
    NEW.claimed_by := NULL;
    NEW.cancel_requested_at := NULL;
    NEW.finished_at := NULL;
    NEW.run_after := NULL;
    NEW.max_attempts := GREATEST(OLD.max_attempts, OLD.attempt + 1);
    NEW.note := pg_catalog.format('retried by %s at %s', current_user, pg_catalog.now());
    RETURN NEW;
END
$$;
CREATE TRIGGER parquet_export_retry_requested BEFORE UPDATE OF retry_requested_at ON parquet_export_requests
    FOR EACH ROW EXECUTE FUNCTION parquet_export_retry_requested();

CREATE FUNCTION parquet_export_retry(request_id bigint) RETURNS bigint
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE parquet_export_requests SET retry_requested_at = pg_catalog.clock_timestamp() WHERE id = request_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'request %: no such request of yours', request_id
            USING ERRCODE = 'no_data_found',
                  HINT = 'parquet_export_status lists your requests (an administrator sees every role''s)';
    END IF;
    RETURN request_id;
END
$$;
GRANT EXECUTE ON FUNCTION parquet_export_retry(bigint) TO PUBLIC;

-- Options are checked when a request or a schedule is written, with a one-line error naming
-- the option and what it takes (instead of a check constraint's name, or a failure at run
-- time): compression, parallel, max_attempts and columns (against the table). what names the
-- request or schedule in messages.
CREATE FUNCTION parquet_export_check_options(what text, relid oid, columns text[], compression text,
    parallel integer, max_attempts integer) RETURNS void
LANGUAGE plpgsql STABLE AS $$
DECLARE
    unknown text;
    twice text;
    have text;
BEGIN
    IF compression IS NOT NULL AND compression NOT IN ('zstd', 'snappy', 'gzip', 'brotli', 'lz4', 'none') THEN
        RAISE EXCEPTION '%compression % is not one of zstd, snappy, gzip, brotli, lz4, none', what, pg_catalog.quote_literal(compression)
            USING ERRCODE = 'invalid_parameter_value';
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

-- Requests: after parquet_export_requests_before_insert (triggers fire in name order) has
-- resolved the table.
CREATE FUNCTION parquet_export_requests_check() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE pg_catalog.format('SELECT %I.parquet_export_check_options($1, $2, $3, $4, $5, $6)', TG_TABLE_SCHEMA)
        USING '', NEW.relid, NEW.columns, NEW.compression, NEW.parallel, NEW.max_attempts;
    RETURN NEW;
END
$$;
CREATE TRIGGER parquet_export_requests_check BEFORE INSERT ON parquet_export_requests
    FOR EACH ROW EXECUTE FUNCTION parquet_export_requests_check();

-- Schedules: their options hold the same values as JSON, checked against the schedule's table
-- whenever the table or the options change.
CREATE FUNCTION parquet_export_schedules_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    what text := pg_catalog.format('schedule %s: ', pg_catalog.quote_literal(NEW.name));
    o jsonb := NEW.options;
    k text;
    cols text[];
BEGIN
    FOREACH k IN ARRAY ARRAY['parallel', 'max_attempts', 'priority'] LOOP
        IF o ? k AND pg_catalog.jsonb_typeof(o -> k) <> 'number' THEN
            RAISE EXCEPTION '%', what OPERATOR(pg_catalog.||) k OPERATOR(pg_catalog.||) ' must be a number, not '
                OPERATOR(pg_catalog.||) (o -> k)::pg_catalog.text USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    IF o ? 'compression' AND pg_catalog.jsonb_typeof(o -> 'compression') <> 'string' THEN
        RAISE EXCEPTION '%compression must be a string, one of zstd, snappy, gzip, brotli, lz4, none', what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF o ? 'columns' THEN
        IF pg_catalog.jsonb_typeof(o -> 'columns') <> 'array'
            OR EXISTS (SELECT FROM pg_catalog.jsonb_array_elements(o -> 'columns') e WHERE pg_catalog.jsonb_typeof(e) <> 'string') THEN
            RAISE EXCEPTION '%columns must be an array of column names, like ["id", "total"]', what
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT pg_catalog.array_agg(e ORDER BY i) INTO cols FROM pg_catalog.jsonb_array_elements_text(o -> 'columns') WITH ORDINALITY AS u(e, i);
        cols := coalesce(cols, '{}');
    END IF;
    EXECUTE pg_catalog.format('SELECT %I.parquet_export_check_options($1, $2, $3, $4, $5, $6)', TG_TABLE_SCHEMA)
        USING what, NEW.table_name::pg_catalog.regclass::pg_catalog.oid, cols, o ->> 'compression',
              (o ->> 'parallel')::pg_catalog.numeric::pg_catalog.int4, (o ->> 'max_attempts')::pg_catalog.numeric::pg_catalog.int4;
    RETURN NEW;
END
$$;
CREATE TRIGGER parquet_export_schedules_check BEFORE INSERT OR UPDATE OF table_name, options ON parquet_export_schedules
    FOR EACH ROW EXECUTE FUNCTION parquet_export_schedules_check();
