# Sourced by the GPU-host scripts (bench/gpuhost-r8.sh, -r9b.sh, -r9c.sh).
# source_limit TABLE P: the source limit, P psql COPYs of the exporter's ctid ranges in
# parallel (BINARY, over the Unix socket psql uses), bytes counted and dropped; prints
# "TABLE source limit, P=P: BYTES bytes in S s, GB/s".
source_limit() {
  local t=$1 p=$2 pages t0 t1 a b i
  local pids=()
  pages=$(psql -Atc "SELECT pg_relation_size('$t')/current_setting('block_size')::int")
  t0=$(date +%s.%N)
  for i in $(seq 0 $((p - 1))); do
    a=$((i * pages / p)); b=$(((i + 1) * pages / p)); [ "$i" -eq $((p - 1)) ] && b=$((pages + 1))
    psql -q -c "COPY (SELECT * FROM $t WHERE ctid >= '($a,0)'::tid AND ctid < '($b,0)'::tid) TO STDOUT (FORMAT binary)" | wc -c > "/dev/shm/sl-$i" &
    pids+=($!)
  done
  wait "${pids[@]}" # not a bare wait: it would wait for the log's tee too
  t1=$(date +%s.%N)
  cat /dev/shm/sl-* | awk -v a="$t0" -v b="$t1" -v p="$p" -v t="$t" '{s+=$1} END {printf "%s source limit, P=%d: %.0f bytes in %.2f s, %.3f GB/s\n", t, p, s, b-a, s/(b-a)/1e9}'
  rm -f /dev/shm/sl-*
}
