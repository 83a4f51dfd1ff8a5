-- roles.sql for the compose demo (docker-entrypoint-initdb.d runs it once, as postgres, in
-- database app): the sidecar may serve requests of role postgres' non-superuser stand-in, app.
CREATE ROLE pgparquet LOGIN PASSWORD 'pgparquet';
GRANT CREATE ON SCHEMA public TO pgparquet;
CREATE ROLE pgparquet_admin NOLOGIN;
CREATE ROLE app LOGIN PASSWORD 'app';
GRANT app TO pgparquet;
GRANT pgparquet_admin TO app;
