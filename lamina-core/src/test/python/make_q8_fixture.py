"""Q8_0 reference for Q8WeightsTest: random weights and their quantization by the gguf package's
reference quantizer (gguf.quants.quantize, a port of ggml's quantize_row_q8_0_ref).

    python lamina-core/src/test/python/make_q8_fixture.py   (needs numpy and gguf)

Writes src/test/resources/quant/q8_0.json: shape, weights (float32 as hex bit patterns), and the
blocks as GGUF stores them (per block: float16 scale bits, then 32 signed bytes).
"""
import json, pathlib
import numpy as np
from gguf import GGMLQuantizationType, quants

rng = np.random.default_rng(8)
out_, in_ = 5, 96
w = (rng.standard_normal((out_, in_)) * rng.uniform(0.01, 3.0, (out_, 1))).astype(np.float32)
w[1, 32:64] = 0.0                      # an all-zero block: scale 0
w[2, 5] = 1e-3 * np.float32(2.5)       # values that round at halves
w[3, :32] = np.linspace(-127, 127, 32, dtype=np.float32) * 0.5
raw = quants.quantize(w, GGMLQuantizationType.Q8_0).reshape(out_, -1, 34)
scales = raw[:, :, :2].copy().view(np.uint16)[..., 0]
qs = raw[:, :, 2:].view(np.int8)
back = quants.dequantize(quants.quantize(w, GGMLQuantizationType.Q8_0), GGMLQuantizationType.Q8_0)
doc = {
    "shape": [out_, in_],
    "weights": [f"{int(b):08x}" for b in w.view(np.uint32).ravel()],
    "scales_f16": [int(s) for s in scales.ravel()],
    "q": [int(v) for v in qs.ravel()],
    "dequantized": [f"{int(b):08x}" for b in back.astype(np.float32).view(np.uint32).ravel()],
}
path = pathlib.Path(__file__).resolve().parents[1] / "resources" / "quant" / "q8_0.json"
path.write_text(json.dumps(doc) + "\n")
print("wrote", path)
