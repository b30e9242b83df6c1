"""GGUF fixtures for the block formats, written with the gguf Python package (its GGUFWriter and
gguf.quants), so the Java reader, dequantizer and quantizer are checked against an independent
implementation.

quants.gguf holds, for every type T that Lamina dequantizes:
  "T"      the encoded tensor [rows, cols]: gguf.quants.quantize of random floats where gguf
           implements quantization of T, else random block bytes with finite scales
  "T.ref"  gguf.quants.dequantize of it, float32 [rows, cols]
and for the types gguf quantizes (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, F16, BF16) "src", the float32 input,
with edge cases (an all-zero block, ties, a negative extreme, tiny and large values).

Needs numpy and gguf. Usage: python make_gguf_quant_fixtures.py [OUT]
(default OUT: ../resources/gguf/quants.gguf next to this file)
"""
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import quantize, dequantize

QUANTIZED_BY_GGUF = [T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.F16, T.BF16]
RANDOM_BYTES = [T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K, T.IQ4_NL, T.IQ4_XS]
# byte offsets of the f16 scales in each block, set to finite values so that no NaN or inf appears
F16_FIELDS = {T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
              T.IQ4_NL: [0], T.IQ4_XS: [0]}


def source(rng):
    rows, cols = 4, 512
    x = (rng.standard_normal((rows, cols)) * 0.05).astype(np.float32)
    x[0, :32] = 0                                            # an all-zero block
    x[0, 32:64] = np.linspace(-1, 1, 32, dtype=np.float32)   # evenly spaced: many ties after scaling
    x[0, 64:96] = rng.integers(-8, 8, 32).astype(np.float32) * 0.25
    x[1, :32] *= 1e-4                                        # tiny values
    x[1, 32:64] *= 1e3                                       # large values
    x[1, 70] = -3.0                                          # a negative extreme
    x[2, 100] = x[2, 101] = 2.0                              # a repeated maximum
    x[2, 96:128] = np.abs(x[2, 96:128])                      # all positive
    x[3, :32] = -np.abs(x[3, :32])                           # all negative
    return x


def random_blocks(rng, qtype, rows, cols):
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, (rows, cols // block, size), dtype=np.uint8)
    for off in F16_FIELDS[qtype]:
        scale = (rng.standard_normal((rows, cols // block)) * 0.01).astype(np.float16)
        raw[:, :, off:off + 2] = scale.view(np.uint8).reshape(rows, cols // block, 2)
    return raw.reshape(rows, -1)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "resources", "gguf", "quants.gguf")
    rng = np.random.default_rng(18)
    src = source(rng)
    w = gguf.GGUFWriter(out, arch="lamina-fixture")
    w.add_string("fixture.made_by", "make_gguf_quant_fixtures.py")
    w.add_tensor("src", src)
    for qtype in QUANTIZED_BY_GGUF + RANDOM_BYTES:
        raw = quantize(src, qtype) if qtype in QUANTIZED_BY_GGUF else random_blocks(rng, qtype, 2, 512)
        ref = dequantize(raw, qtype).astype(np.float32)
        w.add_tensor(qtype.name, raw, raw_dtype=qtype)
        w.add_tensor(qtype.name + ".ref", ref)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(out, os.path.getsize(out))


if __name__ == "__main__":
    main()
