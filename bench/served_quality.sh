#!/usr/bin/env bash
# A quantized GGUF file's quality as served (the KV-cache decode path, the file's blocks kept) beside
# its float32 reference: perplexity, mean KL and top-token agreement over disjoint 256-token windows.
# (`lamina eval --reference` scores on the tape: dequantized weights and float inputs; this runs the serving kernels.)
#   bench/served_quality.sh REFERENCE.gguf QUANTIZED.gguf DATA [WINDOWS]   DATA: a prepared data directory (its val.bin)
# Env: THREADS (2), LAMINA_JAVA_OPTS (e.g. -XX:UseAVX=2).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { echo "usage: bench/served_quality.sh REFERENCE.gguf QUANTIZED.gguf DATA [WINDOWS]" >&2; exit 2; }
[ -f "$3/val.bin" ] || { echo "served_quality: $3/val.bin not found; give a directory made by lamina prepare" >&2; exit 2; }
if [ -z "${LAMINA_JAVA_HOME:-}" ]; then
  for d in "${JAVA_HOME:-}" /usr/lib/jvm/*25*; do [ -n "$d" ] && [ -x "$d/bin/java" ] && "$d/bin/java" -version 2>&1 | grep -q 'version "25' && { LAMINA_JAVA_HOME=$d; break; }; done
fi
JAVA_HOME=${LAMINA_JAVA_HOME:?no JDK 25 found: set LAMINA_JAVA_HOME}
mvn -q -B -pl lamina-bench -am package -DskipTests
"$JAVA_HOME/bin/java" --add-modules jdk.incubator.vector ${LAMINA_JAVA_OPTS:-} \
  -cp "lamina-bench/target/lamina-bench-0.1.0-SNAPSHOT.jar:lamina-bench/target/lib/*" \
  dev.lamina.bench.ServedQuality "$1" "$2" "$3/val.bin" "${4:-100}" "${THREADS:-2}" 2>/dev/null
