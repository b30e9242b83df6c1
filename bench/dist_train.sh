#!/usr/bin/env bash
# Data-parallel training across separate JVMs against one worker: N `lamina train` processes joined
# by --peers on this machine, each one micro-batch of every step, against one process with
# --accum N and the same global batch. Prints the step time of each and whether losses and weights
# are bit for bit equal.
#
#   bench/dist_train.sh DATA_DIR [WORK_DIR] [N]      env: STEPS (20), PRESET (small), BATCH (8), SEQ (128), THREADS (1 per worker),
#                                                     BUCKET_MB (4: gradients summed in buckets during backward; 0: whole, after it),
#                                                     SHARD (1: --shard-optimizer, ZeRO-1)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="${1:?usage: bench/dist_train.sh DATA_DIR [WORK_DIR] [N]}"
WORK="${2:-$(mktemp -d /tmp/lamina-dist.XXXXXX)}"; N="${3:-2}"
STEPS="${STEPS:-20}"; PRESET="${PRESET:-small}"; BATCH="${BATCH:-8}"; SEQ="${SEQ:-128}"; THREADS="${THREADS:-1}"; BUCKET_MB="${BUCKET_MB:-4}"
RING_EXTRA=(); [ "${SHARD:-0}" = 1 ] && RING_EXTRA=(--shard-optimizer)
LAMINA="$ROOT/bin/lamina"
"$LAMINA" --version >/dev/null 2>&1 || true
rm -rf "$WORK/one" "$WORK/ring"; mkdir -p "$WORK"
COMMON=(--preset "$PRESET" --data "$DATA" --steps "$STEPS" --batch "$BATCH" --seq "$SEQ" --accum "$N" --eval-every "$STEPS" --threads "$THREADS")
t0=$(date +%s.%N)
"$LAMINA" train "${COMMON[@]}" --out "$WORK/one" > "$WORK/one.log" 2>&1
t1=$(date +%s.%N)
PEERS=$(python3 -c "import socket,sys
ps=[]
for _ in range(int(sys.argv[1])):
    s=socket.socket(); s.bind(('127.0.0.1',0)); ps.append(s)
print(','.join('127.0.0.1:%d' % s.getsockname()[1] for s in ps))" "$N")
pids=()
for r in $(seq 0 $((N - 1))); do
  "$LAMINA" train "${COMMON[@]}" --out "$WORK/ring" --peers "$PEERS" --rank "$r" --bucket-mb "$BUCKET_MB" "${RING_EXTRA[@]}" > "$WORK/ring-$r.log" 2>&1 &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
t2=$(date +%s.%N)
python3 - "$WORK" "$N" "$STEPS" "$t0" "$t1" "$t2" <<'PY'
import json, sys, filecmp
work, n, steps, t0, t1, t2 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), *map(float, sys.argv[4:])
def losses(run): return [json.loads(l)["loss"] for l in open(run + "/metrics.jsonl") if '"loss"' in l and '"step"' in l]
a, b = losses(work + "/one"), losses(work + "/ring")
same_w = filecmp.cmp(work + "/one/model.safetensors", work + "/ring/model.safetensors", shallow=False)
print(f"one worker, accum {n}:      {t1 - t0:6.1f} s for {steps} steps (process start included)")
print(f"{n} workers, one micro-batch each: {t2 - t1:6.1f} s")
ring = [json.loads(l) for l in open(work + "/ring/metrics.jsonl") if '"allreduce_ms"' in l]
ar, wait = [m["allreduce_ms"] for m in ring], [m.get("allreduce_wait_ms", m["allreduce_ms"]) for m in ring]
tps = lambda run: [json.loads(l)["tokens_per_s"] for l in open(run + "/metrics.jsonl") if '"tokens_per_s"' in l][steps // 2:]
med = lambda xs: sorted(xs)[len(xs) // 2]
print(f"second half of the run, median: one worker {med(tps(work + '/one')):.0f} tok/s; {n} workers {med(tps(work + '/ring')):.0f} tok/s; "
      f"all-reduce {med(ar[steps // 2:]):.1f} ms a step in {ring[-1].get('allreduce_buckets', 1)} bucket(s), "
      f"{med(wait[steps // 2:]):.1f} ms of it waited for after backward")
same_o = filecmp.cmp(work + "/one/optimizer.safetensors", work + "/ring/optimizer.safetensors", shallow=False)
print(f"losses equal bit for bit: {a == b} ({len(a)} steps; last {a[-1]!r} / {b[-1]!r}); model.safetensors identical: {same_w}; "
      f"optimizer.safetensors identical: {same_o}")
PY
