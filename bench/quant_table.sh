#!/usr/bin/env bash
# Quality and memory of a trained model per GGUF format: file size, resident memory while serving,
# validation perplexity and decode speed, as one Markdown table (docs/experiments/quantization.md).
#   bench/quant_table.sh RUN DATA [TYPES...]
# RUN: a run directory (lamina train or quickstart's RUN/model); DATA: its prepared data directory
# (perplexity on DATA's val split: windows of the model's context starting every STRIDE tokens,
# default 256). TYPES default: f32 q8_0 q4_k_m q4_0. Each is written by `lamina export gguf` into
# $OUT (default /tmp/lamina-quant) and loaded the way inference loads it (--weights stored: the
# file's blocks kept). Env: THREADS (2), STRIDE.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUN="${1:?usage: bench/quant_table.sh RUN DATA [TYPES...]}"; DATA="${2:?usage: bench/quant_table.sh RUN DATA [TYPES...]}"; shift 2
TYPES=("$@"); [ ${#TYPES[@]} -gt 0 ] || TYPES=(f32 q8_0 q4_k_m q4_0)
OUT="${OUT:-/tmp/lamina-quant}"; THREADS="${THREADS:-2}"; STRIDE="${STRIDE:-256}"
L="$ROOT/bin/lamina"
mkdir -p "$OUT"
"$L" --version >/dev/null

rss_serving() {   # resident memory (MB) of `lamina serve` on $1 after it answered one completion
  local port=$((20000 + RANDOM % 20000)) log="$OUT/serve.log" pid rss=""
  "$L" serve --model "$1" --port "$port" --threads "$THREADS" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 1 240); do
    curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { echo "serve failed: $(cat "$log")" >&2; echo "?"; return; }
    sleep 0.5
  done
  curl -sf "http://127.0.0.1:$port/v1/completions" -H 'Content-Type: application/json' \
    -d '{"prompt":"The jury said","max_tokens":32,"temperature":0}' >/dev/null || true
  local jpid; jpid=$(pgrep -P "$pid" java || echo "$pid")
  rss=$(awk '/VmRSS/{print int($2/1024)}' "/proc/$jpid/status" 2>/dev/null || echo "?")
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  echo "$rss"
}

echo "| format | file MB | RSS serving MB | val perplexity | vs f32 | decode tok/s |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
base=""
for t in "${TYPES[@]}"; do
  f="$OUT/model-$t.gguf"
  "$L" export gguf "$RUN" --out "$f" --type "$t" >/dev/null 2>&1
  mb=$(awk -v b="$(stat -c %s "$f")" 'BEGIN{printf "%.1f", b/1e6}')
  ppl=$("$L" eval --model "$f" --data "$DATA" --split val --stride "$STRIDE" --threads "$THREADS" 2>/dev/null | sed -n 's/.*perplexity \([0-9.]*\),.*/\1/p' | tail -1)
  [ -n "$base" ] || base="$ppl"
  dec=$("$L" bench infer --model "$f" --threads "$THREADS" --prompt 128 --tokens 128 --concurrency 1 --repeats 5 --warmup 10 2>/dev/null \
        | sed -n 's/^decode, batch 1: \([0-9.]*\) tok\/s.*/\1/p')
  rss=$(rss_serving "$f")
  awk -v t="$t" -v mb="$mb" -v rss="$rss" -v p="$ppl" -v b="$base" -v d="$dec" \
    'BEGIN{printf "| %s | %s | %s | %.3f | %+.2f%% | %.1f |\n", t, mb, rss, p, 100*(p/b-1), d}'
done
