#!/usr/bin/env bash
# A small model that uses tools: the quickstart model fine-tuned on arithmetic conversations in
# OpenAI's tool-calling form (the question, a call of the example MCP server's `calculate`, its
# result, the answer), then `lamina agent` with that server on held-out questions. Prints a Markdown
# table: questions answered right through a checked, successful calculate call, and how many
# replies called the tool at all.
#   bench/agent_example.sh [RUN]        RUN: a quickstart run directory (default: run `lamina quickstart`)
# Env: N (training conversations, default 3000), STEPS (default 600), TEST (held-out questions, default 20),
#      THREADS (default 2).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
L="$ROOT/bin/lamina"
N="${N:-3000}"; STEPS="${STEPS:-600}"; TEST="${TEST:-20}"; THREADS="${THREADS:-2}"
WORK="${WORK:-$(mktemp -d)}"; mkdir -p "$WORK"
RUN="${1:-}"
if [ -z "$RUN" ]; then
  "$L" quickstart --out "$WORK/quickstart" >/dev/null 2>&1
  RUN="$WORK/quickstart"
fi
MODEL="$RUN/model"; [ -f "$MODEL/config.json" ] || MODEL="$RUN"

# conversations: the calculate tool as the example server lists it, a question, the call, its result, the answer
conversations() {  # count seed
  awk -v n="$1" -v seed="$2" 'BEGIN {
    srand(seed)
    tool = "{\"type\": \"function\", \"function\": {\"name\": \"calculate\", \"description\": \"Evaluates an arithmetic expression: numbers, + - * / ^ and parentheses.\", \"parameters\": {\"type\": \"object\", \"properties\": {\"expression\": {\"type\": \"string\"}}, \"required\": [\"expression\"]}}}"
    split("What is %s?|Compute %s.|Calculate %s, please.|How much is %s?|What does %s equal?|Work out %s.", ask, "|")
    for (i = 0; i < n; i++) {
      a = int(rand() * 98) + 2; b = int(rand() * 98) + 2; c = int(rand() * 20) + 2; f = int(rand() * 7)
      if (f == 0) { e = a "+" b; r = a + b } else if (f == 1) { e = a "-" b; r = a - b } else if (f == 2) { e = a "*" c; r = a * c }
      else if (f == 3) { e = c "*(" a "+" b ")"; r = c * (a + b) } else if (f == 4) { e = "(" a "-" b ")*" c; r = (a - b) * c }
      else if (f == 5) { e = a "+" b "*" c; r = a + b * c } else { e = a "*" c "-" b; r = a * c - b }
      q = sprintf(ask[int(rand() * 6) + 1], e)
      printf "{\"tools\": [%s], \"messages\": [{\"role\": \"user\", \"content\": \"%s\"}, {\"role\": \"assistant\", \"content\": null, \"tool_calls\": [{\"id\": \"call_1\", \"type\": \"function\", \"function\": {\"name\": \"calculate\", \"arguments\": \"{\\\"expression\\\": \\\"%s\\\"}\"}}]}, {\"role\": \"tool\", \"tool_call_id\": \"call_1\", \"content\": \"%d\"}, {\"role\": \"assistant\", \"content\": \"%s = %d.\"}], \"q\": \"%s\", \"e\": \"%s\", \"r\": %d}\n", tool, q, e, r, e, r, q, e, r
    }
  }'
}
conversations "$N" 1 > "$WORK/train.jsonl"
conversations "$TEST" 2 > "$WORK/test.jsonl"
[ -f "$WORK/tuned/config.json" ] || "$L" finetune --model "$MODEL" --data "$WORK/train.jsonl" --method full --steps "$STEPS" \
  --batch 16 --lr 1e-3 --seq 384 --threads "$THREADS" --out "$WORK/tuned" > "$WORK/finetune.log" 2>&1   # kept: WORK=DIR reruns the questions only
mkdir -p "$WORK/box"
right=0; called=0; exact=0; total=0
while IFS= read -r line; do
  q=$(sed 's/.*"q": "\([^"]*\)".*/\1/' <<<"$line"); r=$(sed 's/.*"r": \(-\{0,1\}[0-9]*\)}$/\1/' <<<"$line")
  e=$(sed 's/.*"e": "\([^"]*\)".*/\1/' <<<"$line")
  total=$((total + 1)); rm -f "$WORK/audit.jsonl"
  a=$("$L" agent --model "$WORK/tuned" --mcp "$L agent sandbox-server --root $WORK/box" --tools calculate --max-steps 3 \
      --max-tokens 128 --yes --threads "$THREADS" --audit "$WORK/audit.jsonl" "$q" 2>/dev/null || true)
  ok=$(grep -c '"event":"tool".*"name":"calculate".*"outcome":"ok"' "$WORK/audit.jsonl" || true)
  [ "$ok" -gt 0 ] && called=$((called + 1))
  grep -qF "\"arguments\":{\"expression\":\"$e\"}" "$WORK/audit.jsonl" && exact=$((exact + 1))
  if [ "$ok" -gt 0 ] && grep -q -- "= $r\.\?\$\|= $r\b" <<<"$a"; then right=$((right + 1)); fi
  printf '    %s -> %s (calls ok: %s)\n' "$q" "$a" "$ok" >&2
done < "$WORK/test.jsonl"
echo "| model | held-out questions | a checked calculate call ran | its expression was the question's | answered right through it |"
echo "| --- | ---: | ---: | ---: | ---: |"
echo "| quickstart model fine-tuned ($STEPS steps on $N conversations) | $total | $called | $exact | $right |"
