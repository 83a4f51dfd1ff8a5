-- Schedules that run: cron specs and time zones are checked when written, a schedule counts its
-- slots from when it was created, changed or re-enabled (slots_from), and the scheduling
-- sidecar records each slot it queued (last_slot, last_request_id, last_run_at) and the next
-- one (next_run_at). Run by sql.Migrate with search_path set to the target schema.

ALTER TABLE parquet_export_schedules
    ADD COLUMN slots_from timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN last_run_at timestamptz;

-- parquet_export_cron_check raises a clear error (invalid_parameter_value) unless spec is a
-- schedule the sidecar runs: five fields (minute hour day-of-month month day-of-week), each a
-- list of *, ?, numbers, names (JAN-DEC, SUN-SAT), ranges a-b and steps /n; or one of the
-- descriptors @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly. That is what
-- robfig/cron's standard parser accepts (the sidecar parses it again with that), less @every
-- (its times depend on when it is read, so sidecars could not agree on its slots) and TZ=
-- prefixes (the schedule's timezone column says that).
CREATE FUNCTION parquet_export_cron_check(spec text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    field_names text[] := ARRAY['minute', 'hour', 'day of month', 'month', 'day of week'];
    lo int[] := ARRAY[0, 0, 1, 1, 0];
    hi int[] := ARRAY[59, 23, 31, 12, 6];
    months text[] := ARRAY['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
    days text[] := ARRAY['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
    hint text := 'use five fields (minute hour day-of-month month day-of-week), e.g. ''0 3 * * *'' for 03:00 every day, or @hourly, @daily, @weekly, @monthly, @yearly';
    s text;
    fields text[];
    part text;
    step_parts text[];
    ends text[];
    vals int[];
    v int;
    i int;
    j int;
BEGIN
    s := btrim(coalesce(spec, ''), E' \t\r\n');
    IF s = '' THEN
        RAISE EXCEPTION 'cron spec is empty' USING ERRCODE = 'invalid_parameter_value', HINT = hint;
    END IF;
    IF s ~ '^(CRON_)?TZ=' THEN
        RAISE EXCEPTION 'cron spec %: no TZ= prefix here; set the schedule''s timezone instead', quote_literal(s)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF left(s, 1) = '@' THEN
        IF s IN ('@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly') THEN
            RETURN;
        ELSIF s LIKE '@every%' THEN
            RAISE EXCEPTION 'cron spec %: @every is not supported (its times depend on when it is read); use a five-field spec like ''*/15 * * * *''', quote_literal(s)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        RAISE EXCEPTION 'cron spec %: unknown descriptor', quote_literal(s)
            USING ERRCODE = 'invalid_parameter_value', HINT = hint;
    END IF;
    fields := regexp_split_to_array(s, '\s+');
    IF cardinality(fields) <> 5 THEN
        RAISE EXCEPTION 'cron spec %: % fields, want 5', quote_literal(s), cardinality(fields)
            USING ERRCODE = 'invalid_parameter_value', HINT = hint;
    END IF;
    FOR i IN 1..5 LOOP
        FOREACH part IN ARRAY string_to_array(fields[i], ',') LOOP
            IF part = '' THEN
                RAISE EXCEPTION 'cron spec %: empty element in % field %', quote_literal(s), field_names[i], quote_literal(fields[i])
                    USING ERRCODE = 'invalid_parameter_value', HINT = hint;
            END IF;
            step_parts := string_to_array(part, '/');
            IF cardinality(step_parts) > 2 THEN
                RAISE EXCEPTION 'cron spec %: too many slashes in % %', quote_literal(s), field_names[i], quote_literal(part)
                    USING ERRCODE = 'invalid_parameter_value', HINT = hint;
            END IF;
            IF cardinality(step_parts) = 2 AND NOT coalesce(step_parts[2] ~ '^0*[1-9][0-9]{0,8}$', false) THEN
                RAISE EXCEPTION 'cron spec %: step % in % must be a positive number', quote_literal(s), quote_literal(coalesce(step_parts[2], '')), field_names[i]
                    USING ERRCODE = 'invalid_parameter_value', HINT = hint;
            END IF;
            CONTINUE WHEN step_parts[1] IN ('*', '?');
            ends := string_to_array(step_parts[1], '-');
            IF cardinality(ends) > 2 THEN
                RAISE EXCEPTION 'cron spec %: too many hyphens in % %', quote_literal(s), field_names[i], quote_literal(part)
                    USING ERRCODE = 'invalid_parameter_value', HINT = hint;
            END IF;
            vals := ARRAY[]::int[];
            FOR j IN 1..greatest(cardinality(ends), 1) LOOP
                v := NULL;
                IF ends[j] ~ '^[0-9]{1,9}$' THEN
                    v := ends[j]::int;
                ELSIF i = 4 THEN
                    v := array_position(months, lower(ends[j]));
                ELSIF i = 5 THEN
                    v := array_position(days, lower(ends[j])) - 1;
                END IF;
                IF v IS NULL THEN
                    RAISE EXCEPTION 'cron spec %: % is not a valid % value', quote_literal(s), quote_literal(coalesce(ends[j], '')), field_names[i]
                        USING ERRCODE = 'invalid_parameter_value', HINT = hint;
                END IF;
                IF v < lo[i] OR v > hi[i] THEN
                    RAISE EXCEPTION 'cron spec %: % % is out of range %-%', quote_literal(s), field_names[i], v, lo[i], hi[i]
                        USING ERRCODE = 'invalid_parameter_value', HINT = hint;
                END IF;
                vals := vals || v;
            END LOOP;
            IF cardinality(vals) = 2 AND vals[1] > vals[2] THEN
                RAISE EXCEPTION 'cron spec %: % range % starts after it ends', quote_literal(s), field_names[i], quote_literal(part)
                    USING ERRCODE = 'invalid_parameter_value', HINT = hint;
            END IF;
        END LOOP;
    END LOOP;
END
$$;

-- Schedules belong to the role that created them (only the owner of the control tables may
-- reassign one). A schedule's cron spec, time zone (a name from pg_timezone_names, which the
-- sidecar also knows), table and options are checked when they change. Creating a schedule,
-- changing its spec or time zone, or re-enabling it starts its slots afresh from now: slots
-- before that never run. The sidecar's own updates (next_run_at, last_*, error) pass through.
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
            WHERE k NOT IN ('columns', 'compression', 'parallel', 'output_path', 'priority', 'max_attempts');
        IF unknown IS NOT NULL THEN
            RAISE EXCEPTION 'schedule %: unknown option(s) %', quote_literal(NEW.name), array_to_string(unknown, ', ')
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'options are columns, compression, parallel, output_path, priority, max_attempts';
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

-- Existing schedules count their slots from their creation (after the trigger above is in
-- place, which lets this update through unchecked).
UPDATE parquet_export_schedules SET slots_from = created_at;

-- parquet_export_schedule creates (or, for its owner, replaces) the schedule called name: an
-- export of tbl with opts (as parquet_export takes them) at every time cron matches in
-- timezone. In opts, output_path may hold {slot}, replaced by each run's slot time
-- (UTC, like 20260102T030000Z), so that runs do not write to the same directory. Returns
-- the schedule id.
DROP FUNCTION parquet_export_schedule(text, text, regclass, jsonb);
CREATE FUNCTION parquet_export_schedule(name text, cron text, tbl regclass, opts jsonb DEFAULT '{}',
    timezone text DEFAULT 'UTC')
RETURNS bigint LANGUAGE sql SET search_path FROM CURRENT AS $$
    INSERT INTO parquet_export_schedules AS s (name, cron, timezone, table_name, options)
    VALUES (parquet_export_schedule.name, parquet_export_schedule.cron, parquet_export_schedule.timezone,
            tbl::text, coalesce(opts, '{}'))
    ON CONFLICT ON CONSTRAINT parquet_export_schedules_name_key DO UPDATE
        SET cron = EXCLUDED.cron, timezone = EXCLUDED.timezone, table_name = EXCLUDED.table_name,
            options = EXCLUDED.options, enabled = true
    RETURNING s.id
$$;
