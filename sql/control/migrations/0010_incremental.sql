-- Incremental exports from SQL (package incremental; docs/incremental.md): a request or a
-- schedule with mode incremental is a run of a chain, kept in a directory of its own, whose
-- first run exports the table at a logical slot's snapshot and whose later runs write the
-- changes since. parquet_export_chains holds each chain: its slot (made and dropped only by
-- the sidecar's role), its state, and what the sidecar last did with it; the
-- parquet_export_chain_status view shows it with the WAL its slot retains. Run by sql.Migrate
-- with search_path set to the target schema.
--
-- Who may do what: a requester asks for runs of its own chains (the chain is found, or made,
-- by requester and directory when the request is written, by a SECURITY DEFINER trigger that
-- alone writes the chains table for it), may end them (parquet_export_chain_end), and sees
-- them; members of the admin role see and end all. Logical decoding reads the WAL as the
-- sidecar's role and bypasses row-level security, so a table is refused when row-level
-- security applies to the requester, and unless the requester may read every column.

ALTER TABLE parquet_export_requests
    ADD COLUMN mode text NOT NULL DEFAULT 'full' CONSTRAINT parquet_export_requests_mode_check CHECK (mode IN ('full', 'incremental')),
    ADD COLUMN max_retained_wal bigint CONSTRAINT parquet_export_requests_max_retained_wal_check CHECK (max_retained_wal > 0),
    ADD COLUMN chain_id bigint,
    ADD COLUMN chain_run integer,
    ADD COLUMN run_mode text,
    ADD COLUMN from_lsn pg_lsn;
GRANT INSERT (mode, max_retained_wal) ON parquet_export_requests TO PUBLIC;

CREATE TABLE parquet_export_chains (
    id                bigserial PRIMARY KEY,
    requester         name NOT NULL,
    relid             oid NOT NULL,
    table_name        text NOT NULL,
    output_dir        text NOT NULL,
    -- pgparquet_<database oid>_<id>: slots are the cluster's; the publication has the name too.
    slot              text NOT NULL UNIQUE,
    schedule_id       bigint,
    -- active: the next run streams from the slot; broken: the slot was dropped (reason says
    -- why) and the next run starts again from a snapshot; dropped: the chain was ended.
    state             text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'broken', 'dropped')),
    reason            text,
    broken_at         timestamptz,
    max_retained_wal  bigint CHECK (max_retained_wal > 0),
    drop_requested_at timestamptz,
    dropped_at        timestamptz,
    last_request_id   bigint,
    last_run          integer,
    last_run_mode     text,
    last_lsn          pg_lsn,
    last_run_at       timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (requester, output_dir)
);
CREATE INDEX ON parquet_export_requests (chain_id) WHERE chain_id IS NOT NULL;

ALTER TABLE parquet_export_chains ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_or_admin_select ON parquet_export_chains FOR SELECT
    USING (requester = current_user OR parquet_export_is_admin());
CREATE POLICY own_or_admin_end ON parquet_export_chains FOR UPDATE
    USING (requester = current_user OR parquet_export_is_admin());
GRANT SELECT, UPDATE (drop_requested_at) ON parquet_export_chains TO PUBLIC;

-- Anyone but the sidecar's role may only ask for a chain's end, never take it back.
CREATE FUNCTION parquet_export_chains_before_update() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    owner_role oid;
BEGIN
    SELECT relowner INTO owner_role FROM pg_catalog.pg_class WHERE oid = TG_RELID;
    IF NOT pg_catalog.pg_has_role(current_user, owner_role, 'MEMBER') THEN
        NEW.drop_requested_at := CASE WHEN NEW.drop_requested_at IS NULL THEN OLD.drop_requested_at
                                      ELSE coalesce(OLD.drop_requested_at, pg_catalog.now()) END;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER parquet_export_chains_before_update BEFORE UPDATE ON parquet_export_chains
    FOR EACH ROW EXECUTE FUNCTION parquet_export_chains_before_update();

-- parquet_export_dirs_overlap says whether directory a is b, inside it, or above it.
CREATE FUNCTION parquet_export_dirs_overlap(a text, b text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT (a COLLATE "C") = (b COLLATE "C")
        OR pg_catalog.left(a, pg_catalog.length(b) + 1) COLLATE "C" = (b || '/') COLLATE "C"
        OR pg_catalog.left(b, pg_catalog.length(a) + 1) COLLATE "C" = (a || '/') COLLATE "C"
$$;

-- As 0007's, and the runs of a chain share its directory: an incremental request does not own
-- its chain's directory against another run of it (parquet_export_chains does, against
-- everything else).
CREATE OR REPLACE FUNCTION parquet_export_dir_owner(requester name, dir text, id bigint) RETURNS bigint
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
    SELECT o.id FROM parquet_export_requests o
    WHERE o.requester = parquet_export_dir_owner.requester AND o.id <> parquet_export_dir_owner.id
      AND o.state IN ('queued', 'running', 'publishing', 'succeeded') AND o.deleted_at IS NULL AND o.output_dir IS NOT NULL
      AND NOT (o.mode = 'incremental' AND (o.output_dir COLLATE "C") = (dir COLLATE "C"))
      AND ((o.output_dir COLLATE "C") = ANY (
              SELECT pg_catalog.array_to_string(a[1:n], '/') COLLATE "C"
              FROM (SELECT pg_catalog.string_to_array(dir, '/') AS a) x,
                   pg_catalog.generate_series(1, pg_catalog.cardinality(x.a)) n)
           OR ((o.output_dir COLLATE "C") > (dir || '/') COLLATE "C" AND (o.output_dir COLLATE "C") < (dir || '0') COLLATE "C"))
    ORDER BY o.id LIMIT 1
$$;

-- parquet_export_size_option reads a size option (max_retained_wal): a positive number of
-- bytes, or a text pg_size_bytes reads ('10GB', '512 MB').
CREATE FUNCTION parquet_export_size_option(what text, v jsonb) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    n bigint;
BEGIN
    IF v IS NULL OR v = 'null' THEN
        RETURN NULL;
    END IF;
    BEGIN
        IF pg_catalog.jsonb_typeof(v) = 'number' THEN
            n := (v #>> '{}')::bigint;
        ELSE
            n := pg_catalog.pg_size_bytes(v #>> '{}');
        END IF;
    EXCEPTION WHEN OTHERS THEN
        n := NULL;
    END;
    IF n IS NULL OR n <= 0 THEN
        RAISE EXCEPTION '%: % is not a size: use bytes or a text like ''10GB'' or ''512 MB''', what, v::text
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN n;
END
$$;

-- parquet_export_check_incremental raises a one-line error (what names the request or
-- schedule) unless an incremental chain of table relid may run for requester: the server
-- decodes binary pgoutput (14 and later) at wal_level logical; a plain table (no partitions
-- or inheritance children) with a usable replica identity and no generated columns; no
-- row-level security that applies to requester, who may read every column; and none of the
-- options a chain cannot keep across runs (columns, type options, keep_for). (iceberg_table is
-- taken: the snapshot runs overwrite that table, the change runs append to <table>_changes.)
CREATE FUNCTION parquet_export_check_incremental(what text, requester name, relid oid, columns text[], format jsonb,
        iceberg_table text, keep_for text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path FROM CURRENT AS $$
DECLARE
    c record;
    r record;
    bad text[];
BEGIN
    IF pg_catalog.current_setting('server_version_num')::int < 140000 THEN
        RAISE EXCEPTION '%mode incremental needs PostgreSQL 14 or later (binary pgoutput); this server is %', what, pg_catalog.current_setting('server_version')
            USING ERRCODE = 'feature_not_supported';
    END IF;
    IF pg_catalog.current_setting('wal_level') <> 'logical' THEN
        RAISE EXCEPTION '%mode incremental needs wal_level = logical (this server has %): ask an administrator to set it and restart', what, pg_catalog.current_setting('wal_level')
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF columns IS NOT NULL THEN
        RAISE EXCEPTION '%columns: an incremental chain exports every column (change rows carry them all); leave columns out', what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT pg_catalog.array_agg(k ORDER BY k) INTO bad FROM pg_catalog.jsonb_object_keys(coalesce(format, '{}')) k WHERE k <> 'row_group_size';
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION '%: % cannot be used in mode incremental (every run of a chain maps columns to the same types); leave them out', what || pg_catalog.array_to_string(bad, ', '), CASE WHEN pg_catalog.cardinality(bad) = 1 THEN 'it' ELSE 'they' END
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF keep_for IS NOT NULL THEN
        RAISE EXCEPTION '%keep_for: the runs of a chain are kept while the chain lives (materialize reads them all); leave keep_for out', what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT cl.oid, pg_catalog.format('%I.%I', n.nspname, cl.relname) AS name, cl.relkind, cl.relreplident, cl.relhassubclass,
           cl.relrowsecurity, cl.relforcerowsecurity, cl.relowner,
           EXISTS (SELECT FROM pg_catalog.pg_index i WHERE i.indrelid = cl.oid AND i.indisprimary) AS has_pk,
           EXISTS (SELECT FROM pg_catalog.pg_index i WHERE i.indrelid = cl.oid AND i.indisreplident) AS has_ident,
           EXISTS (SELECT FROM pg_catalog.pg_attribute a WHERE a.attrelid = cl.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated <> '') AS generated
        INTO c FROM pg_catalog.pg_class cl JOIN pg_catalog.pg_namespace n ON n.oid = cl.relnamespace WHERE cl.oid = relid;
    SELECT ro.oid, ro.rolbypassrls INTO r FROM pg_catalog.pg_roles ro WHERE ro.rolname = requester;
    IF c.relkind = 'p' OR c.relhassubclass THEN
        RAISE EXCEPTION '%mode incremental: % is partitioned or has inheritance children, which incremental chains do not support yet', what, c.name
            USING ERRCODE = 'feature_not_supported';
    ELSIF c.relkind <> 'r' THEN
        RAISE EXCEPTION '%mode incremental: % is not a table (only tables are published)', what, c.name
            USING ERRCODE = 'wrong_object_type';
    ELSIF c.relreplident = 'n' OR (c.relreplident = 'd' AND NOT c.has_pk) OR (c.relreplident = 'i' AND NOT c.has_ident) THEN
        RAISE EXCEPTION '%mode incremental: % has no usable REPLICA IDENTITY: add a primary key, or set REPLICA IDENTITY USING INDEX (a unique index of NOT NULL columns) or FULL', what, c.name
            USING ERRCODE = 'object_not_in_prerequisite_state';
    ELSIF c.generated THEN
        RAISE EXCEPTION '%mode incremental: % has generated columns, which logical replication does not send', what, c.name
            USING ERRCODE = 'feature_not_supported';
    ELSIF c.relrowsecurity AND NOT r.rolbypassrls AND (c.relforcerowsecurity OR NOT pg_catalog.pg_has_role(r.oid, c.relowner, 'USAGE')) THEN
        RAISE EXCEPTION '%mode incremental: row-level security of % applies to role %, and logical decoding would bypass it; export it in mode full', what, c.name, requester
            USING ERRCODE = 'insufficient_privilege';
    ELSIF NOT pg_catalog.has_table_privilege(r.oid, c.oid, 'SELECT') AND EXISTS (SELECT FROM pg_catalog.pg_attribute a
            WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND NOT pg_catalog.has_column_privilege(r.oid, c.oid, a.attnum, 'SELECT')) THEN
        RAISE EXCEPTION '%mode incremental: role % may not read every column of % (change rows carry them all)', what, requester, c.name
            USING ERRCODE = 'insufficient_privilege';
    END IF;
END
$$;

-- Requests: a full request never writes into, or above, a chain's directory; an incremental
-- one is checked, gets its chain's directory (output_path, or <role>/<schema.table>/incremental,
-- -s<schedule id> for a schedule's runs) and is attached to the chain of that directory, which
-- is made on its first request. SECURITY DEFINER: it alone writes parquet_export_chains for
-- requesters; NEW.requester was set (unforgeably) by parquet_export_requests_before_insert.
CREATE FUNCTION parquet_export_requests_incremental() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    ch parquet_export_chains;
    other bigint;
    relname text;
BEGIN
    IF NEW.mode <> 'incremental' THEN
        IF NEW.max_retained_wal IS NOT NULL THEN
            RAISE EXCEPTION 'max_retained_wal is an option of mode incremental; leave it out'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT c.id INTO other FROM parquet_export_chains c
            WHERE c.requester = NEW.requester AND c.state <> 'dropped' AND parquet_export_dirs_overlap(c.output_dir, NEW.output_dir)
            LIMIT 1;
        IF other IS NOT NULL THEN
            RAISE EXCEPTION 'output_path %: your incremental chain % lives there, inside it or above it; choose another output_path', pg_catalog.quote_literal(coalesce(NEW.output_path, NEW.output_dir)), other
                USING ERRCODE = 'duplicate_object';
        END IF;
        NEW.chain_id := NULL;
        RETURN NEW;
    END IF;
    PERFORM parquet_export_check_incremental('', NEW.requester, NEW.relid, NEW.columns, NEW.format, NEW.iceberg_table, NEW.keep_for::text);
    SELECT pg_catalog.format('%I.%I', n.nspname, c.relname) INTO relname
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = NEW.relid;
    IF NEW.output_path IS NULL THEN
        NEW.output_dir := pg_catalog.regexp_replace(NEW.output_dir, '/[^/]*$', '')
            || CASE WHEN NEW.schedule_id IS NULL THEN '/incremental' ELSE '/incremental-s' || NEW.schedule_id END;
    END IF;
    other := parquet_export_dir_owner(NEW.requester, NEW.output_dir, NEW.id);
    IF other IS NOT NULL THEN
        RAISE EXCEPTION 'output_path %: your request % already owns that directory, one inside it or one above it', pg_catalog.quote_literal(coalesce(NEW.output_path, NEW.output_dir)), other
            USING ERRCODE = 'duplicate_object', HINT = 'choose another output_path';
    END IF;
    SELECT * INTO ch FROM parquet_export_chains c WHERE c.requester = NEW.requester AND c.output_dir = NEW.output_dir FOR UPDATE;
    IF NOT FOUND THEN
        SELECT c.id INTO other FROM parquet_export_chains c
            WHERE c.requester = NEW.requester AND c.state <> 'dropped' AND parquet_export_dirs_overlap(c.output_dir, NEW.output_dir)
            LIMIT 1;
        IF other IS NOT NULL THEN
            RAISE EXCEPTION 'output_path %: your incremental chain % lives inside it or above it; choose another output_path', pg_catalog.quote_literal(coalesce(NEW.output_path, NEW.output_dir)), other
                USING ERRCODE = 'duplicate_object';
        END IF;
        INSERT INTO parquet_export_chains (requester, relid, table_name, output_dir, slot, schedule_id, max_retained_wal)
            VALUES (NEW.requester, NEW.relid, relname, NEW.output_dir, 'pgparquet_new', NEW.schedule_id, NEW.max_retained_wal)
            RETURNING * INTO ch;
        UPDATE parquet_export_chains c
            SET slot = pg_catalog.format('pgparquet_%s_%s', (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()), c.id)
            WHERE c.id = ch.id;
    ELSE
        IF ch.relid <> NEW.relid THEN
            RAISE EXCEPTION 'output_path %: it holds the incremental chain % of table %, not of %; choose another output_path', pg_catalog.quote_literal(coalesce(NEW.output_path, NEW.output_dir)), ch.id, ch.table_name, relname
                USING ERRCODE = 'duplicate_object';
        END IF;
        IF ch.drop_requested_at IS NOT NULL AND ch.state <> 'dropped' THEN
            RAISE EXCEPTION 'incremental chain % is being ended (its slot is being dropped); ask again once parquet_export_chain_status shows it dropped', ch.id
                USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        UPDATE parquet_export_chains c SET max_retained_wal = NEW.max_retained_wal,
                schedule_id = coalesce(NEW.schedule_id, c.schedule_id)
            WHERE c.id = ch.id;
    END IF;
    NEW.chain_id := ch.id;
    RETURN NEW;
END
$$;
-- After parquet_export_requests_before_insert and the check triggers (triggers fire in name
-- order), which set the requester and the directory and normalise the options.
CREATE TRIGGER parquet_export_requests_incremental BEFORE INSERT ON parquet_export_requests
    FOR EACH ROW EXECUTE FUNCTION parquet_export_requests_incremental();

-- The runs of a chain are its files: deleting one would break every later run's meaning.
CREATE FUNCTION parquet_export_delete_incremental() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF OLD.delete_requested_at IS NULL AND NEW.delete_requested_at IS NOT NULL AND OLD.mode = 'incremental' THEN
        RAISE EXCEPTION 'request %: it is run % of incremental chain %, which reads every run; end the chain (parquet_export_chain_end) and remove its directory %', OLD.id, OLD.chain_run, OLD.chain_id, OLD.output_dir
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER parquet_export_delete_incremental BEFORE UPDATE OF delete_requested_at ON parquet_export_requests
    FOR EACH ROW EXECUTE FUNCTION parquet_export_delete_incremental();

-- Schedules: mode and max_retained_wal are options; an incremental schedule is checked as a
-- request of its owner would be, and its runs go to one fixed directory (no {slot}).
CREATE FUNCTION parquet_export_schedules_check_incremental() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    what text := pg_catalog.format('schedule %s: ', pg_catalog.quote_literal(NEW.name));
    o jsonb := NEW.options;
BEGIN
    IF pg_catalog.jsonb_typeof(o) <> 'object' THEN
        RETURN NEW; -- refused with its reason by parquet_export_schedules_before_write
    END IF;
    IF o ? 'mode' AND (pg_catalog.jsonb_typeof(o -> 'mode') <> 'string' OR o ->> 'mode' NOT IN ('full', 'incremental')) THEN
        RAISE EXCEPTION '%mode must be "full" or "incremental", not %', what, (o -> 'mode')::text
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(o ->> 'mode', 'full') <> 'incremental' THEN
        IF o ? 'max_retained_wal' THEN
            RAISE EXCEPTION '%max_retained_wal is an option of mode incremental; leave it out', what
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        RETURN NEW;
    END IF;
    PERFORM parquet_export_size_option(what || 'max_retained_wal', o -> 'max_retained_wal');
    IF pg_catalog.strpos(o ->> 'output_path', '{slot}') > 0 THEN
        RAISE EXCEPTION '%output_path: the runs of an incremental chain share one directory; leave {slot} out', what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF o ? 'keep' THEN
        RAISE EXCEPTION '%keep: the runs of a chain are kept while the chain lives (materialize reads them all); leave keep out', what
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM parquet_export_check_incremental(what, NEW.owner, NEW.table_name::regclass::oid,
        (SELECT pg_catalog.array_agg(c) FROM pg_catalog.jsonb_array_elements_text(o -> 'columns') c),
        parquet_export_format_of(o), nullif(o ->> 'iceberg_table', ''), o ->> 'keep_for');
    RETURN NEW;
END
$$;
-- After parquet_export_schedules_before_write, which sets the owner and checks the options'
-- names.
CREATE TRIGGER parquet_export_schedules_check_incremental BEFORE INSERT OR UPDATE OF options, owner, table_name ON parquet_export_schedules
    FOR EACH ROW EXECUTE FUNCTION parquet_export_schedules_check_incremental();

-- Deleting or disabling a schedule ends its chain: the sidecar drops the slot (which would
-- otherwise hold WAL back for nothing) and the publication; enabling it again starts the
-- chain again from a snapshot. SECURITY DEFINER: the schedule's owner may end its chains.
CREATE FUNCTION parquet_export_schedules_end_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
    IF TG_OP = 'DELETE' OR (OLD.enabled AND NOT NEW.enabled) THEN
        UPDATE parquet_export_chains SET drop_requested_at = pg_catalog.now()
            WHERE schedule_id = OLD.id AND state <> 'dropped' AND drop_requested_at IS NULL;
        PERFORM pg_catalog.pg_notify('parquet_export_requests', '');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER parquet_export_schedules_end_chain AFTER DELETE OR UPDATE OF enabled ON parquet_export_schedules
    FOR EACH ROW EXECUTE FUNCTION parquet_export_schedules_end_chain();

-- parquet_export_chain_end asks the sidecar to end chain id: drop its slot and publication
-- (its files stay). It returns 'ending', or 'ended' when it was already. Its owner or an
-- admin may; a chain with an enabled schedule is refused (the schedule would start it again).
CREATE FUNCTION parquet_export_chain_end(chain_id bigint) RETURNS text
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    ch parquet_export_chains;
BEGIN
    SELECT * INTO ch FROM parquet_export_chains c WHERE c.id = chain_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'incremental chain % does not exist, or is not yours', chain_id
            USING ERRCODE = 'no_data_found';
    END IF;
    IF ch.state = 'dropped' THEN
        RETURN 'ended';
    END IF;
    IF EXISTS (SELECT FROM parquet_export_schedules s WHERE s.id = ch.schedule_id AND s.enabled) THEN
        RAISE EXCEPTION 'incremental chain % belongs to an enabled schedule; disable or delete the schedule instead (that ends the chain)', chain_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE parquet_export_chains c SET drop_requested_at = pg_catalog.now() WHERE c.id = chain_id;
    PERFORM pg_catalog.pg_notify('parquet_export_requests', '');
    RETURN 'ending';
END
$$;

-- What the DBA watches: per chain, its slot, the WAL the slot holds back, how far the slot
-- and the chain are, and its next run.
CREATE VIEW parquet_export_chain_status WITH (security_invoker = true) AS
SELECT c.id AS chain,
       c.requester,
       c.table_name,
       c.output_dir,
       c.slot,
       CASE WHEN c.state <> 'dropped' AND c.drop_requested_at IS NOT NULL THEN 'ending' ELSE c.state END AS state,
       c.reason,
       c.broken_at,
       CASE WHEN s.restart_lsn IS NOT NULL AND NOT pg_catalog.pg_is_in_recovery()
           THEN pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.restart_lsn)::bigint END AS retained_wal_bytes,
       s.wal_status,
       s.active AS slot_active,
       s.confirmed_flush_lsn AS confirmed_lsn,
       c.last_lsn AS chain_lsn,
       c.last_run,
       c.last_run_mode,
       c.last_request_id,
       c.last_run_at,
       (SELECT sc.name FROM parquet_export_schedules sc WHERE sc.id = c.schedule_id) AS schedule,
       (SELECT sc.next_run_at FROM parquet_export_schedules sc WHERE sc.id = c.schedule_id AND sc.enabled) AS next_run_at,
       c.max_retained_wal,
       c.created_at,
       c.dropped_at
FROM parquet_export_chains c
LEFT JOIN pg_catalog.pg_replication_slots s ON s.slot_name = c.slot;
GRANT SELECT ON parquet_export_chain_status TO PUBLIC;

-- parquet_export and parquet_export_schedules_before_write take mode and max_retained_wal among
-- their options: definitions/ holds their current text (applied after this migration).
