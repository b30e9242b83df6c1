#!/usr/bin/env bash
# Builds lamina-bench and runs the kernel JMH benchmarks, short runs: 2 warm-up and 3 measured
# iterations of 1 s in one fork (the benchmarks' annotations; the same as -wi 2 -i 3 -f 1).
#
#   bench/kernels.sh                       matmul (vector: every shape, 1 and 2 threads; scalar: small
#                                          shapes), then attention, norms, loss and AdamW
#   bench/kernels.sh --lanes8 [ARGS...]    the same with -XX:MaxVectorSize=32 (8-lane vectors)
#   bench/kernels.sh ARGS...               plain JMH arguments, e.g.
#                                          bench/kernels.sh MatmulBench -p layout=nt -p kernels=vector -p threads=1
#
# In the MatmulBench output, the ":gflop" rows are GFLOP/s. Other processes on the machine
# skew the figures: run it on an idle machine and compare with the OpenBLAS peer
# (bench/openblas_matmul.py) in the same session.
set -euo pipefail
cd "$(dirname "$0")/.."
JAVA_HOME=${LAMINA_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
export JAVA_HOME

JVM_ARGS="--add-modules jdk.incubator.vector"
if [[ "${1:-}" == "--lanes8" ]]; then JVM_ARGS="$JVM_ARGS -XX:MaxVectorSize=32"; shift; fi

mvn -q -o -pl lamina-bench -am package -DskipTests
CP="lamina-bench/target/lamina-bench-0.1.0-SNAPSHOT.jar:lamina-bench/target/lib/*"

jmh() {
    "$JAVA_HOME/bin/java" $JVM_ARGS -cp "$CP" org.openjdk.jmh.Main \
        -jvmArgsAppend "$JVM_ARGS" "$@"
}

if [[ $# -gt 0 ]]; then jmh "$@"; exit; fi

jmh MatmulBench -p kernels=vector
jmh MatmulBench -p kernels=scalar -p threads=1 -p shape=256x768x768,768x768x1024,1x4096x4096
jmh 'AttentionBench|NormBench|LossBench'
