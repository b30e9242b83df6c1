#!/usr/bin/env bash
# The fine-tuning demonstration of docs/experiments/finetune.md: exact-match accuracy on the four
# instruction tasks (bench/finetune/test/) before and after full, LoRA and QLoRA fine-tuning of one
# base model, with wall-clock time, trainable parameters and peak resident memory of each run.
#
#   bench/finetune/run.sh BASE_MODEL [WORK_DIR] [METHODS]
#
# BASE_MODEL: a run directory (e.g. the quickstart's), a Hugging Face directory or a GGUF file.
# METHODS: default "full lora qlora". Env: STEPS (400), THREADS (2). Prints a Markdown table.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BASE="${1:?usage: bench/finetune/run.sh BASE_MODEL [WORK_DIR] [METHODS]}"
WORK="${2:-$(mktemp -d /tmp/lamina-finetune.XXXXXX)}"
METHODS="${3:-full lora qlora}"
STEPS="${STEPS:-400}"; THREADS="${THREADS:-2}"
LAMINA="$ROOT/bin/lamina"; DATA="$ROOT/bench/finetune"
mkdir -p "$WORK"
"$LAMINA" --version >/dev/null 2>&1 || true   # builds once, outside the timings

scores() {   # eval output -> "add date extract reverse" exact-match figures
  grep -E '^(add|date|extract|reverse) \(.*exact_match' "$1" | sed -E 's/^([a-z]+) .*exact_match ([0-9.]+).*/\1=\2/' | sort | tr '\n' ' '
}
row() {      # method seconds trainable rss_kb eval_log
  local s; s="$(scores "$5")"
  local mean; mean="$(echo "$s" | tr ' ' '\n' | grep = | cut -d= -f2 | awk '{t+=$1; n++} END {if (n) printf "%.3f", t/n}')"
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$3" "$4" "$s" "$mean"
}

"$LAMINA" eval --model "$BASE" --tasks "$DATA/test" --threads "$THREADS" > "$WORK/eval-base.log" 2>&1
{
  echo "| method | wall-clock (s) | trainable parameters | peak RSS (MB) | exact match per task | mean |"
  echo "| --- | ---: | ---: | ---: | --- | ---: |"
  row "none (base)" "-" "-" "-" "$WORK/eval-base.log"
} > "$WORK/table.md"
for m in $METHODS; do
  case "$m" in
    full) LR=5e-4; EXTRA=() ;;
    *)    LR=3e-3; EXTRA=(--rank 16 --alpha 32) ;;
  esac
  rm -rf "$WORK/$m"
  start=$(date +%s.%N)
  /usr/bin/time -v -o "$WORK/$m.time" "$LAMINA" finetune --model "$BASE" --data "$DATA/train.jsonl" --out "$WORK/$m" \
    --method "$m" "${EXTRA[@]}" --lr "$LR" --steps "$STEPS" --batch 8 --seq 128 --pack --seed 1 --threads "$THREADS" \
    > "$WORK/finetune-$m.log" 2>&1
  secs=$(echo "$(date +%s.%N) - $start" | bc)
  trainable=$(grep -o 'trainable parameters: [0-9,]*' "$WORK/finetune-$m.log" | grep -o '[0-9,]*$')
  rss=$(awk -F: '/Maximum resident/ {printf "%.0f", $2/1024}' "$WORK/$m.time")
  if [ "$m" = full ]; then MODEL_ARGS=(--model "$WORK/$m"); else MODEL_ARGS=(--model "$BASE" --adapter "$WORK/$m"); fi
  "$LAMINA" eval "${MODEL_ARGS[@]}" --tasks "$DATA/test" --threads "$THREADS" > "$WORK/eval-$m.log" 2>&1
  row "$m" "$(printf '%.0f' "$secs")" "$trainable" "$rss" "$WORK/eval-$m.log" >> "$WORK/table.md"
done
cat "$WORK/table.md"
