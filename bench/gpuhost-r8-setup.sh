# Sourced by bench/gpuhost-r8d.sh, -r8e.sh and -r8f.sh on the GPU host, after K (the kit) and
# ROWS are set: stops a postmaster left from an earlier call, unpacks the kit's binaries (the
# names in BINARIES, default "pgparquet-c export.test") and nvCOMP, compiles the CUDA library
# once, starts PostgreSQL and fills lineorder with ROWS rows unless it has them. Sets nv, lib
# and dsn, and the PATH and PG* variables for psql.
pkill -x postgres; sleep 1
for f in ${BINARIES:-pgparquet-c export.test}; do xz -dkf "$K/$f.xz" && chmod +x "$K/$f"; done
mkdir -p "$K/nvcomp" && tar -xJf "$K/nvcomp.tar.xz" -C "$K/nvcomp"
nv=$(realpath "$K/nvcomp/lib64/libnvcomp.so.6")
[ -f "$K/libc.so" ] || nvcc -O3 -gencode arch=compute_90,code=sm_90 -shared -Xcompiler -fPIC -I "$K/nvcomp/include" \
  -o "$K/libc.so" device/cuda/pgcopy.cu device/cuda/nvcomp.cu device/cuda/encode.cu 2>&1 | grep -v Wno-deprecated | tail -30
lib=$(realpath "$K/libc.so")
export PATH=/opt/pgb/usr/lib/postgresql/15/bin:$PATH LD_LIBRARY_PATH=/opt/pgb/syslib PGHOST=/tmp/pgsock PGUSER=postgres PGDATABASE=postgres
bash "$K/start-pg.sh" "$K" || exit 1
[ "$(psql -Atc 'SELECT count(*) FROM lineorder' 2>/dev/null)" = "$ROWS" ] || ROWS=$ROWS bash "$K/make-lineorder.sh" lineorder || exit 1
dsn=postgres://postgres@127.0.0.1:5432/postgres
