-- Trust: each attempt is fenced (a claim counter that never goes back) and publishes its files
-- only after the control tables say it may (state publishing); every request's directory lies
-- under its requester's own directory and no two live or retained requests of a role own the
-- same or nested directories; coordination the sidecars need (the claim, the scheduling lead)
-- uses rows only the sidecars' role can lock; per-role limits, retry backoff, and priority as
-- an administrator's option. Run by sql.Migrate with search_path set to the target schema.

ALTER TABLE parquet_export_requests
    ADD COLUMN fence bigint NOT NULL DEFAULT 0,
    ADD COLUMN published_fence bigint,
    ADD COLUMN run_after timestamptz;
ALTER TABLE parquet_export_requests DROP CONSTRAINT parquet_export_requests_state_check;
ALTER TABLE parquet_export_requests ADD CONSTRAINT parquet_export_requests_state_check
    CHECK (state IN ('queued', 'running', 'publishing', 'succeeded', 'failed', 'cancelled'));
CREATE INDEX parquet_export_requests_dirs ON parquet_export_requests (requester, (output_dir COLLATE "C"))
    WHERE output_dir IS NOT NULL;

-- One row per attempt: where it writes (its staging directory is
-- <output_dir>/.pgparquet-attempt-<fence>), how it ended, and whether what it left on disk was
-- cleaned up. The janitor removes the staging directories of attempts that can no longer
-- publish.
CREATE TABLE parquet_export_attempts (
    request_id  bigint NOT NULL REFERENCES parquet_export_requests (id) ON DELETE CASCADE,
    fence       bigint NOT NULL,
    attempt     integer NOT NULL,
    sidecar     text NOT NULL,
    output_dir  text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    outcome     text,
    error       text,
    cleaned_at  timestamptz,
    PRIMARY KEY (request_id, fence)
);
CREATE INDEX parquet_export_attempts_dirty ON parquet_export_attempts (request_id) WHERE cleaned_at IS NULL;
ALTER TABLE parquet_export_attempts ENABLE ROW LEVEL SECURITY;
CREATE POLICY visible_request ON parquet_export_attempts FOR SELECT
    USING (request_id IN (SELECT id FROM parquet_export_requests));
GRANT SELECT ON parquet_export_attempts TO PUBLIC;

-- Leases among sidecars: 'claim' serialises claims (so per-role limits and directory checks
-- hold across sidecars), 'scheduler' names the scheduling leader until expires_at. No grant:
-- only the owner (the sidecars' role) can read or lock these rows.
CREATE TABLE parquet_export_leases (
    name       text PRIMARY KEY,
    holder     text,
    expires_at timestamptz
);
INSERT INTO parquet_export_leases (name) VALUES ('claim'), ('scheduler');
REVOKE ALL ON parquet_export_leases FROM PUBLIC;

-- Per-role limits; the row '*' applies to every role without a row of its own. NULL: no
-- limit. Everyone may read them; members of the admin role change them.
CREATE TABLE parquet_export_limits (
    role             name PRIMARY KEY,
    max_queued       integer CHECK (max_queued >= 0),
    max_running      integer CHECK (max_running >= 1),
    max_output_bytes bigint CHECK (max_output_bytes >= 1)
);
INSERT INTO parquet_export_limits (role, max_queued, max_running, max_output_bytes) VALUES ('*', 100, 4, NULL);
ALTER TABLE parquet_export_limits ENABLE ROW LEVEL SECURITY;
CREATE POLICY everyone_reads ON parquet_export_limits FOR SELECT USING (true);
CREATE POLICY admin_writes ON parquet_export_limits FOR ALL
    USING (parquet_export_is_admin()) WITH CHECK (parquet_export_is_admin());
GRANT SELECT, INSERT, UPDATE, DELETE ON parquet_export_limits TO PUBLIC;

-- parquet_export_limit returns role's limits (its own row, else '*').
CREATE FUNCTION parquet_export_limit(r name, OUT max_queued integer, OUT max_running integer, OUT max_output_bytes bigint)
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
    SELECT l.max_queued, l.max_running, l.max_output_bytes FROM parquet_export_limits l
    WHERE l.role IN (r, '*') ORDER BY l.role = '*' LIMIT 1
$$;

-- parquet_export_role_dir is role r's directory under the output root: its name with every
-- character but ASCII letters, digits, '_' and '-' written as %XX (UTF-8 bytes), so that two
-- roles never share a directory and no role name can climb out of the root.
CREATE FUNCTION parquet_export_role_dir(r name) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT pg_catalog.string_agg(CASE WHEN ch ~ '^[A-Za-z0-9_-]$' THEN ch
            ELSE pg_catalog.upper(pg_catalog.regexp_replace(pg_catalog.encode(pg_catalog.convert_to(ch, 'UTF8'), 'hex'), '(..)', '%\1', 'g'))
        END, '' ORDER BY i)
    FROM pg_catalog.unnest(pg_catalog.string_to_array(r::pg_catalog.text, NULL)) WITH ORDINALITY AS t(ch, i)
$$;

-- parquet_export_clean_path checks an output_path against the confinement rules and returns it
-- cleaned (no empty or '.' components): relative, no '..', no component starting with '.', no
-- backslash or control character, components of at most 200 bytes, at most 32 deep.
CREATE FUNCTION parquet_export_clean_path(p text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
    parts text[] := '{}';
    part text;
    hint text := 'give a directory relative to the sidecar''s output root, like ''daily/orders'' (it lands under your role''s own directory)';
BEGIN
    IF p LIKE '/%' THEN
        RAISE EXCEPTION 'output_path %: absolute paths are refused', pg_catalog.quote_literal(p)
            USING ERRCODE = 'invalid_parameter_value', HINT = hint;
    END IF;
    IF pg_catalog.strpos(p, E'\\') > 0 THEN
        RAISE EXCEPTION 'output_path %: backslashes are refused; separate directories with /', pg_catalog.quote_literal(p)
            USING ERRCODE = 'invalid_parameter_value', HINT = hint;
    END IF;
    IF p ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'output_path %: control characters are refused', pg_catalog.quote_literal(p)
            USING ERRCODE = 'invalid_parameter_value', HINT = hint;
    END IF;
    FOREACH part IN ARRAY pg_catalog.string_to_array(p, '/') LOOP
        CONTINUE WHEN part = '' OR part = '.';
        IF part = '..' THEN
            RAISE EXCEPTION 'output_path %: ''..'' is refused', pg_catalog.quote_literal(p)
                USING ERRCODE = 'invalid_parameter_value', HINT = hint;
        END IF;
        IF pg_catalog.left(part, 1) = '.' THEN
            RAISE EXCEPTION 'output_path %: directory names may not start with a dot (%)', pg_catalog.quote_literal(p), pg_catalog.quote_literal(part)
                USING ERRCODE = 'invalid_parameter_value', HINT = hint;
        END IF;
        IF pg_catalog.octet_length(part) > 200 THEN
            RAISE EXCEPTION 'output_path %: a directory name is longer than 200 bytes', pg_catalog.quote_literal(pg_catalog.left(p, 60) || '...')
                USING ERRCODE = 'invalid_parameter_value', HINT = hint;
        END IF;
        parts := parts || part;
    END LOOP;
    IF pg_catalog.cardinality(parts) = 0 THEN
        RAISE EXCEPTION 'output_path %: names no directory', pg_catalog.quote_literal(p)
            USING ERRCODE = 'invalid_parameter_value', HINT = hint;
    END IF;
    IF pg_catalog.cardinality(parts) > 32 THEN
        RAISE EXCEPTION 'output_path %: more than 32 directories deep', pg_catalog.quote_literal(pg_catalog.left(p, 60) || '...')
            USING ERRCODE = 'invalid_parameter_value', HINT = hint;
    END IF;
    RETURN pg_catalog.array_to_string(parts, '/');
END
$$;

-- parquet_export_dir_owner returns the id of a live (queued, running, publishing) or retained
-- (succeeded) request of requester other than id whose directory is dir, inside dir or
-- above it; NULL when there is none.
CREATE FUNCTION parquet_export_dir_owner(requester name, dir text, id bigint) RETURNS bigint
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
    SELECT o.id FROM parquet_export_requests o
    WHERE o.requester = parquet_export_dir_owner.requester AND o.id <> parquet_export_dir_owner.id
      AND o.state IN ('queued', 'running', 'publishing', 'succeeded') AND o.output_dir IS NOT NULL
      AND ((o.output_dir COLLATE "C") = ANY (
              SELECT pg_catalog.array_to_string(a[1:n], '/') COLLATE "C"
              FROM (SELECT pg_catalog.string_to_array(dir, '/') AS a) x,
                   pg_catalog.generate_series(1, pg_catalog.cardinality(x.a)) n)
           OR ((o.output_dir COLLATE "C") > (dir || '/') COLLATE "C" AND (o.output_dir COLLATE "C") < (dir || '0') COLLATE "C"))
    ORDER BY o.id LIMIT 1
$$;

-- The requester is current_user, whatever the INSERT says: it cannot be forged. Only the
-- control tables' owner (the sidecar) may insert a request on a schedule's behalf, and then the
-- requester is the schedule's owner. The table name is resolved here, in the inserting
-- session's search_path, so an unknown or malformed name is refused at once; so are a bad
-- output path, one whose directory another live or retained request of the role owns, a
-- priority set by anyone but an administrator, and a request beyond the role's queue limit.
CREATE OR REPLACE FUNCTION parquet_export_requests_before_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    owner_role oid;
    by_owner boolean;
    lim record;
    queued bigint;
    rel text;
    role_dir text;
    other bigint;
BEGIN
    SELECT relowner INTO owner_role FROM pg_catalog.pg_class WHERE oid OPERATOR(pg_catalog.=) TG_RELID;
    by_owner := pg_catalog.pg_has_role(current_user, owner_role, 'MEMBER');
    IF NEW.schedule_id IS NOT NULL AND by_owner THEN
        EXECUTE pg_catalog.format('SELECT owner FROM %I.parquet_export_schedules WHERE id = $1', TG_TABLE_SCHEMA)
            INTO STRICT NEW.requester USING NEW.schedule_id;
    ELSE
        NEW.requester := current_user;
        NEW.schedule_id := NULL;
        NEW.schedule_slot := NULL;
    END IF;
    NEW.relid := NEW.table_name::pg_catalog.regclass::pg_catalog.oid;
    IF NEW.priority IS DISTINCT FROM 0 AND NOT by_owner THEN
        EXECUTE pg_catalog.format('SELECT %I.parquet_export_is_admin()', TG_TABLE_SCHEMA) INTO STRICT by_owner;
        IF NOT by_owner THEN
            RAISE EXCEPTION 'priority is an administrator''s option: leave it out (or 0)'
                USING ERRCODE = 'insufficient_privilege', HINT = 'members of the admin role may set a priority';
        END IF;
    END IF;
    IF NEW.priority NOT BETWEEN -1000 AND 1000 THEN
        RAISE EXCEPTION 'priority % is out of range: use -1000 to 1000', NEW.priority
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE pg_catalog.format('SELECT * FROM %I.parquet_export_limit($1)', TG_TABLE_SCHEMA) INTO lim USING NEW.requester;
    IF lim.max_queued IS NOT NULL THEN
        EXECUTE pg_catalog.format('SELECT count(*) FROM %I.parquet_export_requests WHERE requester = $1 AND state = ''queued''', TG_TABLE_SCHEMA)
            INTO queued USING NEW.requester;
        IF queued >= lim.max_queued THEN
            RAISE EXCEPTION 'role % already has % queued requests, its limit', NEW.requester, lim.max_queued
                USING ERRCODE = 'program_limit_exceeded',
                      HINT = 'wait for some to run, or ask an administrator to raise max_queued in parquet_export_limits';
        END IF;
    END IF;
    EXECUTE pg_catalog.format('SELECT %I.parquet_export_role_dir($1)', TG_TABLE_SCHEMA) INTO role_dir USING NEW.requester;
    IF NEW.output_path = '' THEN
        NEW.output_path := NULL;
    END IF;
    IF NEW.output_path IS NULL THEN
        SELECT n.nspname OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) c.relname INTO rel
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
            WHERE c.oid OPERATOR(pg_catalog.=) NEW.relid;
        rel := pg_catalog.regexp_replace(rel, '[^A-Za-z0-9._-]', '_', 'g');
        IF pg_catalog.left(rel, 1) = '.' THEN
            rel := '_' OPERATOR(pg_catalog.||) rel;
        END IF;
        NEW.output_dir := pg_catalog.format('%s/%s/%s', role_dir, rel, NEW.id);
    ELSE
        EXECUTE pg_catalog.format('SELECT %I.parquet_export_clean_path($1)', TG_TABLE_SCHEMA) INTO NEW.output_path USING NEW.output_path;
        NEW.output_dir := role_dir OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) NEW.output_path;
    END IF;
    EXECUTE pg_catalog.format('SELECT %I.parquet_export_dir_owner($1, $2, $3)', TG_TABLE_SCHEMA) INTO other
        USING NEW.requester, NEW.output_dir, NEW.id;
    IF other IS NOT NULL THEN
        RAISE EXCEPTION 'output_path %: your request % already owns that directory, one inside it or one above it', pg_catalog.quote_literal(coalesce(NEW.output_path, NEW.output_dir)), other
            USING ERRCODE = 'duplicate_object',
                  HINT = 'choose another output_path (a schedule''s may hold {slot}), or wait until that request has finished (failed and cancelled requests release their directory)';
    END IF;
    NEW.state := 'queued';
    NEW.attempt := 0;
    NEW.fence := 0;
    NEW.published_fence := NULL;
    NEW.run_after := NULL;
    NEW.claimed_by := NULL;
    NEW.heartbeat_at := NULL;
    NEW.cancel_requested_at := NULL;
    NEW.note := NULL;
    NEW.created_at := pg_catalog.now();
    NEW.started_at := NULL;
    NEW.finished_at := NULL;
    NEW.progress_rows := NULL;
    NEW.progress_copy_bytes := NULL;
    NEW.estimated_rows := NULL;
    NEW.tasks_done := NULL;
    NEW.tasks := NULL;
    NEW.progress_at := NULL;
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

-- A schedule's output_path is checked like a request's when written; it must hold {slot}, so
-- that each run gets a directory of its own (a run's directory stays its until deleted).
CREATE FUNCTION parquet_export_schedules_check_options() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    owner_role oid;
    is_admin boolean;
BEGIN
    IF NEW.options ? 'output_path' THEN
        IF pg_catalog.jsonb_typeof(NEW.options -> 'output_path') <> 'string'
            OR pg_catalog.strpos(NEW.options ->> 'output_path', '{slot}') = 0 THEN
            RAISE EXCEPTION 'schedule %: output_path must be a string holding {slot}, like ''nightly/{slot}'', so that each run gets a directory of its own', pg_catalog.quote_literal(NEW.name)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        EXECUTE pg_catalog.format('SELECT %I.parquet_export_clean_path($1)', TG_TABLE_SCHEMA)
            USING pg_catalog.replace(NEW.options ->> 'output_path', '{slot}', '20260101T000000Z');
    END IF;
    IF coalesce((NEW.options ->> 'priority')::pg_catalog.int4, 0) <> 0 THEN
        SELECT relowner INTO owner_role FROM pg_catalog.pg_class WHERE oid OPERATOR(pg_catalog.=) TG_RELID;
        EXECUTE pg_catalog.format('SELECT %I.parquet_export_is_admin()', TG_TABLE_SCHEMA) INTO STRICT is_admin;
        IF NOT (is_admin OR pg_catalog.pg_has_role(current_user, owner_role, 'MEMBER')) THEN
            RAISE EXCEPTION 'schedule %: priority is an administrator''s option: leave it out (or 0)', pg_catalog.quote_literal(NEW.name)
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER parquet_export_schedules_check_options BEFORE INSERT OR UPDATE OF options ON parquet_export_schedules
    FOR EACH ROW EXECUTE FUNCTION parquet_export_schedules_check_options();

-- The status view shows the state 'publishing' (files being moved into place) as it is.
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
       r.note
FROM parquet_export_requests r;

-- Schedule names are unique per owner: two roles may both call a schedule 'nightly', and a
-- clash never tells one role another's schedule names.
ALTER TABLE parquet_export_schedules DROP CONSTRAINT parquet_export_schedules_name_key;
ALTER TABLE parquet_export_schedules ADD CONSTRAINT parquet_export_schedules_owner_name_key UNIQUE (owner, name);

DROP FUNCTION parquet_export_schedule(text, text, regclass, jsonb, text);
CREATE FUNCTION parquet_export_schedule(name text, cron text, tbl regclass, opts jsonb DEFAULT '{}',
    timezone text DEFAULT 'UTC')
RETURNS bigint LANGUAGE sql SET search_path FROM CURRENT AS $$
    INSERT INTO parquet_export_schedules AS s (name, cron, timezone, table_name, options)
    VALUES (parquet_export_schedule.name, parquet_export_schedule.cron, parquet_export_schedule.timezone,
            tbl::text, coalesce(opts, '{}'))
    ON CONFLICT ON CONSTRAINT parquet_export_schedules_owner_name_key DO UPDATE
        SET cron = EXCLUDED.cron, timezone = EXCLUDED.timezone, table_name = EXCLUDED.table_name,
            options = EXCLUDED.options, enabled = true
    RETURNING s.id
$$;
