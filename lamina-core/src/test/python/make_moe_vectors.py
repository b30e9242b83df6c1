"""Parity test vectors for sparse (mixture-of-experts) layers, made with transformers' MixtralForCausalLM.

Each case is NAME.json (Lamina's model config) + NAME.safetensors in the layout of make_vectors.py
(param.* and grad.* under Lamina's canonical names, input_ids, target_ids, logits, loss), computed in
float64 from float32-representable weights. The loss is what Lamina trains on:

    mean cross-entropy + router_aux_loss_coef * transformers' load_balancing_loss_func(router logits)
                       + router_z_loss_coef * mean over every sparse layer's rows of logsumexp(router logits)^2

so every gradient, the router's included, carries the load-balancing and z-loss terms.

    /tmp/lamina-py/bin/python lamina-core/src/test/python/make_moe_vectors.py [OUTDIR]

    moe_mixtral_top2   Mixtral: every layer sparse, 4 experts, top 2 (renormalised), 2 layers, GQA 4/2
    moe_every2_top1    Switch-style top 1 in layers 1 and 3 of 4 (moe_every 2: layers 0 and 2 keep a dense
                       SwiGLU MLP, swapped into the Mixtral model); with k = 1 the renormalised weight is 1, so
                       the routers learn from the auxiliary and z losses alone
    moe_qwen2_shared   transformers' Qwen2MoeForCausalLM: sparse layers 1 and 3 of 4 (decoder_sparse_step 2; the dense
                       ones intermediate 40), 4 experts of width 16, top 2 not renormalised (norm_topk_prob false), a
                       shared expert of width 24 weighted by sigmoid(x·g)
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_vectors import write_safetensors  # noqa: E402


class DenseMlp(torch.nn.Module):
    """A SwiGLU MLP (Llama's) standing in for a Mixtral layer's sparse block."""

    def __init__(self, d, ff):
        super().__init__()
        self.gate_proj = torch.nn.Linear(d, ff, bias=False)
        self.up_proj = torch.nn.Linear(d, ff, bias=False)
        self.down_proj = torch.nn.Linear(ff, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


def canonical(model, moe_every):
    """Lamina's name -> the transformers tensor (or a view of its 3-d expert stacks)."""
    cfg = model.config
    E, ff = cfg.num_local_experts, cfg.intermediate_size
    out = {"embed_tokens.weight": model.model.embed_tokens.weight, "norm.weight": model.model.norm.weight,
           "lm_head.weight": model.lm_head.weight}
    for l, layer in enumerate(model.model.layers):
        p = f"layers.{l}."
        out[p + "input_layernorm.weight"] = layer.input_layernorm.weight
        out[p + "post_attention_layernorm.weight"] = layer.post_attention_layernorm.weight
        for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
            out[p + "self_attn." + n + ".weight"] = getattr(layer.self_attn, n).weight
        if (l + 1) % moe_every == 0:
            out[p + "mlp.gate.weight"] = layer.mlp.gate.weight
            gate_up, down = layer.mlp.experts.gate_up_proj, layer.mlp.experts.down_proj
            for e in range(E):
                out[p + f"mlp.experts.{e}.gate_proj.weight"] = (gate_up, e, slice(0, ff))
                out[p + f"mlp.experts.{e}.up_proj.weight"] = (gate_up, e, slice(ff, 2 * ff))
                out[p + f"mlp.experts.{e}.down_proj.weight"] = (down, e, None)
        else:
            for n in ("gate_proj", "up_proj", "down_proj"):
                out[p + "mlp." + n + ".weight"] = getattr(layer.mlp, n).weight
    return out


def pick(t):
    if isinstance(t, tuple):
        base, e, rows = t
        return base[e] if rows is None else base[e, rows]
    return t


def make(outdir, name, seed, layers, experts, top_k, moe_every, aux, zc, B=2, T=12):
    from transformers import MixtralConfig, MixtralForCausalLM
    from transformers.models.mixtral.modeling_mixtral import load_balancing_loss_func
    torch.manual_seed(seed)
    d, ff, V = 32, 24, 67
    cfg = MixtralConfig(vocab_size=V, hidden_size=d, intermediate_size=ff, num_hidden_layers=layers, num_attention_heads=4,
                        num_key_value_heads=2, max_position_embeddings=32, rms_norm_eps=1e-5, rope_theta=10000.0,
                        num_local_experts=experts, num_experts_per_tok=top_k, router_aux_loss_coef=aux,
                        output_router_logits=True, tie_word_embeddings=False, sliding_window=None, attn_implementation="eager", experts_implementation="eager")
    m = MixtralForCausalLM(cfg)
    for l, layer in enumerate(m.model.layers):
        if (l + 1) % moe_every != 0:
            layer.mlp = DenseMlp(d, ff)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name_, p in m.named_parameters():
            if name_.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name_.endswith("mlp.gate.weight"):
                p.copy_(0.3 * torch.randn(p.shape, generator=g))          # routers with clear preferences
            else:
                p.copy_(0.08 * torch.randn(p.shape, generator=g))
            p.copy_(p.float())                                            # representable in float32
    m = m.double().train()
    ids = torch.randint(0, V, (B, T + 1), generator=g)
    inp, tgt = ids[:, :-1], ids[:, 1:]
    out = m(input_ids=inp, output_router_logits=True)
    logits = out.logits
    ce = F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1))
    routers = out.router_logits
    assert len(routers) == layers // moe_every, len(routers)
    balance = load_balancing_loss_func(routers, experts, top_k)
    z = torch.cat([torch.logsumexp(r, dim=-1) ** 2 for r in routers]).mean()
    loss = ce + aux * balance + zc * z
    loss.backward()
    tensors = {"input_ids": inp.to(torch.int32), "target_ids": tgt.to(torch.int32),
               "logits": logits.detach().float().reshape(B, T, V), "loss": loss.detach().float().reshape(1)}
    for n, t in canonical(m, moe_every).items():
        base = t[0] if isinstance(t, tuple) else t
        tensors["param." + n] = pick(t).detach().float().contiguous()
        grad = base.grad
        tensors["grad." + n] = (pick((grad,) + t[1:]) if isinstance(t, tuple) else grad).detach().float().contiguous()
    config = dict(vocab_size=V, hidden_size=d, num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                  intermediate_size=ff, max_position_embeddings=32, norm="rmsnorm", norm_eps=1e-5, norm_placement="pre",
                  position="rope", rope_theta=10000.0, activation="swiglu", bias=False, tie_word_embeddings=False,
                  sliding_window=None, num_experts=experts, experts_per_token=top_k, moe_every=moe_every,
                  router_aux_loss_coef=aux, router_z_loss_coef=zc)
    os.makedirs(outdir, exist_ok=True)
    write_safetensors(os.path.join(outdir, name + ".safetensors"), tensors)
    with open(os.path.join(outdir, name + ".json"), "w") as f:
        json.dump(config, f, indent=2)
    print(name, "loss", float(loss), "ce", float(ce), "aux", float(balance), "z", float(z))


def qwen2_moe(outdir, name, seed, aux, zc, B=2, T=12):
    from transformers import Qwen2MoeConfig, Qwen2MoeForCausalLM
    from transformers.models.mixtral.modeling_mixtral import load_balancing_loss_func
    torch.manual_seed(seed)
    d, V, L, E, k, ffe, ffs, ff = 32, 67, 4, 4, 2, 16, 24, 40
    cfg = Qwen2MoeConfig(vocab_size=V, hidden_size=d, intermediate_size=ff, num_hidden_layers=L, num_attention_heads=4,
                         num_key_value_heads=2, max_position_embeddings=32, rms_norm_eps=1e-5, rope_theta=10000.0,
                         num_experts=E, num_experts_per_tok=k, moe_intermediate_size=ffe, shared_expert_intermediate_size=ffs,
                         norm_topk_prob=False, decoder_sparse_step=2, mlp_only_layers=[], qkv_bias=False, router_aux_loss_coef=aux,
                         output_router_logits=True, tie_word_embeddings=False, use_sliding_window=False,
                         attn_implementation="eager", experts_implementation="eager")
    m = Qwen2MoeForCausalLM(cfg)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in m.named_parameters():
            if n.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif n.endswith("mlp.gate.weight") or n.endswith("shared_expert_gate.weight"):
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.08 * torch.randn(p.shape, generator=g))
            p.copy_(p.float())
    m = m.double().train()
    ids = torch.randint(0, V, (B, T + 1), generator=g)
    inp, tgt = ids[:, :-1], ids[:, 1:]
    out = m(input_ids=inp, output_router_logits=True)
    ce = F.cross_entropy(out.logits.reshape(-1, V), tgt.reshape(-1))
    routers = out.router_logits
    assert len(routers) == 2, len(routers)
    balance = load_balancing_loss_func(routers, E, k)
    z = torch.cat([torch.logsumexp(r, dim=-1) ** 2 for r in routers]).mean()
    loss = ce + aux * balance + zc * z
    loss.backward()
    tensors = {"input_ids": inp.to(torch.int32), "target_ids": tgt.to(torch.int32),
               "logits": out.logits.detach().float().reshape(B, T, V), "loss": loss.detach().float().reshape(1)}
    names = {"embed_tokens.weight": m.model.embed_tokens.weight, "norm.weight": m.model.norm.weight, "lm_head.weight": m.lm_head.weight}
    for l, layer in enumerate(m.model.layers):
        p = f"layers.{l}."
        names[p + "input_layernorm.weight"] = layer.input_layernorm.weight
        names[p + "post_attention_layernorm.weight"] = layer.post_attention_layernorm.weight
        for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
            names[p + "self_attn." + n + ".weight"] = getattr(layer.self_attn, n).weight
        if (l + 1) % 2 == 0:
            names[p + "mlp.gate.weight"] = layer.mlp.gate.weight
            gu, dn = layer.mlp.experts.gate_up_proj, layer.mlp.experts.down_proj
            for e in range(E):
                names[p + f"mlp.experts.{e}.gate_proj.weight"] = (gu, e, slice(0, ffe))
                names[p + f"mlp.experts.{e}.up_proj.weight"] = (gu, e, slice(ffe, 2 * ffe))
                names[p + f"mlp.experts.{e}.down_proj.weight"] = (dn, e, None)
            for n in ("gate_proj", "up_proj", "down_proj"):
                names[p + "mlp.shared_expert." + n + ".weight"] = getattr(layer.mlp.shared_expert, n).weight
            names[p + "mlp.shared_expert_gate.weight"] = layer.mlp.shared_expert_gate.weight
        else:
            for n in ("gate_proj", "up_proj", "down_proj"):
                names[p + "mlp." + n + ".weight"] = getattr(layer.mlp, n).weight
    for n, t in names.items():
        base = t[0] if isinstance(t, tuple) else t
        tensors["param." + n] = pick(t).detach().float().contiguous()
        tensors["grad." + n] = (pick((base.grad,) + t[1:]) if isinstance(t, tuple) else base.grad).detach().float().contiguous()
    config = dict(vocab_size=V, hidden_size=d, num_hidden_layers=L, num_attention_heads=4, num_key_value_heads=2,
                  intermediate_size=ff, max_position_embeddings=32, norm="rmsnorm", norm_eps=1e-5, norm_placement="pre",
                  position="rope", rope_theta=10000.0, activation="swiglu", bias=False, tie_word_embeddings=False,
                  sliding_window=None, num_experts=E, experts_per_token=k, moe_every=2, router_aux_loss_coef=aux,
                  router_z_loss_coef=zc, norm_topk_prob=False, moe_intermediate_size=ffe, shared_expert_intermediate_size=ffs)
    write_safetensors(os.path.join(outdir, name + ".safetensors"), tensors)
    with open(os.path.join(outdir, name + ".json"), "w") as f:
        json.dump(config, f, indent=2)
    print(name, "loss", float(loss), "ce", float(ce), "aux", float(balance), "z", float(z))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "resources", "testvectors-extra")
    make(outdir, "moe_mixtral_top2", seed=21, layers=2, experts=4, top_k=2, moe_every=1, aux=0.02, zc=0.001)
    make(outdir, "moe_every2_top1", seed=22, layers=4, experts=4, top_k=1, moe_every=2, aux=0.1, zc=0.01)
    qwen2_moe(outdir, "moe_qwen2_shared", seed=23, aux=0.05, zc=0.01)


if __name__ == "__main__":
    main()
