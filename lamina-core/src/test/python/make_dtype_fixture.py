"""A safetensors file written by the official `safetensors` library, one tensor per dtype, so that the
Java reader is checked against an independent writer and against torch's own float16/bfloat16
rounding (round to nearest even).

Needs torch and safetensors. Usage: python3 make_dtype_fixture.py [OUT]
(default OUT: ../resources/safetensors/dtypes.safetensors next to this file)
"""
import os
import sys

import torch
from safetensors.torch import save_file


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "resources", "safetensors", "dtypes.safetensors")
    g = torch.Generator().manual_seed(7)
    edge = torch.tensor([0.0, -0.0, 1.0, -1.0, 1 / 3, 65504.0, 65519.0, 65520.0, 1e-8, 6e-5, 5.96e-8, 3e38,
                         1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8, 1.0 + 2 ** -11, 1.0 + 3 * 2 ** -11,  # ties for bf16 and f16
                         float("inf"), float("-inf")], dtype=torch.float32)
    src = torch.cat([edge, torch.randn(6, 7, generator=g).flatten() * 3, torch.randn(12, generator=g) * 1e-3])
    src = src.reshape(2, 3, -1)  # [2, 3, 12]
    t = {
        "src_f32": src,
        "f16": src.half(),
        "f16_as_f32": src.half().float(),
        "bf16": src.bfloat16(),
        "bf16_as_f32": src.bfloat16().float(),
        "f64": src.double() * (1 + 2 ** -40),
        "i64": torch.tensor([[0, 1, -1], [2 ** 31 - 1, -2 ** 31, 12345]], dtype=torch.int64),
        "i64_big": torch.tensor([2 ** 40], dtype=torch.int64),
        "i32": torch.arange(-5, 7, dtype=torch.int32).reshape(3, 4),
        "i8": torch.tensor([-128, -1, 0, 127], dtype=torch.int8),
        "u8": torch.tensor([0, 1, 200, 255], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True], dtype=torch.bool),
        "scalar": torch.tensor(2.5, dtype=torch.float32),
        "empty": torch.zeros(0, 4, dtype=torch.float32),
    }
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    save_file(t, out, metadata={"format": "pt", "made_by": "make_dtype_fixture.py"})
    print(out, os.path.getsize(out))


if __name__ == "__main__":
    main()
