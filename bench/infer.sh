#!/usr/bin/env bash
# Inference speed beside the llama.cpp peer, in the same run on the same machine: the llama-m
# shape (110M parameters, vocab 16,384, float32 weights), 128-token prefill and 128-token decode,
# 2 threads, alternating the two programs for ROUNDS rounds.
#   bench/infer.sh [--isa avx2]      float32 weights (Lamina's preset with random weights, llama.cpp the same shape)
#   WEIGHTS=q8_0|q4_0|q4_k_m|f16|bf16 bench/infer.sh   both on one GGUF file made by llama-quantize from the f32 file
#                                    (also q4_1, q5_0, q5_1, q5_k_m, q6_k, q3_k_m, q2_k, iq4_nl, iq4_xs):
#                                    Lamina computes with the file's blocks as they are, 16-bit matrices in 16 bits (--weights stored)
#   SHAPE=moe-s bench/infer.sh      a mixture of experts: both on one random moe-s GGUF file (8 experts, 2 per token)
#   --isa avx2: Lamina with -XX:UseAVX=2 beside a llama.cpp built for AVX2 without AVX-512 (build-avx2/)
# Env: ROUNDS (default 3), THREADS (default 2), PEER_DIR (default /tmp/lamina-llamacpp), WARMUP (Lamina's warm-up
#      seconds, default 5; a mixture of experts needs about 20 to reach its steady state), PROMPT (default 128: the
#      prefill length, and the context the 128 decoded tokens follow; past 128 both run on a file of context
#      PROMPT + 128), KV (Lamina's --kv-cache-dtype, default f32; llama.cpp's cache is f16).
# The peer is built once from source: llama.cpp v0.5.0 (commit de3ff81) as bundled in the npm
# package node-llama-cpp 3.22.1, CPU only, -march=native, OpenMP; the model file is written by
# bench/make_gguf.py with the gguf Python package. Needs npm, git, cmake, a C++ compiler.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/bench/isa.sh"
ROUNDS="${ROUNDS:-3}"; THREADS="${THREADS:-2}"; WARMUP="${WARMUP:-5}"   # seconds of Lamina's warm-up before timing
DIR="${PEER_DIR:-/tmp/lamina-llamacpp}"
BUILD="$DIR/llama.cpp/build"; CPU_FLAGS="-DGGML_NATIVE=ON"
if [ "$ISA" = avx2 ]; then
  BUILD="$DIR/llama.cpp/build-avx2"
  CPU_FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF"
fi
SHAPE="${SHAPE:-llama-m}"          # or moe-s: Lamina's moe-s preset (8 experts, 2 per token), Mixtral's GGUF layout
PROMPT="${PROMPT:-128}"; KV="${KV:-f32}"
CTX=""; [ "$PROMPT" -le 128 ] || CTX="-ctx$((PROMPT + 128))"     # a longer context than the presets' 256: its own files
BENCH="$BUILD/bin/llama-bench"; MODEL="$DIR/$SHAPE$CTX-f32.gguf"
mkdir -p "$DIR"

if [ ! -x "$BENCH" ]; then
  echo "building llama-bench in $BUILD (about 10 minutes on 2 cores)..." >&2
  [ -d "$DIR/llama.cpp" ] || (cd "$DIR" && npm pack -q node-llama-cpp@3.22.1 >/dev/null && tar xzf node-llama-cpp-3.22.1.tgz \
     && git clone -q package/llama/gitRelease.bundle llama.cpp)
  cmake -S "$DIR/llama.cpp" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release $CPU_FLAGS -DGGML_OPENMP=ON \
    -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF \
    -DLLAMA_BUILD_TOOLS=ON >"$DIR/cmake.log" 2>&1
  cmake --build "$BUILD" -j2 --target llama-bench >"$DIR/build.log" 2>&1
fi
if [ ! -f "$MODEL" ]; then
  [ -x "$DIR/venv/bin/python" ] || { python3 -m venv "$DIR/venv" && "$DIR/venv/bin/pip" install -q gguf numpy; }
  "$DIR/venv/bin/python" "$ROOT/bench/make_gguf.py" "$MODEL.tmp" "$SHAPE" $([ -z "$CTX" ] || echo $((PROMPT + 128))) >&2 && mv "$MODEL.tmp" "$MODEL"
fi
WEIGHTS="${WEIGHTS:-f32}"
LAMINA_MODEL=(--preset llama-m)
[ "$SHAPE" = llama-m ] && [ -z "$CTX" ] || LAMINA_MODEL=(--model "$MODEL")      # the same file for both
case "$WEIGHTS" in
  f32) ;;
  q8_0|q4_0|q4_k_m|f16|bf16|q4_1|q5_0|q5_1|q5_k_m|q6_k|q3_k_m|q2_k|iq4_nl|iq4_xs)
    Q="$DIR/$SHAPE$CTX-$WEIGHTS.gguf"
    if [ ! -f "$Q" ]; then
      [ -x "$BUILD/bin/llama-quantize" ] || cmake --build "$BUILD" -j2 --target llama-quantize >"$DIR/build.log" 2>&1
      "$BUILD/bin/llama-quantize" "$MODEL" "$Q.tmp" "${WEIGHTS^^}" >/dev/null 2>&1 && mv "$Q.tmp" "$Q"
    fi
    MODEL="$Q"; LAMINA_MODEL=(--model "$Q");;   # Lamina keeps the file's blocks (--weights stored, the default)
  *) echo "WEIGHTS must be f32, q8_0, q4_0, q4_k_m, f16, bf16, q4_1, q5_0, q5_1, q5_k_m, q6_k, q3_k_m, q2_k, iq4_nl or iq4_xs, got '$WEIGHTS'" >&2; exit 2;;
esac
"$ROOT/bin/lamina" --version >/dev/null
source "$ROOT/bench/steal.sh"

echo "| round (UTC) | llama.cpp prefill tok/s | Lamina prefill tok/s | ratio | llama.cpp decode tok/s | Lamina decode tok/s | ratio | CPU stolen: llama.cpp / Lamina |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
for r in $(seq 1 "$ROUNDS"); do
  t=$(date -u +%H:%M)
  m=$(cpu_mark)
  # prefill of PROMPT tokens from an empty cache; decode of 128 tokens after PROMPT (-d PROMPT), as Lamina's
  # bench infer decodes after its PROMPT-token prompt: the same positions, the same attention work
  peer=$("$BENCH" -m "$MODEL" -p "$PROMPT" -n 128 -d 0,"$PROMPT" -t "$THREADS" -r 5 -o csv 2>/dev/null)
  read -r pp tg < <(awk -F, -v d="$PROMPT" 'NR==1{for(i=1;i<=NF;i++){gsub(/"/,"",$i); c[$i]=i}; next}
      {gsub(/"/,""); if ($c["n_prompt"]>0 && $c["n_depth"]==0) pp=$c["avg_ts"]; if ($c["n_gen"]>0 && $c["n_depth"]==d) tg=$c["avg_ts"]}
      END{print pp, tg}' <<<"$peer")
  ps=$(steal_pct "$m"); m=$(cpu_mark)
  lam=$("$ROOT/bin/lamina" bench infer "${LAMINA_MODEL[@]}" --threads "$THREADS" --concurrency 1 --repeats 5 --warmup "$WARMUP" \
        --prompt "$PROMPT" --tokens 128 --kv-cache-dtype "$KV" 2>/dev/null)
  lp=$(sed -n 's/^prefill: \([0-9.]*\) tok\/s.*/\1/p' <<<"$lam"); ld=$(sed -n 's/^decode, batch 1: \([0-9.]*\) tok\/s.*/\1/p' <<<"$lam")
  ls=$(steal_pct "$m")
  awk -v t="$t" -v pp="$pp" -v lp="$lp" -v tg="$tg" -v ld="$ld" -v st="$ps / $ls" \
    'BEGIN{printf "| %s | %.0f | %.0f | %.2f | %.1f | %.1f | %.2f | %s |\n", t, pp, lp, lp/pp, tg, ld, ld/tg, st}'
done
