"""The NF4 fixture of Nf4WeightsTest: a random matrix quantized as bitsandbytes' quantize_4bit
(quant_type "nf4", blocksize 64, compress_statistics=True) stores it, written with torch alone
(bitsandbytes is not installable here), following bitsandbytes' functional.py and its CPU kernels:

  - blocks of 64 over the flattened matrix (the last may be partial); absmax per block; each value
    times 1/absmax, then the nearest of the 16 NF4 levels; two codes a byte, the first in the high nibble
  - double quantization: the absmax constants minus their mean, in blocks of 256, each block's
    absmax, each constant times its reciprocal, the nearest value of create_dynamic_map(signed=True)

    /tmp/lamina-py/bin/python lamina-core/src/test/python/make_nf4_fixture.py

Writes lamina-core/src/test/resources/qlora/nf4.safetensors: weight [130, 131] F32, codes U8,
absmax_codes U8, absmax2 F32, mean F32 [1], dynamic_map F32 [256].
"""
import os

import torch
from safetensors.torch import save_file

NF4 = torch.tensor([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
                    -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
                    0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                    0.7229568362236023, 1.0], dtype=torch.float32)


def create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8):
    data = []
    non_sign_bits = total_bits - 1
    for i in range(max_exponent_bits):
        fraction_items = int(2 ** (i + non_sign_bits - max_exponent_bits) + 1)
        boundaries = torch.linspace(0.1, 1, fraction_items)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += (10 ** (-(max_exponent_bits - 1) + i) * means).tolist()
        data += (-10 ** (-(max_exponent_bits - 1) + i) * means).tolist()
    data.append(0)
    data.append(1.0)
    data.sort()
    return torch.tensor(data, dtype=torch.float32)


def nearest(levels, v):
    """Index of the nearest level (ties to the lower), as a binary search over sorted levels."""
    idx = torch.searchsorted(levels, v, right=True).clamp(1, len(levels) - 1)
    lo, hi = idx - 1, idx
    return torch.where(v - levels[lo] <= levels[hi] - v, lo, hi)


def main():
    g = torch.Generator().manual_seed(7)
    w = torch.randn(130, 131, generator=g) * 0.05
    w[3, :] *= 20                                    # one row of large weights: blocks of very different absmax
    flat = w.flatten()
    n = flat.numel()
    blocks = (n + 63) // 64
    absmax = torch.zeros(blocks)
    codes = torch.zeros(n, dtype=torch.int64)
    for b in range(blocks):
        x = flat[b * 64:(b + 1) * 64]
        m = x.abs().max()
        absmax[b] = m
        inv = (torch.tensor(1.0) / m) if m > 0 else torch.tensor(0.0)
        codes[b * 64:(b + 1) * 64] = nearest(NF4, x * inv)
    padded = torch.cat([codes, torch.zeros(n % 2, dtype=torch.int64)])
    packed = (padded[0::2] << 4 | padded[1::2]).to(torch.uint8)
    dyn = create_dynamic_map()
    mean = absmax.mean()
    centred = absmax - mean
    absmax2 = torch.zeros((blocks + 255) // 256)
    qabs = torch.zeros(blocks, dtype=torch.int64)
    for c in range(len(absmax2)):
        x = centred[c * 256:(c + 1) * 256]
        m = x.abs().max()
        absmax2[c] = m
        qabs[c * 256:(c + 1) * 256] = nearest(dyn, x * (torch.tensor(1.0) / m))
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "qlora", "nf4.safetensors")
    save_file({"weight": w.contiguous(), "codes": packed, "absmax_codes": qabs.to(torch.uint8), "absmax2": absmax2,
               "mean": mean.reshape(1), "dynamic_map": dyn}, os.path.normpath(out))
    print(f"{n} weights, {blocks} blocks, {len(absmax2)} second-level blocks")


if __name__ == "__main__":
    main()
