-- parquet_export_schedule keeps a schedule's time zone when a call that replaces the schedule
-- leaves the time zone out; a new schedule without one still runs in UTC. Run by sql.Migrate
-- with search_path set to the target schema.
DROP FUNCTION parquet_export_schedule(text, text, regclass, jsonb, text);
CREATE FUNCTION parquet_export_schedule(name text, cron text, tbl regclass, opts jsonb DEFAULT '{}',
    timezone text DEFAULT NULL)
RETURNS bigint LANGUAGE sql SET search_path FROM CURRENT AS $$
    INSERT INTO parquet_export_schedules AS s (name, cron, timezone, table_name, options)
    VALUES (parquet_export_schedule.name, parquet_export_schedule.cron, coalesce(parquet_export_schedule.timezone, 'UTC'),
            tbl::text, coalesce(opts, '{}'))
    ON CONFLICT ON CONSTRAINT parquet_export_schedules_owner_name_key DO UPDATE
        SET cron = EXCLUDED.cron, timezone = coalesce(parquet_export_schedule.timezone, s.timezone),
            table_name = EXCLUDED.table_name, options = EXCLUDED.options, enabled = true
    RETURNING s.id
$$;
