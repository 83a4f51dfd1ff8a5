-- Iceberg commits from SQL: a request (the iceberg_table and iceberg_catalog columns, or
-- parquet_export's options) or a schedule (its options) names an Iceberg table, and the sidecar
-- commits the export, once published, as a snapshot of that table (package lakehouse), and
-- records the snapshot (iceberg_snapshot, iceberg_metadata). Every request also records where
-- its output went as a URI (output_uri: s3://bucket/prefix/<dir>, or file:///<root>/<dir>),
-- written by the sidecar when it publishes. Run by sql.Migrate with search_path set to the
-- target schema.
--
-- Who may commit where: the catalog is written by the sidecar's own login, not the
-- requester's, so the table is confined when the request is written: a requester commits only
-- to tables in the namespace named as its role (alice: alice.orders, never bob.orders), and
-- names no catalog but the database's own (postgres), since the sidecar connects to any other
-- with its own credentials; members of the admin role may name any table and catalog. An
-- export that is a snapshot of a table keeps its files while the table reads them: keep_for,
-- a schedule's keep and parquet_export_delete are refused for it.

ALTER TABLE parquet_export_requests
    ADD COLUMN iceberg_table text,
    ADD COLUMN iceberg_catalog text,
    ADD COLUMN iceberg_snapshot bigint,
    ADD COLUMN iceberg_metadata text,
    ADD COLUMN output_uri text;
GRANT INSERT (iceberg_table, iceberg_catalog) ON parquet_export_requests TO PUBLIC;

-- The SQL catalog's schema (lakehouse.SchemaName), owned by the role that migrates (the
-- sidecar's), when that role may create it; deploy/roles.sql creates it for a sidecar that
-- may not.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'pgparquet_iceberg')
            AND pg_catalog.has_database_privilege(pg_catalog.current_database(), 'CREATE') THEN
        CREATE SCHEMA pgparquet_iceberg;
    END IF;
END
$$;

-- parquet_export_role_is_admin says whether role r is a member of the configured admin role
-- (parquet_export_is_admin asks it of current_user; a schedule's run is checked for its owner).
CREATE FUNCTION parquet_export_role_is_admin(r name) RETURNS boolean
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
    SELECT EXISTS (
        SELECT 1 FROM parquet_export_settings s
        JOIN pg_catalog.pg_roles a ON a.rolname = s.value
        JOIN pg_catalog.pg_roles m ON m.rolname = r
        WHERE s.key = 'admin_role' AND pg_catalog.pg_has_role(m.oid, a.oid, 'MEMBER'))
$$;

-- parquet_export_check_iceberg raises a one-line error (what names the request or schedule)
-- unless tbl and cat are an Iceberg target requester may commit to: tbl is namespace.name (the
-- namespace may hold dots, the name is after the last one; lakehouse.CheckTable's rules) whose
-- namespace is requester's name, and cat is postgres (the database's own catalog, the default);
-- a member of the admin role may name any namespace, and a catalog postgres://… or
-- rest+http(s)://… (lakehouse.CheckCatalog's rules) without a password in it. keep_for is the
-- request's or schedule's, refused with a table: the table's snapshot reads the files.
CREATE FUNCTION parquet_export_check_iceberg(what text, requester name, tbl text, cat text, keep_for text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
DECLARE
    ns text;
    admin boolean;
BEGIN
    IF tbl IS NULL THEN
        IF cat IS NOT NULL THEN
            RAISE EXCEPTION '%iceberg_catalog needs iceberg_table, the table to commit to (like %)', what, pg_catalog.quote_literal(requester || '.orders')
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        RETURN;
    END IF;
    IF pg_catalog.strpos(tbl, '.') = 0 OR tbl LIKE '.%' OR tbl LIKE '%.' OR pg_catalog.strpos(tbl, '..') > 0 THEN
        RAISE EXCEPTION '%iceberg_table % is not namespace.name (like %)', what, pg_catalog.quote_literal(tbl), pg_catalog.quote_literal(requester || '.orders')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    ns := pg_catalog.regexp_replace(tbl, '\.[^.]*$', '');
    admin := parquet_export_role_is_admin(requester);
    IF ns <> requester AND NOT admin THEN
        RAISE EXCEPTION '%iceberg_table %: its namespace must be your role''s name, %, as in % (the sidecar commits with its own login; only members of the admin role commit to other namespaces)',
            what, pg_catalog.quote_literal(tbl), pg_catalog.quote_literal(requester::text), pg_catalog.quote_literal(requester || pg_catalog.substr(tbl, pg_catalog.length(ns) + 1))
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF cat IS NOT NULL AND cat <> 'postgres' THEN
        IF cat !~ '^(postgres|postgresql|rest\+http|rest\+https)://' THEN
            RAISE EXCEPTION '%iceberg_catalog % is not postgres (this database, the default), postgres://… or rest+http(s)://…', what, pg_catalog.quote_literal(cat)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF NOT admin THEN
            RAISE EXCEPTION '%iceberg_catalog: only members of the admin role name a catalog other than postgres (the sidecar connects to it with its own credentials); leave it out', what
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF cat ~ '^[a-z+]+://[^/@]*:[^/@]*@' THEN
            RAISE EXCEPTION '%iceberg_catalog holds a password: leave it out of the URL (the sidecar reads it from its .pgpass or PGPASSWORD)', what
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    IF keep_for IS NOT NULL THEN
        RAISE EXCEPTION '%keep_for: the files will be the Iceberg table %''s snapshot, which reads them until it is expired; leave keep_for out (and keep)', what, tbl
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- Requests: the Iceberg target is checked at INSERT (catalog default postgres); the results
-- start empty.
CREATE FUNCTION parquet_export_requests_check_iceberg() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF NEW.iceberg_table = '' THEN
        NEW.iceberg_table := NULL;
    END IF;
    IF NEW.iceberg_catalog = '' THEN
        NEW.iceberg_catalog := NULL;
    END IF;
    PERFORM parquet_export_check_iceberg('', NEW.requester, NEW.iceberg_table, NEW.iceberg_catalog, NEW.keep_for::text);
    IF NEW.iceberg_table IS NOT NULL THEN
        NEW.iceberg_catalog := coalesce(NEW.iceberg_catalog, 'postgres');
    END IF;
    NEW.iceberg_snapshot := NULL;
    NEW.iceberg_metadata := NULL;
    NEW.output_uri := NULL;
    RETURN NEW;
END
$$;
-- After parquet_export_requests_before_insert (triggers fire in name order), which sets the
-- requester.
CREATE TRIGGER parquet_export_requests_check_iceberg BEFORE INSERT ON parquet_export_requests
    FOR EACH ROW EXECUTE FUNCTION parquet_export_requests_check_iceberg();

-- Schedules: as a request of the schedule's owner; keep is refused with a table too.
CREATE FUNCTION parquet_export_schedules_check_iceberg() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    what text := pg_catalog.format('schedule %s: ', pg_catalog.quote_literal(NEW.name));
    o jsonb := NEW.options;
    k text;
BEGIN
    IF pg_catalog.jsonb_typeof(o) <> 'object' THEN
        RETURN NEW; -- refused with its reason by parquet_export_schedules_before_write
    END IF;
    FOREACH k IN ARRAY ARRAY['iceberg_table', 'iceberg_catalog'] LOOP
        IF o ? k AND pg_catalog.jsonb_typeof(o -> k) <> 'string' THEN
            RAISE EXCEPTION '% must be a string, not %', what || k, (o -> k)::text
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    PERFORM parquet_export_check_iceberg(what, NEW.owner, nullif(o ->> 'iceberg_table', ''), nullif(o ->> 'iceberg_catalog', ''), o ->> 'keep_for');
    IF nullif(o ->> 'iceberg_table', '') IS NOT NULL AND o ? 'keep' THEN
        RAISE EXCEPTION '%keep: the files of its runs will be the Iceberg table %''s snapshots, which read them until they are expired; leave keep out', what, o ->> 'iceberg_table'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN NEW;
END
$$;
-- After parquet_export_schedules_before_write, which sets the owner.
CREATE TRIGGER parquet_export_schedules_check_iceberg BEFORE INSERT OR UPDATE OF options, owner ON parquet_export_schedules
    FOR EACH ROW EXECUTE FUNCTION parquet_export_schedules_check_iceberg();

-- Deleting the files of an export that is a snapshot of an Iceberg table would break that
-- snapshot: refused, except for members of the admin role (who expired it first). The sidecar's
-- own expiry never asks for it (keep_for and keep are refused with a table).
CREATE FUNCTION parquet_export_delete_iceberg() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF OLD.delete_requested_at IS NULL AND NEW.delete_requested_at IS NOT NULL AND OLD.iceberg_snapshot IS NOT NULL
            AND NOT parquet_export_is_admin() THEN
        RAISE EXCEPTION 'request %: its files are the Iceberg table %''s snapshot %; expire the snapshot first, then an administrator may delete them', OLD.id, OLD.iceberg_table, OLD.iceberg_snapshot
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER parquet_export_delete_iceberg BEFORE UPDATE OF delete_requested_at ON parquet_export_requests
    FOR EACH ROW EXECUTE FUNCTION parquet_export_delete_iceberg();

-- As 0008's, with iceberg_table and iceberg_catalog among the options.
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
                'iceberg_table', 'iceberg_catalog');
        IF unknown IS NOT NULL THEN
            RAISE EXCEPTION 'schedule %: unknown option(s) %', quote_literal(NEW.name), array_to_string(unknown, ', ')
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'options are columns, compression, parallel, output_path, priority, max_attempts, keep, keep_for, as_text, numeric, timestamp, wide_numeric, compat, row_group_size, iceberg_table, iceberg_catalog';
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


-- As 0008's, with iceberg_table and iceberg_catalog among the options.
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
            'as_text', 'numeric', 'timestamp', 'wide_numeric', 'compat', 'row_group_size', 'iceberg_table', 'iceberg_catalog');
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'parquet_export: unknown option(s) %', array_to_string(unknown, ', ')
            USING HINT = 'options are columns, compression, parallel, output_path, priority, max_attempts, keep_for, as_text, numeric, timestamp, wide_numeric, compat, row_group_size, iceberg_table, iceberg_catalog';
    END IF;
    INSERT INTO parquet_export_requests
            (table_name, columns, compression, parallel, output_path, priority, max_attempts, keep_for, format,
             iceberg_table, iceberg_catalog)
        VALUES (tbl::text,
            (SELECT array_agg(c) FROM jsonb_array_elements_text(opts -> 'columns') c),
            opts ->> 'compression', (opts ->> 'parallel')::int, opts ->> 'output_path',
            coalesce((opts ->> 'priority')::int, 0), coalesce((opts ->> 'max_attempts')::int, 3),
            (opts ->> 'keep_for')::interval,
            parquet_export_format_of(opts), opts ->> 'iceberg_table', opts ->> 'iceberg_catalog')
        RETURNING id INTO new_id;
    RETURN new_id;
END
$$;


-- As 0008's, with the Iceberg table and snapshot and the output's URI at the end.
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
       r.deleted_at,
       r.iceberg_table,
       r.iceberg_snapshot,
       r.output_uri
FROM parquet_export_requests r;
