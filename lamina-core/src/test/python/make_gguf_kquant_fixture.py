"""Reference K-quant bytes from ggml's own C code, for Lamina's Q4_K, Q5_K and Q6_K quantizers.

gguf.quants does not quantize K-quants, so this script compiles ggml-quants.c from the llama.cpp
source (quantize_row_q4_K_ref, quantize_row_q5_K_ref, quantize_row_q6_K_ref: what llama-quantize
runs without an importance matrix) into a small shared library with -ffp-contract=off, so that
every float operation is rounded on its own as in Java, and writes gguf/kquants.gguf:
  "src"   float32 [8, 512]: random rows with edge cases (zero, tiny, huge, one-signed, repeated)
  "Q4_K", "Q5_K", "Q6_K"   the C functions' bytes for src
It also builds with -ffp-contract=fast -march=native (how a native llama.cpp build compiles, which
may fuse a·b + c into one rounding) and prints how many super-blocks differ from the strict build.
Recorded: 0 of 16 super-blocks differ for Q4_K and Q5_K, and 0 for Q6_K, on this machine's gcc (see the
printed line when regenerating).

Needs gcc, numpy, gguf and the llama.cpp source ($LAMINA_LLAMACPP, default /tmp/lamina-llamacpp/llama.cpp).
Usage: python make_gguf_kquant_fixture.py [OUT]   (default OUT: ../resources/gguf/kquants.gguf)
"""
import ctypes
import os
import subprocess
import sys
import tempfile

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

LLAMACPP = os.environ.get("LAMINA_LLAMACPP", "/tmp/lamina-llamacpp/llama.cpp")
STUBS = r"""
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>
void ggml_abort(const char * file, int line, const char * fmt, ...) { fprintf(stderr, "ggml_abort %s:%d\n", file, line); abort(); }
size_t ggml_row_size(int type, int64_t ne) { (void) type; (void) ne; abort(); }
const char * ggml_type_name(int type) { (void) type; return "?"; }
size_t ggml_type_size(int type) { (void) type; abort(); }
int64_t ggml_blck_size(int type) { (void) type; abort(); }
"""
FUNCS = {T.Q4_K: "quantize_row_q4_K_ref", T.Q5_K: "quantize_row_q5_K_ref", T.Q6_K: "quantize_row_q6_K_ref"}


def build(tmp, name, flags):
    ggml = os.path.join(LLAMACPP, "ggml")
    stubs = os.path.join(tmp, "stubs.c")
    with open(stubs, "w") as f:
        f.write(STUBS)
    lib = os.path.join(tmp, name + ".so")
    subprocess.run(["gcc", "-O2", *flags, "-fPIC", "-shared", "-I", os.path.join(ggml, "include"), "-I", os.path.join(ggml, "src"),
                    os.path.join(ggml, "src", "ggml-quants.c"), stubs, "-o", lib, "-lm"], check=True)
    return ctypes.CDLL(lib)


def quantize(lib, qtype, x):
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    out = np.zeros(x.size // block * size, dtype=np.uint8)
    fn = getattr(lib, FUNCS[qtype])
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
    src = np.ascontiguousarray(x, dtype=np.float32)
    fn(src.ctypes.data, out.ctypes.data, src.size)
    return out.reshape(x.shape[0], -1)


def source():
    rng = np.random.default_rng(2024)
    x = (rng.standard_normal((8, 512)) * 0.02).astype(np.float32)
    x[0, :256] = 0                                              # an all-zero super-block
    x[1, :256] *= 1e-5                                          # tiny values
    x[1, 256:] *= 1e4                                           # huge values
    x[2, :256] = np.abs(x[2, :256])                             # all positive
    x[3, :256] = -np.abs(x[3, :256])                            # all negative
    x[4, :32] = 0                                               # one zero sub-block among others
    x[5, 256:] = rng.integers(-4, 5, 256).astype(np.float32)    # a few repeated levels
    x[6, :] = x[6, :] + np.float32(0.05)                        # an offset (minimums matter)
    x[7, 100] = 1.0                                             # one outlier
    return x


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "resources", "gguf", "kquants.gguf")
    x = source()
    with tempfile.TemporaryDirectory() as tmp:
        strict = build(tmp, "strict", ["-ffp-contract=off"])
        native = build(tmp, "native", ["-ffp-contract=fast", "-march=native"])
        w = gguf.GGUFWriter(out, arch="lamina-fixture")
        w.add_string("fixture.made_by", "make_gguf_kquant_fixture.py")
        w.add_tensor("src", x)
        for qtype in FUNCS:
            a, b = quantize(strict, qtype, x), quantize(native, qtype, x)
            size = gguf.GGML_QUANT_SIZES[qtype][1]
            differ = int(np.any(a.reshape(-1, size) != b.reshape(-1, size), axis=1).sum())
            print(f"{qtype.name}: {differ} of {a.size // size} super-blocks differ between the strict and the native build")
            w.add_tensor(qtype.name, a, raw_dtype=qtype)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    print(out, os.path.getsize(out))


if __name__ == "__main__":
    main()
