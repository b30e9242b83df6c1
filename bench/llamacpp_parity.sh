#!/usr/bin/env bash
# GGUF interoperability with llama.cpp itself, both ways, by greedy continuations of fixed prompts:
#  1. a Lamina model (trained briefly on the bundled corpus, or RUN if given) exported by
#     `lamina export gguf` as f32, f16, q8_0, q4_0, q4_k_m, q4_1, q5_0, q5_1 and q5_k_m: llama.cpp's llama-simple and
#     `lamina generate --temperature 0` continue each prompt from the same file;
#  2. a tiny random Hugging Face Llama converted by llama.cpp's convert_hf_to_gguf.py and quantized by
#     llama-quantize to q8_0, q4_k_m, q5_k_m, q3_k_m, q2_k, iq4_nl and iq4_xs: the same comparison;
#  3. tiny random Qwen3 and Gemma 3 (text) models the same way, f32 and q8_0 (GPT-2's vocabulary; Gemma 1/2
#     need a SentencePiece tokenizer.model for the converter and are checked by GgufModelTest's logits).
# Prints a Markdown table (match: the same continuation text). llama.cpp computes Q8_0 and the
# K-quants against 8-bit quantized activations and Lamina against float32 ones, so on near-ties a
# quantized continuation may part ways; f32 and f16 should agree.
#   bench/llamacpp_parity.sh [RUN]
# Env: PEER_DIR (default /tmp/lamina-llamacpp; llama.cpp built as bench/infer.sh builds it, plus the
#      llama-simple and llama-quantize targets), PY (a python with torch, transformers, gguf).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${PEER_DIR:-/tmp/lamina-llamacpp}"; BUILD="$DIR/llama.cpp/build"
PY="${PY:-/tmp/lamina-py/bin/python}"
N=24
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
for t in llama-simple llama-quantize; do
  [ -x "$BUILD/bin/$t" ] || { echo "llamacpp_parity: $BUILD/bin/$t missing; build it: cmake --build $BUILD --target llama-simple llama-quantize" >&2; exit 1; }
done
L="$ROOT/bin/lamina"

RUN="${1:-}"
if [ -z "$RUN" ]; then
  RUN="$WORK/run"
  "$L" prepare --corpus brown --tokenizer bytes --out "$WORK/data" >/dev/null
  "$L" train --preset tiny --data "$WORK/data" --out "$RUN" --steps 300 --seed 1 >/dev/null 2>&1
fi

prompts=("The jury said" "It was a" "In the morning")
llama() { "$BUILD/bin/llama-simple" -m "$1" -n "$N" "$2" 2>/dev/null; }
lamina() { "$L" generate --model "$1" --prompt "$2" --max-tokens "$N" --temperature 0 --threads 2 2>/dev/null | sed -e '$ s/\n$//'; }
row() {  # file label
  local m=0 n=0
  for p in "${prompts[@]}"; do
    a=$(llama "$1" "$p"); b=$(lamina "$1" "$p"); n=$((n + 1))
    if [ "$a" = "$b" ]; then m=$((m + 1)); else printf '    %s | llama.cpp: %q\n    %s | Lamina:    %q\n' "$2" "$a" "$2" "$b" >&2; fi
  done
  echo "| $2 | $m / $n |"
}

echo "| file | greedy continuations equal ($N tokens) |"
echo "| --- | ---: |"
for type in f32 f16 q8_0 q4_0 q4_k_m q4_1 q5_0 q5_1 q5_k_m; do
  "$L" export gguf "$RUN" --out "$WORK/lamina-$type.gguf" --type "$type" >/dev/null
  row "$WORK/lamina-$type.gguf" "Lamina export, $type"
done

# 2-3. llama.cpp's own converter and quantizer on tiny random transformers models with GPT-2's vocabulary:
#    a Llama (f32, Q8_0, Q4_K_M), a Qwen3 (q/k norms, head size 32 on hidden 64) and a Gemma 3 (GeGLU, sandwich
#    and q/k norms, 6 layers: five windowed of 8 tokens and a global one, two RoPE bases), f32 and Q8_0
hf_model() {  # arch out: save a random model and GPT-2's tokenizer
  "$PY" - "$2" "$ROOT/../shared/data/gpt2" "$1" <<'PY'
import sys, torch
out, gpt2, arch = sys.argv[1], sys.argv[2], sys.argv[3]
torch.manual_seed(0 if arch == "llama" else 1)
common = dict(vocab_size=50257, hidden_size=64, intermediate_size=128, num_attention_heads=4, num_key_value_heads=2,
              max_position_embeddings=128, bos_token_id=50256, eos_token_id=50256)
if arch == "llama":
    from transformers import LlamaConfig as C, LlamaForCausalLM as M
    cfg = C(num_hidden_layers=2, tie_word_embeddings=False, **common)
elif arch == "qwen3":
    from transformers import Qwen3Config as C, Qwen3ForCausalLM as M
    cfg = C(num_hidden_layers=2, head_dim=32, tie_word_embeddings=True, **common)
else:
    from transformers import Gemma3TextConfig as C, Gemma3ForCausalLM as M
    cfg = C(num_hidden_layers=6, head_dim=32, sliding_window=8, query_pre_attn_scalar=32, pad_token_id=0,
            tie_word_embeddings=True, **common)
m = M(cfg)
with torch.no_grad():
    for n, p in m.named_parameters():
        if p.dim() == 2: p.mul_(4.0)        # sharper logits than the default init: fewer greedy near-ties
        elif "norm" in n and arch != "llama": p.copy_(0.2 * torch.randn(p.shape))
m.save_pretrained(out, safe_serialization=True)
from tokenizers import Tokenizer, models, pre_tokenizers, decoders
from transformers import PreTrainedTokenizerFast
tok = Tokenizer(models.BPE.from_file(f"{gpt2}/encoder.json", f"{gpt2}/vocab.bpe"))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>").save_pretrained(out)
PY
}
# the converter recognises pre-tokenizers by a hash of its test encodings, and this GPT-2 vocabulary rebuilt by
# transformers 5 is not in its table: declare it "gpt-2" (it is GPT-2's), the one patch, about the vocabulary only
convert() {  # model-dir out.gguf
  "$PY" - "$DIR/llama.cpp" "$1" --outfile "$2" --outtype f32 >/dev/null 2>&1 <<'PY'
import os, sys
llamacpp = sys.argv[1]
sys.path.insert(0, llamacpp)
sys.argv = [os.path.join(llamacpp, "convert_hf_to_gguf.py")] + sys.argv[2:]
import convert_hf_to_gguf
from conversion.base import TextModel
TextModel.get_vocab_base_pre = lambda self, tokenizer: "gpt-2"
convert_hf_to_gguf.main()
PY
}
for arch in llama qwen3 gemma3; do
  hf_model "$arch" "$WORK/$arch"
  convert "$WORK/$arch" "$WORK/$arch-f32.gguf" || { echo "| convert_hf_to_gguf.py ($arch) | failed: see $WORK (kept) |"; trap - EXIT; exit 1; }
  row "$WORK/$arch-f32.gguf" "convert_hf_to_gguf.py, $arch f32"
  types=(Q8_0); [ "$arch" = llama ] && types=(Q8_0 Q4_K_M Q5_K_M Q3_K_M Q2_K IQ4_NL IQ4_XS)
  for type in "${types[@]}"; do
    "$BUILD/bin/llama-quantize" "$WORK/$arch-f32.gguf" "$WORK/$arch-$type.gguf" "$type" >/dev/null 2>&1
    row "$WORK/$arch-$type.gguf" "llama-quantize, $arch $type"
  done
done
