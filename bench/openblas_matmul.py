"""OpenBLAS float32 GFLOP/s (through Debian's numpy) on the shapes and layouts of MatmulBench,
measured like the JMH run: 2 warm-up and 3 measured windows of 1 s, mean of the measured ones.

Shapes are MxNxK of C[M,N] = A[M,K]·B[K,N]; layouts as Lamina stores the operands:
  nt: x[M,K] @ w[N,K].T    nn: dy[M,K] @ w[K,N]    tn: dy[K,M].T @ x[K,N]
Usage (Debian python with python3-numpy and libopenblas0-pthread installed):
  OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/openblas_matmul.py [layout ...]   (then again with 2)
SHAPES=2048x384x384,256x3072x768 limits the run to those shapes.
"""
import os, sys, time
import numpy as np

SHAPES = ["2048x384x384", "2048x1024x384", "2048x384x1024", "2048x8192x384", "256x768x768", "256x3072x768",
          "1x4096x4096", "1024x768x768", "1024x2048x768", "384x384x2048", "1024x384x2048", "8192x384x2048",
          "768x768x1024"]
if os.environ.get("SHAPES"):
    SHAPES = os.environ["SHAPES"].split(",")
    bad = [s for s in SHAPES if len(s.split("x")) != 3 or not all(p.isdigit() and int(p) > 0 for p in s.split("x"))]
    if bad:
        sys.exit(f"SHAPES: {', '.join(bad)} is not MxNxK with positive integers (e.g. SHAPES=2048x384x384,256x3072x768)")
layouts = sys.argv[1:] or ["nt", "nn", "tn"]
if any(l not in ("nt", "nn", "tn") for l in layouts):
    sys.exit(f"layouts must be nt, nn or tn, got {' '.join(layouts)}")
rng = np.random.default_rng(0)

def window(f, seconds=1.0):
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        f(); n += 1
    return (time.perf_counter() - t0) / n

for layout in layouts:
    for shape in SHAPES:
        M, N, K = map(int, shape.split("x"))
        r = lambda *s: rng.standard_normal(s, dtype=np.float32)
        if layout == "nt":
            a, b = r(M, K), r(N, K); f = lambda: a @ b.T
        elif layout == "nn":
            a, b = r(M, K), r(K, N); f = lambda: a @ b
        else:
            a, b = r(K, M), r(K, N); f = lambda: a.T @ b
        for _ in range(2): window(f)
        secs = [window(f) for _ in range(3)]
        gflops = [2 * M * N * K / s / 1e9 for s in secs]
        print(f"{layout} {shape}: {sum(gflops) / len(gflops):.1f} GFLOP/s", flush=True)
