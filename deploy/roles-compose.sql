-- Roles for the compose demo (docker-entrypoint-initdb.d runs it once, as postgres, in
-- database app): deploy/roles.sql with the sidecar's password, then app, a non-superuser
-- stand-in for an application role, which the sidecar serves and which sees every request.
\set sidecar_password '''pgparquet'''
\i /pgparquet/roles.sql
CREATE ROLE app LOGIN PASSWORD 'app';
SELECT pgparquet_auth.serve_role('app');
GRANT pgparquet_admin TO app;
