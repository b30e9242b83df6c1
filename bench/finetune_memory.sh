#!/usr/bin/env bash
# Live memory of inference and of full, LoRA (r=16, every linear map) and QLoRA fine-tuning, one
# process per figure (`lamina bench memory`: heap in use after a full collection at the step's peak),
# on llama-m and TinyLlama-1.1B's shape with random weights; batch 1 x 256 for TinyLlama, 4 x 256
# for llama-m. Prints a Markdown table. Env: HEAP (the JVM's -Xmx, default 22g), TINY_FULL_LAYERS
# (default 4: full fine-tuning of all 22 layers needs ~18 GB of float32 state alone).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
HEAP="${HEAP:-22g}"; TINY_FULL_LAYERS="${TINY_FULL_LAYERS:-4}"
export LAMINA_JAVA_OPTS="${LAMINA_JAVA_OPTS:-} -Xmx$HEAP"
row() {   # preset layers method batch
  local args=(--preset "$1" --method "$3" --batch "$4" --seq 256)
  [ "$2" = all ] || args+=(--layers "$2")
  local out; out="$("$ROOT/bin/lamina" bench memory "${args[@]}" 2>/dev/null)"
  local live; live="$(grep -o 'live_mb=[0-9]*' <<<"$out" | cut -d= -f2)"
  local acc; acc="$(grep -o '= [0-9]* MB$' <<<"$out" | grep -o '[0-9]*' || true)"
  local params; params="$(head -1 <<<"$out" | grep -o '[0-9,]* parameters' | cut -d' ' -f1)"
  printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$params" "$3" "${acc:--}" "$live"
}
echo "| shape | layers | parameters | method | accounted buffers (MB) | live heap (MB) |"
echo "| --- | --- | ---: | --- | ---: | ---: |"
for m in inference full lora qlora; do row llama-m all "$m" 4; done
for m in inference full lora qlora; do row tinyllama "$TINY_FULL_LAYERS" "$m" 1; done
for m in inference lora qlora; do row tinyllama all "$m" 1; done
