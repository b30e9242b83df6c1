#!/usr/bin/env bash
# Tokenizer benchmark: Lamina's BPE trainer and encoder against Hugging Face tokenizers, same
# corpus, settings and thread count, in one run. Figures go to docs/BENCHMARKS.md ("## Tokenizer").
#
# usage: bench/tokenizer.sh [CORPUS] [VOCAB] [MIN_FREQ] [THREADS]
#   defaults: /work/shared/data/brown/brown.txt 8192 2 2
# needs: JDK 25, Maven, and a Python with tokenizers (PYTHON, default /tmp/tokv/bin/python; see
# lamina-core/src/test/python/make_tokenizer_fixtures.py for the offline install).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CORPUS="${1:-/work/shared/data/brown/brown.txt}"
VOCAB="${2:-8192}"
MIN_FREQ="${3:-2}"
THREADS="${4:-2}"
PYTHON="${PYTHON:-/tmp/tokv/bin/python}"
OUT="$(mktemp -d /tmp/lamina-tokbench.XXXXXX)"
if [ -z "${JAVA_HOME:-}" ] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -q 'version "25'; then
  for d in /usr/lib/jvm/*25*; do [ -x "$d/bin/java" ] && export JAVA_HOME="$d" && break; done
fi

cd "$ROOT"
mvn -q -o -pl lamina-core test-compile dependency:build-classpath -Dmdep.outputFile="$OUT/cp.txt" >/dev/null
CP="lamina-core/target/classes:lamina-core/target/test-classes:$(cat "$OUT/cp.txt")"

echo "== $(date -u +%FT%TZ) $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg); corpus $CORPUS ($(stat -c %s "$CORPUS") bytes), vocab $VOCAB, min frequency $MIN_FREQ, $THREADS threads"
"$JAVA_HOME/bin/java" -Xmx2g -cp "$CP" dev.lamina.tokenizer.TokenizerBench \
  "$CORPUS" "$VOCAB" "$MIN_FREQ" "$THREADS" "$OUT" lamina-core/src/test/resources/gpt2
RAYON_NUM_THREADS="$THREADS" TOKENIZERS_PARALLELISM=true "$PYTHON" bench/tokenizer_hf.py "$CORPUS" "$VOCAB" "$MIN_FREQ" "$OUT"

echo "== trained vocabularies compared"
"$PYTHON" - "$OUT" <<'PY'
import json, sys
lam, hf = (json.load(open(f"{sys.argv[1]}/{n}/tokenizer.json", encoding="utf-8"))["model"] for n in ("lamina", "hf"))
ml = [m if isinstance(m, str) else " ".join(m) for m in lam["merges"]]
mh = [m if isinstance(m, str) else " ".join(m) for m in hf["merges"]]
first = next((i for i, (a, b) in enumerate(zip(ml, mh)) if a != b), None)
print(f"merges: lamina {len(ml)}, hf {len(mh)}, in both {len(set(ml) & set(mh))}, same order up to merge {first}; "
      f"same vocabulary strings: {set(lam['vocab']) == set(hf['vocab'])}")
PY

echo "== whole CLI run, JVM start-up included"
mvn -q -o -pl lamina-core,lamina-cli -am package -DskipTests >/dev/null
/usr/bin/time -o "$OUT/time.txt" -f "lamina tokenizer train (whole process): %e s wall, %M KB max RSS" "$JAVA_HOME/bin/java" -Dlamina.threads="$THREADS" \
  -cp "lamina-cli/target/lamina-cli-0.1.0-SNAPSHOT.jar:lamina-cli/target/lib/*" dev.lamina.cli.Main \
  tokenizer train --corpus "$CORPUS" --vocab-size "$VOCAB" --min-frequency "$MIN_FREQ" --out "$OUT/cli" 2>/dev/null
cat "$OUT/time.txt"
rm -rf "$OUT"
