-- What a DBA watches: the status view says how fresh a running request's heartbeat is, what
-- was asked (options), who cancelled it, which schedule queued it and how many tasks are done;
-- table_name is stored in one form (schema-qualified, quoted where needed) however the request
-- named the table; parquet_export_sidecars lists the sidecars, alive or not, and what each
-- runs. Run by sql.Migrate with search_path set to the target schema.

ALTER TABLE parquet_export_requests ADD COLUMN cancelled_by name;

-- As 0001's, and the role that asked is kept (an administrator's cancel is theirs).
CREATE OR REPLACE FUNCTION parquet_export_requests_before_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.cancel_requested_at IS NULL AND NEW.cancel_requested_at IS NOT NULL THEN
        IF OLD.state NOT IN ('queued', 'running') THEN
            NEW.cancel_requested_at := NULL;
        ELSE
            NEW.cancelled_by := current_user;
            IF OLD.state = 'queued' THEN
                NEW.state := 'cancelled';
                NEW.finished_at := now();
                NEW.note := 'cancelled by ' || current_user || ' while queued';
            END IF;
        END IF;
    END IF;
    IF NEW.retry_requested_at IS DISTINCT FROM OLD.retry_requested_at THEN
        NEW.cancelled_by := NULL;
    END IF;
    RETURN NEW;
END
$$;

-- As 0004's, and the table's name is stored schema-qualified.
CREATE OR REPLACE FUNCTION parquet_export_requests_check() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE pg_catalog.format('SELECT %I.parquet_export_check_options($1, $2, $3, $4, $5, $6)', TG_TABLE_SCHEMA)
        USING '', NEW.relid, NEW.columns, NEW.compression, NEW.parallel, NEW.max_attempts;
    SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) INTO NEW.table_name
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
        WHERE c.oid OPERATOR(pg_catalog.=) NEW.relid;
    RETURN NEW;
END
$$;
UPDATE parquet_export_requests r SET table_name = pg_catalog.format('%I.%I', n.nspname, c.relname)
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.oid = r.relid AND r.table_name IS DISTINCT FROM pg_catalog.format('%I.%I', n.nspname, c.relname);

-- Sidecars say who they are when they start and that they live at every poll; only the
-- sidecars' role writes here (it owns the table), everyone reads it.
CREATE TABLE parquet_export_sidecar_log (
    id          text PRIMARY KEY,
    role        name NOT NULL,
    superuser   boolean NOT NULL,
    version     text NOT NULL,
    gpu         text NOT NULL,
    host        text NOT NULL,
    pid         integer NOT NULL,
    started_at  timestamptz NOT NULL,
    seen_at     timestamptz NOT NULL,
    lease       interval NOT NULL,
    stopped_at  timestamptz
);
GRANT SELECT ON parquet_export_sidecar_log TO PUBLIC;

-- alive: stopped cleanly or not seen for a lease means not alive. running lists the requests
-- it runs that the reader may see.
CREATE VIEW parquet_export_sidecars WITH (security_invoker = true) AS
SELECT l.id AS sidecar,
       l.stopped_at IS NULL AND l.seen_at > now() - l.lease AS alive,
       l.started_at,
       l.seen_at AS last_seen,
       now() - l.seen_at AS last_seen_age,
       l.stopped_at,
       (SELECT pg_catalog.array_agg(r.id ORDER BY r.id) FROM parquet_export_requests r
            WHERE r.claimed_by = l.id AND r.state IN ('running', 'publishing')) AS running,
       l.version,
       l.gpu,
       l.role,
       l.superuser,
       l.host,
       l.pid
FROM parquet_export_sidecar_log l;
GRANT SELECT ON parquet_export_sidecars TO PUBLIC;

-- As 0003's, with columns added at the end.
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
       r.tasks
FROM parquet_export_requests r;
