#!/usr/bin/env bash
# The cascade and router experiment of docs/experiments/cascade.md.
#
#   bench/cascade/run.sh CHEAP_MODEL STRONG_MODEL WORK_DIR [SPECIALISTS_DIR]
#
# CHEAP_MODEL, STRONG_MODEL: models fine-tuned on bench/finetune's tasks (run directories). The strong
# one is served by `lamina serve` on a port of its own and reached as an OpenAI-compatible endpoint,
# the cheap one is loaded in-process: the two kinds of tier. Each tier's price per 1,000 tokens is
# proportional to its parameter count (the FLOPs a token costs): $1 per 1,000 tokens per billion
# parameters. SPECIALISTS_DIR holds spec-add, spec-date, spec-extract, spec-reverse: one model per task,
# the router's sub-models. Env: PORT (8401), THREADS (2).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CHEAP="$(cd "${1:?usage: run.sh CHEAP_MODEL STRONG_MODEL WORK_DIR [SPECIALISTS_DIR]}" && pwd)"
STRONG="$(cd "${2:?strong model}" && pwd)"
WORK="${3:?work dir}"; SPEC="${4:-}"
PORT="${PORT:-8401}"; THREADS="${THREADS:-2}"
LAMINA="$ROOT/bin/lamina"
mkdir -p "$WORK"; WORK="$(cd "$WORK" && pwd)"
"$LAMINA" --version >/dev/null 2>&1 || true
python3 "$ROOT/bench/cascade/make_labelled.py" --out "$WORK/labelled.jsonl"

price() {  # dollars per 1k tokens: $1 per billion parameters (float32 safetensors: 4 bytes a parameter)
  python3 -c "import os,sys; print('%.3g' % (os.path.getsize(sys.argv[1] + '/model.safetensors') / 4 / 1e9))" "$1"
}
P_CHEAP=$(price "$CHEAP"); P_STRONG=$(price "$STRONG")

"$LAMINA" serve --model "$STRONG" --model-name strong --port "$PORT" --threads "$THREADS" > "$WORK/strong-serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 1; done

cat > "$WORK/cascade.yaml" <<YAML
name: frugal
tiers:
  - name: cheap
    model: $CHEAP
    cost: {input: $P_CHEAP, output: $P_CHEAP}
  - name: strong
    url: http://127.0.0.1:$PORT/v1
    remote_model: strong
    cost: {input: $P_STRONG, output: $P_STRONG}
scorer:
  encoder: $CHEAP
  dir: frugal-scorer
YAML
rm -rf "$WORK/frugal-scorer/scorer.json" "$WORK/frugal-scorer/thresholds.json"
"$LAMINA" cascade train --config "$WORK/cascade.yaml" --data "$WORK/labelled.jsonl" --threads "$THREADS" | tee "$WORK/cascade-report.md"

if [ -n "$SPEC" ]; then
  {
    echo "name: xllm"
    echo "routes:"
    for t in add date extract reverse; do
      echo "  - category: $t"
      echo "    model: $(cd "$SPEC/spec-$t" && pwd)"
      P=$(price "$SPEC/spec-$t"); echo "    cost: {input: $P, output: $P}"
    done
    echo "encoder: $CHEAP"
    echo "dir: xllm-router"
  } > "$WORK/router.yaml"
  "$LAMINA" router train --config "$WORK/router.yaml" --data "$WORK/labelled.jsonl" --threads "$THREADS" | tee "$WORK/router-report.md"
fi
