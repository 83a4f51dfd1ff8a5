-- Least-privilege roles for the pgparquet sidecar. Run once per database as a superuser (or a
-- role with CREATEROLE that owns the database), e.g.
--   psql -v sidecar_password="'...'" -d mydb -f deploy/roles.sql
-- then start the sidecar as role pgparquet: its first start creates the control tables.

-- The sidecar's login: no superuser, no BYPASSRLS. It owns the control tables it creates, which
-- lets it see and update every request; data tables it reads only as a requester (SET ROLE).
CREATE ROLE pgparquet LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS
    PASSWORD :sidecar_password;
GRANT CONNECT ON DATABASE :"DBNAME" TO pgparquet;
-- The control tables go in public (PostgreSQL 15 no longer lets every role create there).
-- With --schema pgparquet instead: CREATE SCHEMA pgparquet AUTHORIZATION pgparquet;
GRANT CREATE ON SCHEMA public TO pgparquet;

-- DBAs who should see every request in parquet_export_status (and may cancel any).
CREATE ROLE pgparquet_admin NOLOGIN;
-- GRANT pgparquet_admin TO dba;

-- Each role whose requests the sidecar serves must be granted to the sidecar, so that it can
-- SET ROLE to it: exports then see exactly what that role may see (privileges, RLS). A role not
-- granted here gets a clear error in parquet_export_status instead of an export.
-- GRANT analyst TO pgparquet;
-- Never grant a superuser role to pgparquet: that would make the sidecar one.
