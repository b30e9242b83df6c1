# Sourced by the bench scripts: `--isa avx2` as the first argument caps both sides of a pair to AVX2
# on an AVX-512 machine, the path most users' machines take (Intel clients since Alder Lake, AMD Zen 1-3):
#   Lamina (the JIT)  -XX:UseAVX=2: AVX2 instructions and 16 vector registers, 8-lane vectors
#   PyTorch           ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2
#   OpenBLAS          OPENBLAS_CORETYPE=Haswell
#   llama.cpp         a second build with GGML_NATIVE=OFF, GGML_AVX2=ON and no AVX-512 (infer.sh)
# Sets ISA (native|avx2) and exports what the peers read; shifts the flag off "$@".
ISA=native
if [ "${1:-}" = "--isa" ]; then
  case "${2:-}" in
    avx2) ISA=avx2 ;;
    native) ISA=native ;;
    *) echo "bench: --isa takes avx2 or native, got '${2:-}'" >&2; exit 2 ;;
  esac
  shift 2
fi
if [ "$ISA" = avx2 ]; then
  export LAMINA_JAVA_OPTS="${LAMINA_JAVA_OPTS:-} -XX:UseAVX=2"
  export ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 OPENBLAS_CORETYPE=Haswell
fi
