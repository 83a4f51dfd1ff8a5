# Sourced by GPU-host scripts (session 22 on): exports through the sidecar, installed as
# docs/sidecar.md says (deploy/roles.sql's pgparquet role serving analyst, who asks), with $lib
# and $nv (bench/gpuhost-cuda-lib.sh), PostgreSQL's PG* variables and $O set.
#   sidecar_start BIN TABLE...  installs the roles, grants analyst SELECT on each TABLE, starts
#     BIN's sidecar (output root /dev/shm/sc, P=16 per request, log $O/sidecar.log; pid SC)
#     and sends one small warm-up request (the CUDA context and the library's first use);
#   sidecar_request TABLE LABEL  one request by analyst; waits for its end and prints its wall
#     time from the server's own timestamps: created_at (the INSERT) to finished_at (published)
#     and to started_at (claimed); the export's own seconds; the sidecar's CPU-s over it
#     (/proc/SC/stat); Parquet bytes and decoder;
#   sidecar_stop  prints the sidecar's peak RSS (VmHWM) and stops it (SIGTERM).
sidecar_start() {
  local bin=$1 i
  shift
  psql -q -v ON_ERROR_STOP=1 -v sidecar_password="'bench'" -f deploy/roles.sql > /dev/null || return 1
  psql -qc "CREATE TABLE IF NOT EXISTS sidecar_warm AS SELECT * FROM $1 LIMIT 200000" -c "CREATE ROLE analyst LOGIN" \
    -c "GRANT SELECT ON sidecar_warm$(printf ', %s' "$@") TO analyst" -c "SELECT pgparquet_auth.serve_role('analyst')" > /dev/null || return 1
  rm -rf /dev/shm/sc && mkdir -p /dev/shm/sc
  env PGPARQUET_CUDA_LIB="$lib" PGPARQUET_NVCOMP_LIB="$nv" "$bin" sidecar --dsn "postgres://pgparquet:bench@127.0.0.1:5432/postgres" \
    --output-root /dev/shm/sc --parallel 16 --listen "" --output-reserve 0 2> "$O/sidecar.log" &
  SC=$!
  for i in $(seq 1 100); do psql -Atc "SELECT 1 FROM parquet_export_requests LIMIT 0" > /dev/null 2>&1 && break; sleep 0.1; done
  sidecar_request sidecar_warm "warm-up request"
}
sidecar_request() {
  local t=$1 l=$2 id st c0 c1 i
  c0=$(awk '{print $14 + $15}' "/proc/$SC/stat")
  id=$(psql -U analyst -Atc "INSERT INTO parquet_export_requests (table_name, parallel) VALUES ('$t', 16) RETURNING id" | head -1)
  for i in $(seq 1 3000); do
    st=$(psql -Atc "SELECT state FROM parquet_export_requests WHERE id = $id")
    case $st in succeeded|failed|cancelled) break ;; esac
    sleep 0.1
  done
  c1=$(awk '{print $14 + $15}' "/proc/$SC/stat")
  psql -AtF ' ' -c "SELECT state, round(extract(epoch FROM finished_at - created_at)::numeric, 3),
      round(extract(epoch FROM started_at - created_at)::numeric, 3), round(seconds::numeric, 3), copy_bytes,
      round((copy_bytes / extract(epoch FROM finished_at - created_at) / 1e9)::numeric, 3), output_bytes, decoder, coalesce(error, '')
      FROM parquet_export_requests WHERE id = $id" |
    awk -v l="$l" -v c="$(( c1 - c0 ))" -v hz="$(getconf CLK_TCK)" '{printf "%s: %s, %s s created-finished (%s GB/s), created-started %s s, export seconds %s, %.1f CPU-s (%.2f/GB), parquet %.3f GB, decoder %s %s\n", l, $1, $2, $6, $3, $4, c/hz, c/hz/($5/1e9), $7/1e9, $8, $9}'
  rm -rf /dev/shm/sc/analyst
}
sidecar_stop() {
  grep -E "VmHWM|VmRSS" "/proc/$SC/status" | tr -s ' ' | sed 's/^/sidecar /'
  kill -TERM "$SC"; wait "$SC"
  grep -c '"level":"ERROR"' "$O/sidecar.log" | sed 's/^/sidecar log ERROR lines: /'
}
