#!/usr/bin/env bash
# Training throughput beside the PyTorch peer, in the same run on the same machine.
#   bench/train.sh [--isa avx2] [PRESET...] (default: llama-s gpt2-s)
#   --isa avx2 caps Lamina (-XX:UseAVX=2) and PyTorch (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA) to AVX2.
# Env: STEPS (timed steps, default 10), THREADS (default 2), TORCH_VENV (default /tmp/lamina-torch),
#      OLD_TORCH=0 to skip Debian's PyTorch 1.13 (slow on llama-m).
# The peer script is ../shared/bench/torch_train.py; PyTorch comes from the machine image's offline wheel. For moe-*
# presets it is bench/torch_moe_train.py (transformers' MixtralForCausalLM), run by HF_PYTHON (default
# /tmp/lamina-py/bin/python, a venv with torch and transformers).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
source "$ROOT/bench/isa.sh"
PEER="${PEER:-$ROOT/../shared/bench/torch_train.py}"
STEPS="${STEPS:-10}"; THREADS="${THREADS:-2}"
presets=("$@"); [ ${#presets[@]} -gt 0 ] || presets=(llama-s gpt2-s)
source "$ROOT/bench/torch_venv.sh"
"$ROOT/bin/lamina" --version >/dev/null
# Debian's PyTorch 1.13 (apt-get install python3-torch), when present, as a second peer.
OLD=""; /usr/bin/python3 -c 'import torch' 2>/dev/null && OLD=/usr/bin/python3
[ "${OLD_TORCH:-1}" = 0 ] && OLD=""
source "$ROOT/bench/steal.sh"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }

head="| preset | Lamina tok/s | Lamina MFU | PyTorch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)') tok/s | ratio |"
rule="| --- | ---: | ---: | ---: | ---: |"
if [ -n "$OLD" ]; then
  head="$head PyTorch $($OLD -c 'import torch; print(torch.__version__)') tok/s | ratio |"; rule="$rule ---: | ---: |"
fi
head="$head CPU stolen |"; rule="$rule --- |"
echo "$head"; echo "$rule"
for p in "${presets[@]}"; do
  m=$(cpu_mark); lam=$("$ROOT/bin/lamina" bench train --preset "$p" --steps "$STEPS" --threads "$THREADS"); stolen=$(steal_pct "$m")
  peer="$PEER"; py="$VENV/bin/python"
  case "$p" in moe-*) peer="$ROOT/bench/torch_moe_train.py"; py="${HF_PYTHON:-/tmp/lamina-py/bin/python}";; esac   # transformers' Mixtral
  m=$(cpu_mark); tor=$("$py" "$peer" "$p" "$STEPS" 2>/dev/null); stolen="$stolen / $(steal_pct "$m")"
  lt=$(sed -n 's/^tokens_per_s=//p' <<<"$lam"); mfu=$(sed -n 's/^MFU \([0-9.]*%\).*/\1/p' <<<"$lam")
  tt=$(sed -n 's/.*tokens_per_s=//p' <<<"$tor")
  row="| $p | $lt | $mfu | $tt | $(ratio "$lt" "$tt") |"
  if [ -n "$OLD" ]; then
    m=$(cpu_mark); ot=$($OLD "$PEER" "$p" "$STEPS" 2>/dev/null | sed -n 's/.*tokens_per_s=//p'); stolen="$stolen / $(steal_pct "$m")"
    if [ -n "$ot" ]; then row="$row $ot | $(ratio "$lt" "$ot") |"; else row="$row n/a | |"; fi
  fi
  echo "$row $stolen |"
done
echo
echo "ISA $ISA; Lamina ran with kernels $(sed -n 's/.*, kernels //p' <<<"$lam" | head -1)"
