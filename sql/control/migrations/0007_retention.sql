-- Retention and deletion: a request may say how long its files are kept (keep_for), a schedule
-- how many of its succeeded runs (keep) and for how long (keep_for); the sidecar removes the
-- files of exports past that, and of those their requester or an administrator deletes
-- (parquet_export_delete), and marks their rows. A request's row may be deleted once it has
-- no files left. Run by sql.Migrate with search_path set to the target schema.
--
-- A deletion is asked by setting delete_requested_at (by parquet_export_delete, or by the
-- sidecar when an export expires, with delete_reason saying why); the sidecar removes the
-- files (the manifest first, so a half-deleted export never looks complete) while it holds
-- the request's row lock, and sets deleted_at in the same transaction. Until deleted_at is
-- set the request keeps its directory; from then on the directory is free for another
-- request of the role.

ALTER TABLE parquet_export_requests
    ADD COLUMN keep_for interval,
    ADD COLUMN delete_requested_at timestamptz,
    ADD COLUMN delete_reason text,
    ADD COLUMN deleted_at timestamptz;
ALTER TABLE parquet_export_files ADD COLUMN deleted_at timestamptz;
CREATE INDEX parquet_export_requests_retained ON parquet_export_requests (schedule_id, schedule_slot)
    WHERE state = 'succeeded' AND delete_requested_at IS NULL;
CREATE INDEX parquet_export_requests_deleting ON parquet_export_requests (id)
    WHERE delete_requested_at IS NOT NULL AND deleted_at IS NULL;

GRANT INSERT (keep_for), UPDATE (delete_requested_at), DELETE ON parquet_export_requests TO PUBLIC;

-- parquet_export_check_keep_for raises a one-line error (what names the request or schedule)
-- unless keep_for is NULL or a positive interval.
CREATE FUNCTION parquet_export_check_keep_for(what text, keep_for interval) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF keep_for IS NOT NULL AND keep_for <= interval '0' THEN
        RAISE EXCEPTION '%keep_for % is out of range: give a positive interval, like ''7 days''', what, pg_catalog.quote_literal(keep_for::text)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;

-- Requests: keep_for is checked at INSERT; the retention columns start empty.
CREATE FUNCTION parquet_export_requests_check_retention() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    PERFORM parquet_export_check_keep_for('', NEW.keep_for);
    NEW.delete_requested_at := NULL;
    NEW.delete_reason := NULL;
    NEW.deleted_at := NULL;
    RETURN NEW;
END
$$;
CREATE TRIGGER parquet_export_requests_check_retention BEFORE INSERT ON parquet_export_requests
    FOR EACH ROW EXECUTE FUNCTION parquet_export_requests_check_retention();

-- Asking for a deletion: only a succeeded request has files to delete; the first ask is the
-- one kept (a second neither moves the time nor the reason, and none can be taken back). The
-- reason is who asked, unless the sidecar (the tables' owner) gives one (expiry).
CREATE FUNCTION parquet_export_delete_requested() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.delete_requested_at IS NOT DISTINCT FROM OLD.delete_requested_at THEN
        RETURN NEW;
    END IF;
    IF OLD.delete_requested_at IS NOT NULL THEN
        NEW.delete_requested_at := OLD.delete_requested_at;
        NEW.delete_reason := OLD.delete_reason;
        RETURN NEW;
    END IF;
    IF OLD.state <> 'succeeded' THEN
        RAISE EXCEPTION 'request %: only a succeeded request has files to delete; it is %', OLD.id, OLD.state
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF NEW.delete_reason IS NOT DISTINCT FROM OLD.delete_reason THEN
        NEW.delete_reason := 'deleted by ' OPERATOR(pg_catalog.||) current_user;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER parquet_export_delete_requested BEFORE UPDATE OF delete_requested_at ON parquet_export_requests
    FOR EACH ROW EXECUTE FUNCTION parquet_export_delete_requested();

-- A deletion wakes the sidecars: payload 'delete <id>'.
CREATE FUNCTION parquet_export_delete_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.delete_requested_at IS NULL AND NEW.delete_requested_at IS NOT NULL THEN
        PERFORM pg_catalog.pg_notify('pgparquet.' OPERATOR(pg_catalog.||) TG_TABLE_SCHEMA, 'delete ' OPERATOR(pg_catalog.||) NEW.id);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER parquet_export_delete_notify AFTER UPDATE OF delete_requested_at ON parquet_export_requests
    FOR EACH ROW EXECUTE FUNCTION parquet_export_delete_notify();

-- parquet_export_delete asks the sidecar to remove the files of request_id (the caller's, or
-- any for an administrator) and returns what becomes of them: 'deleting' (the sidecar removes
-- them within a poll interval; deleted_at says when it did), 'deleted' (already removed), or
-- 'no files' (a failed or cancelled request left none). A queued, running or publishing
-- request is refused: cancel it first.
CREATE FUNCTION parquet_export_delete(request_id bigint) RETURNS text
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    r parquet_export_requests;
BEGIN
    SELECT * INTO r FROM parquet_export_requests WHERE id = request_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'request %: no such request of yours', request_id
            USING ERRCODE = 'no_data_found',
                  HINT = 'parquet_export_status lists your requests (an administrator sees every role''s)';
    END IF;
    IF r.deleted_at IS NOT NULL THEN
        RETURN 'deleted';
    ELSIF r.delete_requested_at IS NOT NULL THEN
        RETURN 'deleting';
    ELSIF r.state IN ('failed', 'cancelled') THEN
        RETURN 'no files';
    ELSIF r.state <> 'succeeded' THEN
        RAISE EXCEPTION 'request %: it is %; cancel it first (SELECT parquet_export_cancel(%)), then delete it', request_id, r.state, request_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE parquet_export_requests SET delete_requested_at = pg_catalog.now() WHERE id = request_id;
    RETURN 'deleting';
END
$$;
GRANT EXECUTE ON FUNCTION parquet_export_delete(bigint) TO PUBLIC;

-- Deleting a request's row (its requester or an administrator, as row-level security says):
-- only once it has nothing on disk, so that no file is left without a row that names it: a
-- failed or cancelled request whose attempts the sidecar cleaned up, or a request whose files
-- were deleted. The row's files and attempts go with it.
CREATE POLICY own_or_admin_delete ON parquet_export_requests FOR DELETE
    USING (requester = current_user OR parquet_export_is_admin());

CREATE FUNCTION parquet_export_requests_before_delete() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF OLD.deleted_at IS NOT NULL THEN
        RETURN OLD;
    END IF;
    IF OLD.delete_requested_at IS NOT NULL THEN
        RAISE EXCEPTION 'request %: its files are being deleted; delete the row once deleted_at is set', OLD.id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF OLD.state = 'succeeded' THEN
        RAISE EXCEPTION 'request %: its files are still there; SELECT parquet_export_delete(%) removes them, then the row may be deleted', OLD.id, OLD.id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF OLD.state NOT IN ('failed', 'cancelled') THEN
        RAISE EXCEPTION 'request %: it is %; cancel it first (SELECT parquet_export_cancel(%)), then delete it', OLD.id, OLD.state, OLD.id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF EXISTS (SELECT FROM parquet_export_attempts a WHERE a.request_id = OLD.id AND a.cleaned_at IS NULL) THEN
        RAISE EXCEPTION 'request %: the sidecar has not yet removed what its last attempt left; try again in a few seconds', OLD.id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN OLD;
END
$$;
CREATE TRIGGER parquet_export_requests_before_delete BEFORE DELETE ON parquet_export_requests
    FOR EACH ROW EXECUTE FUNCTION parquet_export_requests_before_delete();

-- As 0003's, and a request whose files were deleted no longer owns its directory.
CREATE OR REPLACE FUNCTION parquet_export_dir_owner(requester name, dir text, id bigint) RETURNS bigint
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
    SELECT o.id FROM parquet_export_requests o
    WHERE o.requester = parquet_export_dir_owner.requester AND o.id <> parquet_export_dir_owner.id
      AND o.state IN ('queued', 'running', 'publishing', 'succeeded') AND o.deleted_at IS NULL AND o.output_dir IS NOT NULL
      AND ((o.output_dir COLLATE "C") = ANY (
              SELECT pg_catalog.array_to_string(a[1:n], '/') COLLATE "C"
              FROM (SELECT pg_catalog.string_to_array(dir, '/') AS a) x,
                   pg_catalog.generate_series(1, pg_catalog.cardinality(x.a)) n)
           OR ((o.output_dir COLLATE "C") > (dir || '/') COLLATE "C" AND (o.output_dir COLLATE "C") < (dir || '0') COLLATE "C"))
    ORDER BY o.id LIMIT 1
$$;

-- Schedules: keep (a whole number of runs, at least 1) and keep_for (an interval, positive)
-- are options like the others, checked when the options change.
CREATE FUNCTION parquet_export_schedules_check_retention() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    what text := pg_catalog.format('schedule %s: ', pg_catalog.quote_literal(NEW.name));
    o jsonb := NEW.options;
    keep_for interval;
BEGIN
    IF pg_catalog.jsonb_typeof(o) <> 'object' THEN
        RETURN NEW; -- refused with its reason by parquet_export_schedules_before_write
    END IF;
    IF o ? 'keep' THEN
        IF pg_catalog.jsonb_typeof(o -> 'keep') <> 'number' OR (o ->> 'keep')::numeric <> pg_catalog.trunc((o ->> 'keep')::numeric) THEN
            RAISE EXCEPTION '%keep must be a whole number of runs, not %', what, (o -> 'keep')::text
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF (o ->> 'keep')::numeric NOT BETWEEN 1 AND 1000000 THEN
            RAISE EXCEPTION '%keep % is out of range: give 1 or more (how many of the newest succeeded runs keep their files)', what, o ->> 'keep'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END IF;
    IF o ? 'keep_for' THEN
        IF pg_catalog.jsonb_typeof(o -> 'keep_for') <> 'string' THEN
            RAISE EXCEPTION '%keep_for must be an interval as a string, like "7 days", not %', what, (o -> 'keep_for')::text
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        BEGIN
            keep_for := (o ->> 'keep_for')::interval;
        EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
            RAISE EXCEPTION '%keep_for % is not an interval; give one like ''7 days''', what, pg_catalog.quote_literal(o ->> 'keep_for')
                USING ERRCODE = 'invalid_parameter_value';
        END;
        PERFORM parquet_export_check_keep_for(what, keep_for);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER parquet_export_schedules_check_retention BEFORE INSERT OR UPDATE OF options ON parquet_export_schedules
    FOR EACH ROW EXECUTE FUNCTION parquet_export_schedules_check_retention();

-- As 0002's, with keep and keep_for among the options.
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
            WHERE k NOT IN ('columns', 'compression', 'parallel', 'output_path', 'priority', 'max_attempts', 'keep', 'keep_for');
        IF unknown IS NOT NULL THEN
            RAISE EXCEPTION 'schedule %: unknown option(s) %', quote_literal(NEW.name), array_to_string(unknown, ', ')
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'options are columns, compression, parallel, output_path, priority, max_attempts, keep, keep_for';
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

-- As 0001's, with keep_for among the options (keep is a schedule's: one request has no
-- runs to count).
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
        WHERE k NOT IN ('columns', 'compression', 'parallel', 'output_path', 'priority', 'max_attempts', 'keep_for');
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'parquet_export: unknown option(s) %', array_to_string(unknown, ', ')
            USING HINT = 'options are columns, compression, parallel, output_path, priority, max_attempts, keep_for';
    END IF;
    INSERT INTO parquet_export_requests
            (table_name, columns, compression, parallel, output_path, priority, max_attempts, keep_for)
        VALUES (tbl::text,
            (SELECT array_agg(c) FROM jsonb_array_elements_text(opts -> 'columns') c),
            opts ->> 'compression', (opts ->> 'parallel')::int, opts ->> 'output_path',
            coalesce((opts ->> 'priority')::int, 0), coalesce((opts ->> 'max_attempts')::int, 3),
            (opts ->> 'keep_for')::interval)
        RETURNING id INTO new_id;
    RETURN new_id;
END
$$;

-- As 0005's, with the retention columns added at the end: keep_for, expires_at (when a
-- succeeded request with keep_for expires; a schedule's keep has no date), delete_requested_at,
-- delete_reason and deleted_at (its files are gone).
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
           'max_attempts', r.max_attempts)) AS options,
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
