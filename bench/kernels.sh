#!/usr/bin/env bash
# Builds lamina-bench and runs the kernel JMH benchmarks, short runs: 2 warm-up and 3 measured
# iterations of 1 s in one fork (the benchmarks' annotations; the same as -wi 2 -i 3 -f 1).
#
#   bench/kernels.sh                       matmul (vector: every shape, 1 and 2 threads; scalar: small
#                                          shapes), then attention, norms, loss and AdamW
#   bench/kernels.sh --lanes8 [ARGS...]    the same with -XX:MaxVectorSize=32 (8-lane vectors, still 32 registers)
#   bench/kernels.sh --isa avx2 [ARGS...]  the same with -XX:UseAVX=2 (AVX2: 8 lanes and 16 registers); the
#                                          OpenBLAS peer then takes OPENBLAS_CORETYPE=Haswell
#   bench/kernels.sh ARGS...               plain JMH arguments, e.g.
#                                          bench/kernels.sh MatmulBench -p layout=nt -p kernels=vector -p threads=1
#
# In the MatmulBench output, the ":gflop" rows are GFLOP/s. Other processes on the machine
# skew the figures: run it on an idle machine and compare with the OpenBLAS peer
# (bench/openblas_matmul.py) in the same session.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/isa.sh
if [ -z "${LAMINA_JAVA_HOME:-}" ]; then
  for d in "${JAVA_HOME:-}" /usr/lib/jvm/*25*; do [ -n "$d" ] && [ -x "$d/bin/java" ] && "$d/bin/java" -version 2>&1 | grep -q 'version "25' && { LAMINA_JAVA_HOME=$d; break; }; done
fi
JAVA_HOME=${LAMINA_JAVA_HOME:?no JDK 25 found: set LAMINA_JAVA_HOME}
export JAVA_HOME

JVM_ARGS="--add-modules jdk.incubator.vector ${LAMINA_JAVA_OPTS:-}"
if [[ "${1:-}" == "--lanes8" ]]; then JVM_ARGS="$JVM_ARGS -XX:MaxVectorSize=32"; shift; fi

# online the first time (JMH is not among the project's other dependencies), offline after
mvn -q -B -pl lamina-bench -am package -DskipTests
CP="lamina-bench/target/lamina-bench-0.1.0-SNAPSHOT.jar:lamina-bench/target/lib/*"

jmh() {
    "$JAVA_HOME/bin/java" $JVM_ARGS -cp "$CP" org.openjdk.jmh.Main -jvm "$JAVA_HOME/bin/java" \
        -jvmArgsAppend "$JVM_ARGS" "$@"
}

if [[ $# -gt 0 ]]; then jmh "$@"; exit; fi

jmh MatmulBench -p kernels=vector
# the peer in the same run: OpenBLAS through Debian's numpy (apt-get install python3-numpy libopenblas0-pthread)
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
  for t in 1 2; do echo "== OpenBLAS, $t thread(s)${OPENBLAS_CORETYPE:+, OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE}"
    OPENBLAS_NUM_THREADS=$t /usr/bin/python3 bench/openblas_matmul.py; done
else
  echo "== OpenBLAS peer skipped: no numpy for /usr/bin/python3 (apt-get install python3-numpy libopenblas0-pthread)"
fi
jmh MatmulBench -p kernels=scalar -p threads=1 -p shape=256x768x768,768x768x1024,1x4096x4096
jmh 'AttentionBench|NormBench|LossBench'
