#!/usr/bin/env bash
# 16-bit training beside PyTorch's mixed precision on the CPU, in the same run: for each precision,
# `lamina bench train --precision P` and bench/torch_precision_train.py (torch.autocast, GradScaler for fp16).
#   bench/precision.sh [--isa avx2] [PRESET...] (default: llama-s)
# Env: STEPS (timed steps, default 6), THREADS (default 2), PRECISIONS (default "fp32 bf16 fp16"), TORCH_VENV.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/bench/isa.sh"
STEPS="${STEPS:-6}"; THREADS="${THREADS:-2}"; PRECISIONS="${PRECISIONS:-fp32 bf16 fp16}"
presets=("$@"); [ ${#presets[@]} -gt 0 ] || presets=(llama-s)
source "$ROOT/bench/torch_venv.sh"
"$ROOT/bin/lamina" --version >/dev/null
echo "| preset | precision | Lamina tok/s | Lamina live training MB | Lamina JVM peak heap MB | PyTorch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)') tok/s | PyTorch peak RSS MB | ratio |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for p in "${presets[@]}"; do
  for prec in $PRECISIONS; do
    lam=$("$ROOT/bin/lamina" bench train --preset "$p" --steps "$STEPS" --threads "$THREADS" --precision "$prec")
    tps=$(sed -n 's/^tokens_per_s=//p' <<<"$lam")
    live=$(sed -n 's/.* = \([0-9]*\) MB live.*/\1/p' <<<"$lam")
    heap=$(sed -n 's/.*JVM peak heap \([0-9]*\) MB.*/\1/p' <<<"$lam")
    peer=$(OMP_NUM_THREADS="$THREADS" "$VENV/bin/python" "$ROOT/bench/torch_precision_train.py" "$p" "$STEPS" "$prec")
    ptps=$(sed -n 's/.*tokens_per_s=\([0-9]*\).*/\1/p' <<<"$peer"); rss=$(sed -n 's/.*peak_rss_mb=\([0-9]*\).*/\1/p' <<<"$peer")
    echo "| $p | $prec | $tps | $live | $heap | $ptps | $rss | $(awk -v a="$tps" -v b="$ptps" 'BEGIN{printf "%.2f", a/b}') |"
  done
done
