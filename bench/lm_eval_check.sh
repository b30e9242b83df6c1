#!/usr/bin/env bash
# lm-evaluation-harness against `lamina serve`: the committed local tasks (bench/lm_eval/*.yaml) run
# with lm_eval's local-completions backend against the server, and with its hf backend on the same
# model exported to Hugging Face format; bench/lm_eval_compare.py then checks every loglikelihood
# (within 1e-3), the metrics (identical) and the generated texts.
#
#   bench/lm_eval_check.sh [WORK_DIR]
#
# Model: $LAMINA_EVAL_MODEL (a run directory), else a `tiny` model trained here for 300 steps on the
# bundled Brown corpus (bytes). Python: $LAMINA_PY (default /tmp/lamina-py/bin/python) with lm_eval,
# torch and transformers; without them the check is skipped (exit 0).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${LAMINA_PY:-/tmp/lamina-py/bin/python}"
if ! [ -x "$PY" ] || ! "$PY" -c 'import lm_eval, torch, transformers' 2>/dev/null; then
  echo "lm_eval_check: skipped ($PY lacks lm_eval, torch or transformers)"
  exit 0
fi
WORK="${1:-$(mktemp -d /tmp/lamina-lm-eval.XXXXXX)}"
mkdir -p "$WORK"
LAMINA="$ROOT/bin/lamina"
export HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

RUN="${LAMINA_EVAL_MODEL:-}"
if [ -z "$RUN" ]; then
  RUN="$WORK/run"
  if [ ! -f "$RUN/model.safetensors" ]; then
    "$LAMINA" prepare --corpus brown --tokenizer bytes --out "$WORK/data"
    "$LAMINA" train --preset tiny --data "$WORK/data" --out "$RUN" --steps 300 --batch 8 --seq 128 --threads 1
  fi
fi
rm -rf "$WORK/hf"
"$LAMINA" export hf "$RUN" --out "$WORK/hf"
CTX="$("$PY" -c 'import json,sys; c=json.load(open(sys.argv[1])); print(c.get("max_position_embeddings") or c.get("n_positions"))' "$WORK/hf/config.json")"

PORT="${LAMINA_EVAL_PORT:-18431}"
"$LAMINA" serve --model "$RUN" --port "$PORT" --model-name lamina-check --threads 1 > "$WORK/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  sleep 1
done
curl -sf "http://127.0.0.1:$PORT/health" >/dev/null || { cat "$WORK/serve.log"; echo "lm_eval_check: the server did not come up"; exit 1; }

TASKS=lamina_brown_cloze,lamina_brown_continue
cd "$ROOT/bench/lm_eval"              # the YAML files name their JSONL relative to here
rm -rf "$WORK/out-serve" "$WORK/out-hf"
"$PY" -m lm_eval --model local-completions --tasks "$TASKS" --include_path . --log_samples --output_path "$WORK/out-serve" \
  --model_args "model=lamina-check,base_url=http://127.0.0.1:$PORT/v1/completions,tokenizer_backend=huggingface,tokenizer=$WORK/hf,max_length=$CTX,num_concurrent=1,max_retries=1" \
  --batch_size 8 > "$WORK/lm_eval-serve.log" 2>&1 || true
# hf reads the last max_length of max_length + 1 tokens; local-completions sends the last max_length - 1
# (one is kept for the generated token): max_length CTX - 2 here makes both cut long inputs alike
"$PY" -m lm_eval --model hf --tasks "$TASKS" --include_path . --log_samples --output_path "$WORK/out-hf" \
  --model_args "pretrained=$WORK/hf,dtype=float32,max_length=$((CTX - 2))" --device cpu --batch_size 8 > "$WORK/lm_eval-hf.log" 2>&1 || true
# (lm_eval prints its table with pytablewriter and fails after saving the results when that package is
# missing, as on an offline index; the comparison reads the saved results, and fails if there are none)
"$PY" "$ROOT/bench/lm_eval_compare.py" "$WORK/out-serve" "$WORK/out-hf" --tol 1e-3

# Chat: local-chat-completions sends messages to /v1/chat/completions, which the server renders with
# the model's chat template; hf renders the exported tokenizer_config.json's chat_template (the same
# template in Jinja) with --apply_chat_template. The generations must be identical.
rm -rf "$WORK/out-chat" "$WORK/out-hf-chat"
"$PY" -m lm_eval --model local-chat-completions --tasks lamina_brown_continue --include_path . --apply_chat_template \
  --log_samples --output_path "$WORK/out-chat" \
  --model_args "model=lamina-check,base_url=http://127.0.0.1:$PORT/v1/chat/completions,num_concurrent=1,max_retries=1" \
  > "$WORK/lm_eval-chat.log" 2>&1 || true
"$PY" -m lm_eval --model hf --tasks lamina_brown_continue --include_path . --apply_chat_template --log_samples \
  --output_path "$WORK/out-hf-chat" --model_args "pretrained=$WORK/hf,dtype=float32,max_length=$((CTX - 2))" --device cpu \
  --batch_size 8 > "$WORK/lm_eval-hf-chat.log" 2>&1 || true
"$PY" "$ROOT/bench/lm_eval_compare.py" "$WORK/out-chat" "$WORK/out-hf-chat"
echo "lamina eval on the same task files:"
"$LAMINA" eval --model "$RUN" --tasks brown_cloze_100.jsonl --tasks brown_continue_30.jsonl --threads 1
