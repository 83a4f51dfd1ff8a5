# Sourced by the GPU-host scripts (bench/gpuhost-r8.sh, -s12a.sh, -pipeline-configs.sh):
# cuda_lib unpacks the kit's nvCOMP (K/nvcomp.tar.xz: include/ and lib64/libnvcomp.so.6 of the
# nvidia-libnvcomp-cu13 wheel) and, unless K/libc.so is there already, builds the CUDA library
# from device/cuda with nvcc (sm_90) into it; then sets nv and lib to nvCOMP's and the library's
# paths. K is the kit. Returns non-zero when the library is missing.
cuda_lib() {
  mkdir -p "$K/nvcomp" && tar -xJf "$K/nvcomp.tar.xz" -C "$K/nvcomp" || return 1
  nv=$(realpath "$K/nvcomp/lib64/libnvcomp.so.6")
  [ -f "$K/libc.so" ] || build_cuda_lib "$K/libc.so"
  [ -f "$K/libc.so" ] || return 1
  lib=$(realpath "$K/libc.so")
}

# build_cuda_lib OUT [NVCC_FLAGS...]: builds the CUDA library from device/cuda with nvcc (sm_90,
# nvCOMP's headers from the kit, unpacked by cuda_lib) into OUT, with the extra flags given.
build_cuda_lib() {
  local out=$1
  shift
  nvcc -O3 -gencode arch=compute_90,code=sm_90 -shared -Xcompiler -fPIC -I "$K/nvcomp/include" "$@" \
    -o "$out" device/cuda/pgcopy.cu device/cuda/nvcomp.cu device/cuda/encode.cu 2>&1 | grep -v Wno-deprecated | tail -30
}
