"""Quantization-aware training fixtures: fake quantization and LSQ in PyTorch (torch 2.x), written
from Esser et al., "Learned Step Size Quantization" (2020), as Lamina defines the grid (model/Qat.java).

    python lamina-core/src/test/python/make_qat_fixtures.py   (needs torch, transformers, safetensors)

Writes src/test/resources/qat/:
  ops.safetensors  for bits 2, 3, 4, 8 x group 32 and per channel x LSQ or static: a weight w [5, 64],
                   its steps (LSQ's initial ones), an upstream gradient dy, and what, dw, ds.
  CASE/hf/         a tiny random Llama (transformers format), and CASE/expected.safetensors: ids [B, T],
                   logits and loss of the model with every layer map fake-quantized, the initial steps
                   (under Lamina's names) and the gradient of every weight (HF names) and step.

The grid: symmetric, levels -Qn..Qp with Qn = 2^(b-1) (127 at 8 bits) and Qp = 2^(b-1) - 1; one step
per group of inputs of a row. LSQ: step initialised to 2 mean|w| / sqrt(Qp), its gradient scaled by
1/sqrt(N Qp), N the weights sharing it. Static QAT: step = the group's value of largest magnitude
(first among ties, sign kept) / -Qn. Either way the step is rounded to half precision in the forward
(straight through), held at least 2^-14, and round() is the straight-through estimator.
"""
import math, pathlib
import torch
from transformers import LlamaConfig, LlamaForCausalLM
from safetensors.torch import save_file

ROOT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "qat"
MAPS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def grid(bits):
    return (127 if bits == 8 else 2 ** (bits - 1)), 2 ** (bits - 1) - 1


def ste(value, like):
    """value in the forward, like's gradient in the backward."""
    return like + (value - like).detach()


class GradScale(torch.autograd.Function):
    """x in the forward (exactly), the gradient times scale in the backward."""
    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return g * ctx.scale, None


def init_steps(w, bits, group):
    qn, qp = grid(bits)
    g = w.shape[1] if group == 0 else group
    return (2 * w.detach().abs().reshape(w.shape[0], -1, g).mean(-1) / math.sqrt(qp)).contiguous()


def static_steps(w, bits, group):
    qn, qp = grid(bits)
    g = w.shape[1] if group == 0 else group
    wg = w.detach().reshape(w.shape[0], -1, g)
    idx = wg.abs().argmax(-1, keepdim=True)                 # first among ties
    return (wg.gather(-1, idx).squeeze(-1) / -qn)


def fake_quant(w, step, bits, group, lsq):
    qn, qp = grid(bits)
    out, inp = w.shape
    g = inp if group == 0 else group
    wg = w.reshape(out, -1, g)
    if not lsq:                                            # the step follows w, detached: dw = dy where w/s is on the span
        s = static_steps(w, bits, group).half().float()[..., None]
        v = torch.where(s == 0, torch.zeros_like(wg), wg.detach() / torch.where(s == 0, torch.ones_like(s), s))
        inside = (v >= -qn) & (v <= qp)
        y = (torch.round(v).clamp(-qn, qp) * s) + (wg - wg.detach()) * inside
        return y.reshape(out, inp)
    s = ste(step.clamp(min=2.0 ** -14), step)
    s = GradScale.apply(s, 1.0 / math.sqrt(g * qp))        # gradient scaled by 1/sqrt(N Qp)
    s = ste(s.half().float(), s)[..., None]                # held in half precision, as a GGUF block stores it
    v = wg / s
    v = v.clamp(-qn, qp)                                   # LSQ's clip, then round: dw = 0 and ds gets the level outside the span
    q = ste(torch.round(v), v)
    return (q * s).reshape(out, inp)


class QatLinear(torch.nn.Module):
    def __init__(self, lin, bits, group, lsq):
        super().__init__()
        self.weight = lin.weight
        self.bits, self.group, self.lsq = bits, group, lsq
        self.step = torch.nn.Parameter(init_steps(lin.weight, bits, group)) if lsq else None

    def forward(self, x):
        return torch.nn.functional.linear(x, fake_quant(self.weight, self.step, self.bits, self.group, self.lsq))


def ops():
    gen = torch.Generator().manual_seed(3)
    t = {}
    for bits in (2, 3, 4, 8):
        for group in (32, 0):
            for lsq in (True, False):
                key = f"b{bits}_g{group}_{'lsq' if lsq else 'static'}"
                w = torch.randn(5, 64, generator=gen) * 0.05
                w[1, 7] = 0.4                               # an outlier: clipped by LSQ's initial step
                w[3, 40:] = 0.0                             # a zero group (static: step 0)
                step = init_steps(w, bits, group)
                step[2] *= 0.5                              # a step that clips more
                w.requires_grad_(True)
                s = torch.nn.Parameter(step.clone())
                y = fake_quant(w, s if lsq else None, bits, group, lsq)
                dy = torch.randn(y.shape, generator=gen)
                y.backward(dy)
                t[key + ".w"] = w.detach().clone()
                t[key + ".step"] = step
                t[key + ".dy"] = dy
                t[key + ".what"] = y.detach().clone()
                t[key + ".dw"] = w.grad.clone()
                if lsq: t[key + ".ds"] = s.grad.clone()
    save_file(t, str(ROOT / "ops.safetensors"))
    print("ops", len(t), "tensors")


CASES = {"llama_4bit_g32_lsq": (4, 32, True), "llama_3bit_channel_static": (3, 0, False), "llama_2bit_g64_lsq": (2, 64, True)}


def model(name, bits, group, lsq):
    torch.manual_seed(1)
    cfg = LlamaConfig(vocab_size=97, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-5, rope_theta=10000.0,
                      tie_word_embeddings=False, attention_bias=False)
    m = LlamaForCausalLM(cfg).float()
    out = ROOT / name
    m.save_pretrained(out / "hf", safe_serialization=True)
    steps = {}
    for li, layer in enumerate(m.model.layers):
        for mod, names in ((layer.self_attn, MAPS[:4]), (layer.mlp, MAPS[4:])):
            for n in names:
                q = QatLinear(getattr(mod, n), bits, group, lsq)
                setattr(mod, n, q)
                if lsq: steps[f"layers.{li}.{'self_attn' if mod is layer.self_attn else 'mlp'}.{n}.weight_step"] = q.step
    ids = torch.randint(0, cfg.vocab_size, (2, 9), generator=torch.Generator().manual_seed(2))
    res = m(input_ids=ids, labels=ids)
    res.loss.backward()
    t = {"ids": ids.to(torch.int32), "logits": res.logits.detach().contiguous(), "loss": res.loss.detach().reshape(1)}
    for n, s in steps.items():
        t["init." + n] = s.detach().clone()
        t["grad." + n] = s.grad.detach().clone()
    for n, p in m.named_parameters():
        if p.grad is not None and not n.endswith(".step"):
            t["grad." + n] = p.grad.detach().contiguous()
    save_file(t, str(out / "expected.safetensors"))
    print(name, "loss", res.loss.item(), "tensors", len(t))


ROOT.mkdir(parents=True, exist_ok=True)
ops()
for name, (bits, group, lsq) in CASES.items():
    model(name, bits, group, lsq)
