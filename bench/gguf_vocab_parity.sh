#!/usr/bin/env bash
# The GGUF vocabularies `lamina export gguf` writes for the tokenizer families (SentencePiece BPE:
# Llama 2, Mistral, Phi-3, Gemma; byte-level BPE with a split regex: Llama 3, Qwen2), checked against
# llama.cpp itself: for each family, a tiny random Llama with that tokenizer (the small trained ones
# under lamina-core/src/test/resources/tokenizers) is exported, llama.cpp's llama-tokenize encodes
# every text of tokenizers/texts.json from the exported file, and Hugging Face's `tokenizers`
# encodes it from the tokenizer.json. Texts where llama.cpp tokenizes every GGUF file of a family its
# own way are counted apart (a special token in the text; SentencePiece text that starts with a
# space or "▁"; text NFC would change). Then llama.cpp's llama-simple and `lamina generate`
# continue three prompts greedily from the same file (both put the BOS token in front where the
# tokenizer asks for it).
#   bench/gguf_vocab_parity.sh
# Env: PEER_DIR (default /tmp/lamina-llamacpp; llama.cpp built as bench/infer.sh builds it, plus the
#      llama-tokenize and llama-simple targets), PY (a python with torch, transformers, tokenizers).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${PEER_DIR:-/tmp/lamina-llamacpp}"; BUILD="$DIR/llama.cpp/build"
PY="${PY:-/tmp/lamina-py/bin/python}"
for t in llama-tokenize llama-simple; do
  [ -x "$BUILD/bin/$t" ] || { echo "gguf_vocab_parity: $BUILD/bin/$t missing; build it: cmake --build $BUILD --target $t" >&2; exit 1; }
done
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
# llama-simple prints the BOS token it puts in front, then each piece (SentencePiece's first with its space);
# Lamina prints the text alone: compare without the BOS text and one leading space, as UTF-8 text
plain() { "$PY" -c "import sys; t=sys.stdin.buffer.read().decode('utf-8', 'replace').replace('\ufffd', ''); b=sys.argv[1]
t=t[len(b):] if b and t.startswith(b) else t; sys.stdout.write(t[1:] if t.startswith(' ') else t)" "${1:-}"; }
L="$ROOT/bin/lamina"; RES="$ROOT/lamina-core/src/test/resources/tokenizers"
"$L" --version >/dev/null

echo "| family | written as | texts compared | llama.cpp = tokenizers | llama.cpp's own way (apart) | greedy continuations equal |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
for fam in llama2 mistral phi3 gemma llama3 qwen2; do
  m="$WORK/$fam"
  "$PY" - "$RES/$fam/tokenizer.json" "$m" <<'PY'
import sys, shutil, torch
from tokenizers import Tokenizer
from transformers import LlamaConfig, LlamaForCausalLM
src, out = sys.argv[1], sys.argv[2]
n = max(Tokenizer.from_file(src).get_vocab(with_added_tokens=True).values()) + 1   # ids may leave gaps
torch.manual_seed(0)
cfg = LlamaConfig(vocab_size=n, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=256, tie_word_embeddings=False)
model = LlamaForCausalLM(cfg)
with torch.no_grad():
    for p in model.parameters():
        if p.dim() == 2: p.mul_(4.0)       # sharper logits: fewer greedy near-ties
    # no byte-fallback tokens in the continuations: alone they are not text, and llama-simple prints the raw
    # byte where transformers' decoder (and Lamina's) writes U+FFFD
    vocab = Tokenizer.from_file(src).get_vocab(with_added_tokens=True)
    for t, i in vocab.items():
        if len(t) == 6 and t.startswith("<0x") and t.endswith(">"): model.lm_head.weight[i].zero_()
model.save_pretrained(out, safe_serialization=True)
shutil.copy(src, out + "/tokenizer.json")
PY
  "$L" export gguf "$m" --out "$m.gguf" --type f32 >"$m.export.log" 2>&1 || { echo "| $fam | export failed: $(tail -1 "$m.export.log") | | | | |"; continue; }
  kind=$("$PY" -c "import gguf,sys; r=gguf.GGUFReader(sys.argv[1]); f=r.fields; s=lambda k: bytes(f[k].parts[-1]).decode(); print(s('tokenizer.ggml.model') + ' / ' + s('tokenizer.ggml.pre'))" "$m.gguf")
  # every text: the ids of tokenizers (from tokenizer.json) and of llama.cpp (from the GGUF file)
  "$PY" - "$RES/texts.json" "$RES/$fam/tokenizer.json" "$m" "${kind%% *}" <<'PY' > "$m.texts"
import json, sys, unicodedata
from tokenizers import Tokenizer
texts, tj, work, model = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
tok = Tokenizer.from_file(tj)
specials = [t["content"] for t in json.load(open(tj)).get("added_tokens", [])] + (["<s>", "</s>", "<unk>"] if model == "llama" else [])
for i, t in enumerate(texts):
    own = any(s in t for s in specials) or unicodedata.normalize("NFC", t) != t \
          or (model == "llama" and t[:1] != "" and (t[0].isspace() or t[0] == "\u2581"))
    open(f"{work}.t{i}", "w", encoding="utf-8", newline="").write(t)
    print(i, int(own), " ".join(map(str, tok.encode(t, add_special_tokens=False).ids)))
PY
  same=0; n=0; apart=0; apart_same=0
  while read -r i own ids; do
    got=$("$BUILD/bin/llama-tokenize" -m "$m.gguf" -f "$m.t$i" --ids --no-bos --log-disable 2>/dev/null | tail -1 | tr -d '[],')
    if [ "$own" = 1 ]; then apart=$((apart + 1)); [ "$got" = "$ids" ] && apart_same=$((apart_same + 1)); continue; fi
    n=$((n + 1))
    if [ "$got" = "$ids" ]; then same=$((same + 1)); else printf '    %s text %s | tokenizers: %s\n    %s text %s | llama.cpp:  %s\n' "$fam" "$i" "$ids" "$fam" "$i" "$got" >&2; fi
  done < "$m.texts"
  g=0
  bos=$("$PY" -c "import json,sys; j=json.load(open(sys.argv[1])); s=[t['content'] for t in j.get('added_tokens',[]) if t['content'] in ('<s>','<bos>','<|begin_of_text|>')]; print(s[0] if s else '')" "$RES/$fam/tokenizer.json")
  for p in "The jury said" "It was a" "In the morning"; do
    a=$("$BUILD/bin/llama-simple" -m "$m.gguf" -n 16 "$p" 2>/dev/null | plain "$bos" || true)
    b=$("$L" generate --model "$m.gguf" --prompt "$p" --max-tokens 16 --temperature 0 --threads 2 2>/dev/null | sed -e '$ s/\n$//' | plain || true)
    [ -n "$a" ] && [ "$a" = "$b" ] && g=$((g + 1))
    [ "$a" = "$b" ] || printf '    %s | llama.cpp: %q\n    %s | Lamina:    %q\n' "$fam" "$a" "$fam" "$b" >&2
  done
  echo "| $fam | $kind | $n | $same / $n | $apart_same / $apart equal | $g / 3 |"
done
