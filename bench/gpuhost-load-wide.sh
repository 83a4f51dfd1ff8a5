# Sourced by the GPU-host scripts (bench/gpuhost-r8.sh, -s11h.sh, -s11l.sh) once psql reaches
# the server: load_wide fills bench/load's wide table with WIDE_ROWS rows from the kit's
# wide.sql (go run ./bench/load --shape wide --print-sql) over 16 sessions, then freezes and
# analyzes it. K is the kit. Returns non-zero when a statement fails.
load_wide() {
  local t0=$SECONDS pids=() i lo hi
  psql -qc "$(sed -n 1p "$K/wide.sql")" || return 1
  for i in $(seq 0 15); do
    lo=$((i * WIDE_ROWS / 16 + 1)); hi=$(((i + 1) * WIDE_ROWS / 16))
    psql -qc "$(sed -n 2p "$K/wide.sql" | sed "s/LO::/$lo::/; s/HI)/$hi)/")" &
    pids+=($!)
  done
  wait "${pids[@]}" # not a bare wait: it would wait for the log's tee too
  psql -qc "VACUUM (FREEZE, ANALYZE) wide" || return 1
  echo "wide: $(psql -Atc "SELECT count(*), pg_size_pretty(pg_relation_size('wide')) FROM wide") in $((SECONDS - t0)) s"
}
