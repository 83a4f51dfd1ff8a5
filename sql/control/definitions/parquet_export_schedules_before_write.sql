-- Current definition; applied by Migrate after the numbered migrations whenever it applies one
-- (see definitions.go). Run with search_path set to the target schema.

-- parquet_export_schedules_before_write sets a schedule's owner (unforgeably), checks its cron
-- spec, time zone and the names of its options, stores its table schema-qualified, and
-- restarts its slots when its timing changes.
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
                'as_text', 'numeric', 'timestamp', 'wide_numeric', 'compat', 'row_group_size',
                'iceberg_table', 'iceberg_catalog', 'mode', 'max_retained_wal');
        IF unknown IS NOT NULL THEN
            RAISE EXCEPTION 'schedule %: unknown option(s) %', quote_literal(NEW.name), array_to_string(unknown, ', ')
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'options are columns, compression, parallel, output_path, priority, max_attempts, keep, keep_for, as_text, numeric, timestamp, wide_numeric, compat, row_group_size, iceberg_table, iceberg_catalog, mode, max_retained_wal';
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
