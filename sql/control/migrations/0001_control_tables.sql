-- Control tables of the SQL-driven sidecar. Run by sql.Migrate with search_path set to the
-- target schema, so every name below lands in (and functions resolve names in) that schema.
-- Runs on PostgreSQL 13 and later (Migrate emulates security_invoker views before 15).

-- Settings written by sql.Migrate on every run (admin_role); readable by everyone, written only
-- by the owner.
CREATE TABLE parquet_export_settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);

-- parquet_export_is_admin says whether current_user is a member of the configured admin role,
-- which sees (and may cancel) every request. A missing role makes nobody an admin.
CREATE FUNCTION parquet_export_is_admin() RETURNS boolean
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
    SELECT EXISTS (
        SELECT 1 FROM parquet_export_settings s
        JOIN pg_catalog.pg_roles r ON r.rolname = s.value
        WHERE s.key = 'admin_role' AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER'))
$$;

CREATE TABLE parquet_export_schedules (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    cron            text NOT NULL,
    timezone        text NOT NULL DEFAULT 'UTC',
    table_name      text NOT NULL,
    options         jsonb NOT NULL DEFAULT '{}',
    enabled         boolean NOT NULL DEFAULT true,
    owner           name NOT NULL,
    last_slot       timestamptz,
    last_request_id bigint,
    next_run_at     timestamptz,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE parquet_export_requests (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- What was asked.
    table_name          text NOT NULL,
    relid               oid NOT NULL,
    columns             text[],
    compression         text CHECK (compression IN ('zstd', 'snappy', 'gzip', 'brotli', 'lz4', 'none')),
    parallel            integer CHECK (parallel BETWEEN 1 AND 256),
    output_path         text,
    priority            integer NOT NULL DEFAULT 0,
    max_attempts        integer NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 100),
    requester           name NOT NULL,
    schedule_id         bigint REFERENCES parquet_export_schedules (id) ON DELETE SET NULL,
    schedule_slot       timestamptz,
    -- Where it stands.
    state               text NOT NULL DEFAULT 'queued'
                        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempt             integer NOT NULL DEFAULT 0,
    claimed_by          text,
    heartbeat_at        timestamptz,
    cancel_requested_at timestamptz,
    note                text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    -- Progress of the running attempt.
    progress_rows       bigint,
    progress_copy_bytes bigint,
    estimated_rows      bigint,
    tasks_done          integer,
    tasks               integer,
    progress_at         timestamptz,
    -- Results.
    output_dir          text,
    rows                bigint,
    copy_bytes          bigint,
    output_bytes        bigint,
    file_count          integer,
    seconds             double precision,
    snapshot            text,
    lsn                 pg_lsn,
    decoder             text,
    error               text,
    UNIQUE (schedule_id, schedule_slot)
);

CREATE INDEX parquet_export_requests_queue ON parquet_export_requests (priority DESC, id) WHERE state = 'queued';
CREATE INDEX parquet_export_requests_running ON parquet_export_requests (heartbeat_at) WHERE state = 'running';
CREATE INDEX parquet_export_requests_requester ON parquet_export_requests (requester, id);

CREATE TABLE parquet_export_files (
    request_id bigint NOT NULL REFERENCES parquet_export_requests (id) ON DELETE CASCADE,
    path       text NOT NULL,
    rows       bigint NOT NULL,
    bytes      bigint NOT NULL,
    sha256     text NOT NULL,
    PRIMARY KEY (request_id, path)
);

-- The requester is current_user, whatever the INSERT says: it cannot be forged. Only the
-- control tables' owner (the sidecar) may insert a request on a schedule's behalf, and then the
-- requester is the schedule's owner. The table name is resolved here, in the inserting
-- session's search_path, so an unknown or malformed name is refused at once. No SET
-- search_path: the name must resolve as the requester typed it; other tables are reached
-- through TG_TABLE_SCHEMA.
CREATE FUNCTION parquet_export_requests_before_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    owner_role oid;
BEGIN
    SELECT relowner INTO owner_role FROM pg_catalog.pg_class WHERE oid = TG_RELID;
    IF NEW.schedule_id IS NOT NULL AND pg_catalog.pg_has_role(current_user, owner_role, 'MEMBER') THEN
        EXECUTE format('SELECT owner FROM %I.parquet_export_schedules WHERE id = $1', TG_TABLE_SCHEMA)
            INTO STRICT NEW.requester USING NEW.schedule_id;
    ELSE
        NEW.requester := current_user;
        NEW.schedule_id := NULL;
        NEW.schedule_slot := NULL;
    END IF;
    NEW.relid := NEW.table_name::regclass::oid;
    NEW.state := 'queued';
    NEW.attempt := 0;
    NEW.claimed_by := NULL;
    NEW.heartbeat_at := NULL;
    NEW.cancel_requested_at := NULL;
    NEW.note := NULL;
    NEW.created_at := now();
    NEW.started_at := NULL;
    NEW.finished_at := NULL;
    NEW.progress_rows := NULL;
    NEW.progress_copy_bytes := NULL;
    NEW.estimated_rows := NULL;
    NEW.tasks_done := NULL;
    NEW.tasks := NULL;
    NEW.progress_at := NULL;
    NEW.output_dir := NULL;
    NEW.rows := NULL;
    NEW.copy_bytes := NULL;
    NEW.output_bytes := NULL;
    NEW.file_count := NULL;
    NEW.seconds := NULL;
    NEW.snapshot := NULL;
    NEW.lsn := NULL;
    NEW.decoder := NULL;
    NEW.error := NULL;
    RETURN NEW;
END
$$;

CREATE TRIGGER parquet_export_requests_before_insert BEFORE INSERT ON parquet_export_requests
    FOR EACH ROW EXECUTE FUNCTION parquet_export_requests_before_insert();

-- A cancellation of a queued request takes effect at once; a running one is stopped by its
-- sidecar, which the NOTIFY below wakes.
CREATE FUNCTION parquet_export_requests_before_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.cancel_requested_at IS NULL AND NEW.cancel_requested_at IS NOT NULL THEN
        IF OLD.state NOT IN ('queued', 'running') THEN
            NEW.cancel_requested_at := NULL;
        ELSIF OLD.state = 'queued' THEN
            NEW.state := 'cancelled';
            NEW.finished_at := now();
            NEW.note := 'cancelled by ' || current_user || ' while queued';
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER parquet_export_requests_before_update BEFORE UPDATE ON parquet_export_requests
    FOR EACH ROW EXECUTE FUNCTION parquet_export_requests_before_update();

-- Sidecars LISTEN on "pgparquet.<schema>": payload 'new <id>' or 'cancel <id>'.
CREATE FUNCTION parquet_export_requests_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM pg_catalog.pg_notify('pgparquet.' || TG_TABLE_SCHEMA, 'new ' || NEW.id);
    ELSIF OLD.cancel_requested_at IS NULL AND NEW.cancel_requested_at IS NOT NULL AND NEW.state = 'running' THEN
        PERFORM pg_catalog.pg_notify('pgparquet.' || TG_TABLE_SCHEMA, 'cancel ' || NEW.id);
    ELSIF OLD.state <> 'queued' AND NEW.state = 'queued' THEN
        PERFORM pg_catalog.pg_notify('pgparquet.' || TG_TABLE_SCHEMA, 'new ' || NEW.id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER parquet_export_requests_notify AFTER INSERT OR UPDATE ON parquet_export_requests
    FOR EACH ROW EXECUTE FUNCTION parquet_export_requests_notify();

-- Schedules belong to the role that created them (only the owner of the control tables may
-- reassign one); the time zone and table are checked here, the cron spec by the scheduling
-- sidecar (which records a bad one in error).
CREATE FUNCTION parquet_export_schedules_before_write() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    owner_role oid;
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.owner := current_user;
    ELSE
        SELECT relowner INTO owner_role FROM pg_catalog.pg_class WHERE oid = TG_RELID;
        IF NOT pg_catalog.pg_has_role(current_user, owner_role, 'MEMBER') THEN
            NEW.owner := OLD.owner;
        END IF;
    END IF;
    PERFORM now() AT TIME ZONE NEW.timezone;
    -- Stored schema-qualified: the sidecar that queues the exports has its own search_path.
    SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) INTO NEW.table_name
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = NEW.table_name::regclass;
    RETURN NEW;
END
$$;

CREATE TRIGGER parquet_export_schedules_before_write BEFORE INSERT OR UPDATE ON parquet_export_schedules
    FOR EACH ROW EXECUTE FUNCTION parquet_export_schedules_before_write();

CREATE FUNCTION parquet_export_schedules_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_catalog.pg_notify('pgparquet.' || TG_TABLE_SCHEMA, 'schedule');
    RETURN NULL;
END
$$;

CREATE TRIGGER parquet_export_schedules_notify AFTER INSERT OR DELETE OR UPDATE OF cron, timezone, enabled, table_name, options
    ON parquet_export_schedules FOR EACH STATEMENT EXECUTE FUNCTION parquet_export_schedules_notify();

-- parquet_export queues an export of tbl; opts may hold columns (array of names), compression,
-- parallel, output_path, priority, max_attempts. Returns the request id. It runs with the
-- control schema's search_path, where tbl::text names the same table the trigger resolves.
CREATE FUNCTION parquet_export(tbl regclass, opts jsonb DEFAULT '{}') RETURNS bigint
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
    SELECT array_agg(k ORDER BY k) INTO unknown FROM jsonb_object_keys(opts) k
        WHERE k NOT IN ('columns', 'compression', 'parallel', 'output_path', 'priority', 'max_attempts');
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'parquet_export: unknown option(s) %', array_to_string(unknown, ', ')
            USING HINT = 'options are columns, compression, parallel, output_path, priority, max_attempts';
    END IF;
    INSERT INTO parquet_export_requests
            (table_name, columns, compression, parallel, output_path, priority, max_attempts)
        VALUES (tbl::text,
            (SELECT array_agg(c) FROM jsonb_array_elements_text(opts -> 'columns') c),
            opts ->> 'compression', (opts ->> 'parallel')::int, opts ->> 'output_path',
            coalesce((opts ->> 'priority')::int, 0), coalesce((opts ->> 'max_attempts')::int, 3))
        RETURNING id INTO new_id;
    RETURN new_id;
END
$$;

-- parquet_export_cancel asks for request id to be cancelled: a queued one at once, a running one
-- by its sidecar within seconds. False when the request is not visible to the caller or is
-- already finished or being cancelled.
CREATE FUNCTION parquet_export_cancel(request_id bigint) RETURNS boolean
LANGUAGE sql SET search_path FROM CURRENT AS $$
    WITH c AS (
        UPDATE parquet_export_requests SET cancel_requested_at = now()
        WHERE id = request_id AND state IN ('queued', 'running') AND cancel_requested_at IS NULL
        RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM c)
$$;

-- parquet_export_schedule creates (or, for its owner, replaces) the schedule called name:
-- an export of tbl with opts at every time cron matches. Returns the schedule id.
CREATE FUNCTION parquet_export_schedule(name text, cron text, tbl regclass, opts jsonb DEFAULT '{}')
RETURNS bigint LANGUAGE sql SET search_path FROM CURRENT AS $$
    INSERT INTO parquet_export_schedules AS s (name, cron, table_name, options)
    VALUES (parquet_export_schedule.name, parquet_export_schedule.cron, tbl::text, coalesce(opts, '{}'))
    ON CONFLICT ON CONSTRAINT parquet_export_schedules_name_key DO UPDATE
        SET cron = EXCLUDED.cron, table_name = EXCLUDED.table_name, options = EXCLUDED.options, enabled = true
    RETURNING s.id
$$;

-- The status of every request the caller may see, for DBAs and `pgparquet status`.
CREATE VIEW parquet_export_status WITH (security_invoker = true) AS
SELECT r.id,
       r.table_name,
       r.requester,
       r.state,
       CASE
           WHEN r.state = 'succeeded' THEN 100.0
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
       r.note
FROM parquet_export_requests r;

-- Row-level security: a role sees (and may cancel) its own requests and schedules; members of
-- the admin role see all. The owner (the sidecar's role) is not subject to these policies.
ALTER TABLE parquet_export_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE parquet_export_files ENABLE ROW LEVEL SECURITY;
ALTER TABLE parquet_export_schedules ENABLE ROW LEVEL SECURITY;

CREATE POLICY own_or_admin_select ON parquet_export_requests FOR SELECT
    USING (requester = current_user OR parquet_export_is_admin());
CREATE POLICY own_insert ON parquet_export_requests FOR INSERT
    WITH CHECK (requester = current_user);
CREATE POLICY own_or_admin_cancel ON parquet_export_requests FOR UPDATE
    USING (requester = current_user OR parquet_export_is_admin());

CREATE POLICY visible_request ON parquet_export_files FOR SELECT
    USING (request_id IN (SELECT id FROM parquet_export_requests));

CREATE POLICY own_or_admin_select ON parquet_export_schedules FOR SELECT
    USING (owner = current_user OR parquet_export_is_admin());
CREATE POLICY own_insert ON parquet_export_schedules FOR INSERT
    WITH CHECK (owner = current_user);
CREATE POLICY own_update ON parquet_export_schedules FOR UPDATE
    USING (owner = current_user) WITH CHECK (owner = current_user);
CREATE POLICY own_delete ON parquet_export_schedules FOR DELETE
    USING (owner = current_user);

-- What every role may do; the policies above narrow it to its own rows. Column lists keep
-- state, requester and results out of reach: only the sidecar writes them.
GRANT SELECT ON parquet_export_settings, parquet_export_files, parquet_export_status TO PUBLIC;
GRANT SELECT, INSERT (table_name, columns, compression, parallel, output_path, priority, max_attempts),
    UPDATE (cancel_requested_at) ON parquet_export_requests TO PUBLIC;
GRANT SELECT, DELETE, INSERT (name, cron, timezone, table_name, options, enabled),
    UPDATE (cron, timezone, table_name, options, enabled) ON parquet_export_schedules TO PUBLIC;
