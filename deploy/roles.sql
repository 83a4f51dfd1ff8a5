-- Least-privilege roles for the pgparquet sidecar. Run with psql as a superuser in every
-- database the sidecar serves (it is safe to run again, e.g. after an upgrade):
--   psql -v ON_ERROR_STOP=1 -v sidecar_password="'...'" -d mydb -f deploy/roles.sql
-- then start the sidecar as role pgparquet (its first start creates the control tables), and
-- let it serve a role with:
--   SELECT pgparquet_auth.serve_role('analyst');
-- docs/security.md explains the design.

-- The sidecar's login: no superuser, no BYPASSRLS, and a member of no role it serves. It owns
-- the control tables it creates, which lets it see and update every request.
SELECT pg_catalog.format('CREATE ROLE pgparquet LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD %L', :sidecar_password)
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'pgparquet') \gexec
GRANT CONNECT ON DATABASE :"DBNAME" TO pgparquet;
-- The control tables go in public (PostgreSQL 15 no longer lets every role create there).
-- With --schema pgparquet instead: CREATE SCHEMA pgparquet AUTHORIZATION pgparquet;
GRANT CREATE ON SCHEMA public TO pgparquet;
-- The Iceberg SQL catalog of requests that name an Iceberg table (docs/iceberg.md): its
-- tables, which the sidecar creates and writes as pgparquet, go in this schema.
CREATE SCHEMA IF NOT EXISTS pgparquet_iceberg AUTHORIZATION pgparquet;
GRANT USAGE, CREATE ON SCHEMA pgparquet_iceberg TO pgparquet;

-- DBAs who should see every request in parquet_export_status (and may cancel any).
SELECT 'CREATE ROLE pgparquet_admin NOLOGIN'
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'pgparquet_admin') \gexec
-- GRANT pgparquet_admin TO dba;

-- Served roles. An export runs code its requester may have written (views, row-level security
-- policies, functions), and PostgreSQL lets that code SET ROLE to any role the session's login
-- is a member of. So an export never runs in a session of pgparquet: each served role gets a
-- login of its own, 'pgparquet/<database>/<role>', a member of that role only, whose password
-- only the sidecar may read. A role is served once an administrator runs
--   SELECT pgparquet_auth.serve_role('analyst');   -- and stops with unserve_role
-- Superusers, BYPASSRLS roles and roles that can become one are refused. The logins
-- authenticate with their passwords (pg_hba.conf: scram-sha-256 or md5 for them, from where the
-- sidecar runs, e.g. `host all /^pgparquet/ 10.0.0.5/32 scram-sha-256`).
CREATE SCHEMA IF NOT EXISTS pgparquet_auth;
REVOKE ALL ON SCHEMA pgparquet_auth FROM PUBLIC;
GRANT USAGE ON SCHEMA pgparquet_auth TO pgparquet;

CREATE TABLE IF NOT EXISTS pgparquet_auth.logins (
    role_oid  oid PRIMARY KEY,          -- the served role
    login     name NOT NULL UNIQUE,     -- its login, a member of it alone
    password  text NOT NULL,
    served_by name NOT NULL,
    served_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON pgparquet_auth.logins FROM PUBLIC;
GRANT SELECT ON pgparquet_auth.logins TO pgparquet;

-- serve_role makes the sidecar serve role r: it creates (or re-credentials) r's login and
-- returns the login's name. Calling it again rotates the password.
CREATE OR REPLACE FUNCTION pgparquet_auth.serve_role(r regrole) RETURNS name
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    target record;
    power  text;
    login_name text; -- text, not name: name would cut it to 63 bytes before the length check
    pw     text;
BEGIN
    SELECT oid, rolname, rolsuper, rolbypassrls INTO STRICT target FROM pg_roles WHERE oid = r;
    IF target.rolsuper OR target.rolbypassrls THEN
        RAISE EXCEPTION 'role % is a superuser or bypasses row-level security: pgparquet never exports on its behalf', target.rolname
            USING ERRCODE = 'insufficient_privilege', HINT = 'serve an ordinary role that holds only the privileges its exports need';
    END IF;
    SELECT s.rolname INTO power FROM pg_roles s
        WHERE (s.rolsuper OR s.rolbypassrls) AND s.oid <> target.oid AND pg_has_role(target.oid, s.oid, 'MEMBER')
        ORDER BY s.rolname LIMIT 1;
    IF power IS NOT NULL THEN
        RAISE EXCEPTION 'role % can become role %, a superuser or BYPASSRLS role: pgparquet never exports on its behalf', target.rolname, power
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF target.rolname IN ('pgparquet', 'pgparquet_admin') OR target.rolname LIKE 'pgparquet/%'
        OR EXISTS (SELECT FROM pgparquet_auth.logins l WHERE l.login = target.rolname) THEN
        RAISE EXCEPTION 'role % belongs to pgparquet itself and is not served', target.rolname
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    login_name := format('pgparquet/%s/%s', current_database(), target.rolname);
    IF octet_length(login_name) > 63 THEN
        login_name := format('pgparquet/%s/%s', (SELECT oid FROM pg_database WHERE datname = current_database()), target.oid);
    END IF;
    pw := replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = login_name) THEN
        IF NOT EXISTS (SELECT FROM pgparquet_auth.logins l WHERE l.login = login_name) THEN
            RAISE EXCEPTION 'role % exists and was not created by pgparquet_auth.serve_role', login_name
                USING ERRCODE = 'duplicate_object', HINT = 'rename or drop that role, then serve again';
        END IF;
        EXECUTE format('ALTER ROLE %I LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L', login_name, pw);
    ELSE
        EXECUTE format('CREATE ROLE %I LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD %L', login_name, pw);
    END IF;
    EXECUTE format('GRANT %I TO %I', target.rolname, login_name);
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), login_name);
    INSERT INTO pgparquet_auth.logins AS l (role_oid, login, password, served_by)
        VALUES (target.oid, login_name, pw, session_user)
        ON CONFLICT (role_oid) DO UPDATE SET login = EXCLUDED.login, password = EXCLUDED.password,
            served_by = EXCLUDED.served_by, served_at = now();
    RETURN login_name;
END
$$;

-- unserve_role stops serving role r: its login is dropped (sessions already open finish).
CREATE OR REPLACE FUNCTION pgparquet_auth.unserve_role(r regrole) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    login_name name;
BEGIN
    DELETE FROM pgparquet_auth.logins WHERE role_oid = r RETURNING logins.login INTO login_name;
    IF login_name IS NULL THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = login_name) THEN
        EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM %I', current_database(), login_name);
        EXECUTE format('DROP ROLE %I', login_name);
    END IF;
    RETURN true;
END
$$;

REVOKE ALL ON FUNCTION pgparquet_auth.serve_role(regrole), pgparquet_auth.unserve_role(regrole) FROM PUBLIC;
-- To let a DBA serve roles without being a superuser:
-- GRANT USAGE ON SCHEMA pgparquet_auth TO dba;
-- GRANT EXECUTE ON FUNCTION pgparquet_auth.serve_role(regrole), pgparquet_auth.unserve_role(regrole) TO dba;
-- Incremental exports (docs/incremental.md): the sidecar makes, reads and drops the logical
-- replication slots of incremental chains, which takes the REPLICATION attribute (pg_hba.conf:
-- a logical replication connection matches the database's name, like any other connection).
ALTER ROLE pgparquet REPLICATION;

-- A chain's publication names its table, and adding a table to a publication takes owning the
-- table. publish_table does it for the sidecar alone, for a table a served role may read in
-- full and whose row-level security does not apply to it (logical decoding bypasses it), in a
-- publication named pgparquet_...; unpublish drops such a publication when the chain ends.
CREATE OR REPLACE FUNCTION pgparquet_auth.publish_table(pub name, tbl regclass, requester name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    r record;
    c record;
BEGIN
    IF pub !~ '^pgparquet_[a-z0-9_]+$' THEN
        RAISE EXCEPTION 'publication % is not one pgparquet makes (pgparquet_...)', pub USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT ro.oid, ro.rolname INTO r FROM pg_roles ro
        WHERE ro.rolname = requester AND EXISTS (SELECT FROM pgparquet_auth.logins l WHERE l.role_oid = ro.oid);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role % is not served by pgparquet', requester USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT cl.relkind, cl.relrowsecurity, cl.relforcerowsecurity, cl.relowner INTO STRICT c FROM pg_class cl WHERE cl.oid = tbl;
    IF c.relkind <> 'r' THEN
        RAISE EXCEPTION '% is not a table', tbl USING ERRCODE = 'wrong_object_type';
    END IF;
    IF NOT has_table_privilege(r.oid, tbl, 'SELECT') AND EXISTS (SELECT FROM pg_attribute a
            WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped AND NOT has_column_privilege(r.oid, tbl, a.attnum, 'SELECT')) THEN
        RAISE EXCEPTION 'role % may not read every column of %', requester, tbl USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF c.relrowsecurity AND (c.relforcerowsecurity OR NOT pg_has_role(r.oid, c.relowner, 'USAGE')) THEN
        RAISE EXCEPTION 'row-level security of % applies to role %, and logical decoding would bypass it', tbl, requester
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_publication p WHERE p.pubname = pub) THEN
        EXECUTE format('CREATE PUBLICATION %I FOR TABLE %s WITH (publish_via_partition_root = true)', pub, tbl);
    ELSIF NOT EXISTS (SELECT FROM pg_publication_rel pr JOIN pg_publication p ON p.oid = pr.prpubid
            WHERE p.pubname = pub AND pr.prrelid = tbl) THEN
        EXECUTE format('ALTER PUBLICATION %I ADD TABLE %s', pub, tbl);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION pgparquet_auth.unpublish(pub name) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF pub !~ '^pgparquet_[a-z0-9_]+$' THEN
        RAISE EXCEPTION 'publication % is not one pgparquet makes (pgparquet_...)', pub USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_publication p WHERE p.pubname = pub) THEN
        RETURN false;
    END IF;
    EXECUTE format('DROP PUBLICATION %I', pub);
    RETURN true;
END
$$;

REVOKE ALL ON FUNCTION pgparquet_auth.publish_table(name, regclass, name), pgparquet_auth.unpublish(name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgparquet_auth.publish_table(name, regclass, name), pgparquet_auth.unpublish(name) TO pgparquet;

-- Never grant a superuser role to pgparquet, nor any served role: that would let an export's
-- code become it.
