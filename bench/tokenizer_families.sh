#!/usr/bin/env bash
# Encode speed of each family-shaped tokenizer (lamina-core/src/test/resources/tokenizers/FAMILY):
# Lamina's PipelineTokenizer against Hugging Face tokenizers, one thread each, same corpus, one run.
#
# usage: bench/tokenizer_families.sh [CORPUS] [REPS]
#   defaults: lamina-core/src/test/resources/hf/brown-slice.txt 5
# needs: JDK 25, Maven, and a Python with tokenizers (PYTHON, default /tmp/lamina-py/bin/python).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CORPUS="${1:-$ROOT/lamina-core/src/test/resources/hf/brown-slice.txt}"
REPS="${2:-5}"
PYTHON="${PYTHON:-/tmp/lamina-py/bin/python}"
FAMILIES=(llama3 qwen2 llama2 mistral gemma unigram)
DIR="$ROOT/lamina-core/src/test/resources/tokenizers"
OUT="$(mktemp -d /tmp/lamina-famebench.XXXXXX)"
if [ -z "${JAVA_HOME:-}" ] || ! "$JAVA_HOME/bin/java" -version 2>&1 | grep -q 'version "25'; then
  for d in /usr/lib/jvm/*25*; do [ -x "$d/bin/java" ] && export JAVA_HOME="$d" && break; done
fi
cd "$ROOT"
mvn -q -o -pl lamina-core -am test-compile dependency:build-classpath -Dmdep.outputFile="$OUT/cp.txt" >/dev/null
CP="lamina-core/target/classes:lamina-core/target/test-classes:$(cat "$OUT/cp.txt")"
echo "== $(date -u +%FT%TZ) $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg); corpus $CORPUS ($(stat -c %s "$CORPUS") bytes), one thread"
"$JAVA_HOME/bin/java" -Dlamina.threads=1 -cp "$CP" dev.lamina.tokenizer.FamilyEncodeBench "$DIR" "$CORPUS" "$REPS" "${FAMILIES[@]}"
RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false "$PYTHON" bench/tokenizer_families_hf.py "$DIR" "$CORPUS" "$REPS" "${FAMILIES[@]}"
rm -rf "$OUT"
