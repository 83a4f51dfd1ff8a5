# Sourced by bench/gpuhost-s12b.sh, -s12c.sh and -s12d.sh on the GPU host, from the repository
# root, with K (the kit: export.test.xz, device.test.xz, nvcomp.tar.xz, pg15.tar.xz,
# start-pg.sh, make-lineorder.sh) and R (the run's folder) set: pipeline_configs runs the
# device's GPU tests matching $1 (with the VAR=value settings of $2), then lineorder 40M's
# pipeline alone (TestPipelineAlone, P=16, bench/gpuhost-r8.sh) in each setting of CONFIGS
# ("name VAR=value ..." per line), in two rounds, with traces of the first: R/device/tests.log,
# R/NAME-ROUND/. The first setting starts PostgreSQL and loads the table.
pipeline_configs() {
  local tests=$1 testenv=$2 reuse=0 round name envs
  mkdir -p "$R/device"
  pkill -x postgres; sleep 1 # a postmaster left from an earlier call holds the port
  xz -dkf "$K/device.test.xz" && chmod +x "$K/device.test"
  source bench/gpuhost-cuda-lib.sh
  cuda_lib || return 1
  (cd device && env $testenv PGPARQUET_CUDA_LIB=$lib PGPARQUET_NVCOMP_LIB=$nv PGPARQUET_REQUIRE_GPU=1 timeout 150 \
    ../$K/device.test -test.v -test.run "$tests" 2>&1 |
    grep -E '^(--- |PASS|FAIL|ok)|panic|_test.go|partition|error' | grep -v "x 1 runners" | tail -40) >> "$R/device/tests.log"
  cat "$R/device/tests.log"
  for round in 1 2; do
    while read -r name envs; do
      [ -n "$name" ] || continue
      env $envs KIT=$K OUT=$R/$name-$round REUSE=$reuse ROUNDS=0 MODES="" TABLES=lineorder PIPELINE=pages \
        TRACE=$([ $round = 1 ] && echo 1 || echo 0) bash bench/gpuhost-r8.sh > /dev/null 2>&1
      reuse=1
      echo "$name round $round: $(grep -h "pipeline alone" "$R/$name-$round/r8.log" | sed 's/.*pipeline alone: //')" \
        "$(grep -ho 'partition="[^"]*"' "$R/$name-$round/r8.log" | head -1)"
    done <<< "$CONFIGS"
  done
}
