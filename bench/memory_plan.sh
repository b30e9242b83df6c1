#!/usr/bin/env bash
# The memory plan beside the measured live heap: for each case, `lamina plan memory` (no weights made)
# and `lamina bench memory` (random weights, one step; the heap in use after a full collection at the
# step's peak, one process per figure), and the plan's error. Inference is compared once loaded (the
# plan's steady_bytes: loading a float32 model briefly holds its weights twice, which the plan's peak includes).
#   bench/memory_plan.sh [CASE...]   CASE: SHAPE:METHOD:BATCH:SEQ[:ckpt][:PRECISION][:KV]   SHAPE llama-s|llama-m|tinyllama,
#                                     or a model path (a GGUF file, run or HF directory; inference, batch 1: served as
#                                     stored, tokenizer included),
#                                     METHOD inference|full|lora|qlora, PRECISION fp32|bf16|fp16 (full; bf16 inference; default fp32),
#                                     KV f32|bf16|f16 (inference's KV cache; default f32)
#                                     (default: a grid of 16 cases)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(llama-s:full:8:256 llama-s:full:8:256:ckpt llama-s:lora:8:256 llama-s:qlora:8:256
  llama-m:full:4:256 llama-m:full:4:256:ckpt llama-m:full:8:256:ckpt llama-m:lora:4:256 llama-m:qlora:4:256:ckpt llama-m:inference:1:256
  tinyllama:qlora:1:256 tinyllama:qlora:2:512:ckpt tinyllama:lora:1:256 llama-s:full:8:256::bf16 llama-m:full:4:256::bf16
  llama-m:full:4:256::fp16)
"$ROOT/bin/lamina" --version >/dev/null
echo "| model | task | precision | KV cache | batch x seq | checkpointing | planned MB | live heap MB | plan error |"
echo "| --- | --- | --- | --- | --- | --- | ---: | ---: | ---: |"
for c in "${cases[@]}"; do
  IFS=: read -r shape method batch seq ckpt prec kvt <<<"$c"
  prec=${prec:-fp32}; kvt=${kvt:-f32}
  case "$shape" in
    llama-s) model=(--preset llama-s --vocab 8192) ;;
    llama-m) model=(--preset llama-m --vocab 16384) ;;
    tinyllama) model=(--config "$ROOT/configs/tinyllama-1.1b.json") ;;
    */*) model=(--model "$shape") ;;
    *) echo "memory_plan: unknown shape $shape" >&2; exit 2 ;;
  esac
  measured=(--preset "$shape"); pp=(--precision "$prec")
  [[ "$shape" == */* ]] && { measured=(--model "$shape"); pp=(); }   # a model is planned in the format it is served in
  task=$method; [ "$method" = full ] && task=train
  flags=(); what=none; [ -n "${ckpt:-}" ] && { flags=(--checkpoint-activations); what="every layer"; }
  kv=(); bkv=(); [ "$method" = inference ] && { kv=(--kv-cache-tokens "$seq" --kv-cache-dtype "$kvt"); bkv=(--kv-cache-dtype "$kvt"); }
  plan=$("$ROOT/bin/lamina" plan memory "${model[@]}" --task "$task" --batch "$batch" --seq "$seq" --rank 16 "${pp[@]}" "${flags[@]}" "${kv[@]}")
  planned=$(sed -n 's/^peak_bytes=//p' <<<"$plan")
  steady=$(sed -n 's/^steady_bytes=//p' <<<"$plan")
  [ "$method" = inference ] && [ -n "$steady" ] && planned=$steady   # bench memory measures once loaded
  live=$("$ROOT/bin/lamina" bench memory "${measured[@]}" --method "$method" --batch "$batch" --seq "$seq" --rank 16 --precision "$prec" "${flags[@]}" "${bkv[@]}" | sed -n 's/^live_mb=//p')
  echo "| $(basename "$shape") | $method | $prec | $([ "$method" = inference ] && echo "$kvt" || echo -) | $batch x $seq | $what | $(awk -v p="$planned" 'BEGIN{printf "%.0f", p / 1e6}') | $live | $(awk -v p="$planned" -v l="$live" 'BEGIN{printf "%+.1f%%", 100 * (p / 1e6 / l - 1)}') |"
done
