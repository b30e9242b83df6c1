#!/usr/bin/env bash
# Activation checkpointing: activation memory and step time with and without it, Lamina beside
# PyTorch's torch.utils.checkpoint on the same model, data and optimizer, in the same run.
#   bench/checkpoint.sh [--isa avx2] [SHAPE...]   SHAPE: llama-s, llama-m or PRESET:LAYERS (default: llama-s llama-m llama-s:24)
# Env: STEPS (timed steps, default 6), EVERY (layers per segment, default 1), HF_PYTHON (default /tmp/lamina-py/bin/python).
# Lamina's "activations" are the buffers its tape keeps for backward; PyTorch's are the tensors autograd saves
# (saved_tensors_hooks, each storage once, weights excluded). Neither counts the gradients lent during backward.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/bench/isa.sh"
source "$ROOT/bench/steal.sh"
STEPS="${STEPS:-6}"; EVERY="${EVERY:-1}"; PY="${HF_PYTHON:-/tmp/lamina-py/bin/python}"
shapes=("$@"); [ ${#shapes[@]} -gt 0 ] || shapes=(llama-s llama-m llama-s:24)
"$ROOT/bin/lamina" --version >/dev/null
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
echo "| model | checkpointing | Lamina activations MB (buffers) | Lamina ms/step | time cost | PyTorch activations MB | PyTorch ms/step | time cost | Lamina/PyTorch tok/s | CPU stolen |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
for s in "${shapes[@]}"; do
  p="${s%%:*}"; layers=""; [ "$s" != "$p" ] && layers="${s#*:}"
  lflag=(); tflag=(); [ -n "$layers" ] && { lflag=(--layers "$layers"); tflag=(--layers "$layers"); }
  base_l=""; base_t=""
  for every in 0 "$EVERY"; do
    cflag=(); [ "$every" != 0 ] && cflag=(--checkpoint-activations "$every")
    m=$(cpu_mark)
    lam=$("$ROOT/bin/lamina" bench train --preset "$p" --steps "$STEPS" "${lflag[@]}" "${cflag[@]}")
    tor=$("$PY" "$ROOT/bench/torch_checkpoint_train.py" "$p" "$STEPS" "${tflag[@]}" --checkpoint "$every" 2>/dev/null)
    stolen=$(steal_pct "$m")
    lms=$(sed -n 's/^median step \([0-9.]*\) ms.*/\1/p' <<<"$lam")
    lmb=$(awk -F= '/^activation_bytes=/{printf "%.0f", $2 / 1e6}' <<<"$lam")
    lbuf=$(sed -n 's/^activations kept: \([0-9]*\) buffers.*/\1/p' <<<"$lam")
    tms=$(sed -n 's/.*step_median=\([0-9.]*\)ms.*/\1/p' <<<"$tor"); tmb=$(sed -n 's/.*saved_activation_mb=\([0-9.]*\).*/\1/p' <<<"$tor")
    if [ "$every" = 0 ]; then base_l=$lms; base_t=$tms; lc="-"; tc="-"; what=none
    else lc=$(awk -v a="$lms" -v b="$base_l" 'BEGIN{printf "%+.0f%%", 100 * (a / b - 1)}'); tc=$(awk -v a="$tms" -v b="$base_t" 'BEGIN{printf "%+.0f%%", 100 * (a / b - 1)}'); what="every $every"; fi
    echo "| $p${layers:+ ($layers layers)} | $what | $lmb ($lbuf) | $lms | $lc | $tmb | $tms | $tc | $(ratio "$tms" "$lms") | $stolen |"
  done
done
echo
echo "ISA $ISA; Lamina ran with kernels $(sed -n 's/.*, kernels //p' <<<"$lam" | head -1); PyTorch $("$PY" -c 'import torch; print(torch.__version__)')"
