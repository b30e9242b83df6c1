"""Peer for `lamina bench train --preset moe-s`: transformers' MixtralForCausalLM on the same shape
(llama-s with 8 SwiGLU experts per layer, top 2: vocabulary 8192, d 384, 6 layers, 6 heads, ff 1024 per
expert, batch 8 x 256), float32, AdamW lr 3e-4, the load-balancing loss at 0.01 as Lamina's preset; sdpa
attention, and each of transformers' expert implementations (grouped_mm, its default, and eager, a loop over
the experts hit): the faster is the figure.

    python bench/torch_moe_train.py moe-s [steps]
"""
import sys
import time

import torch

torch.set_num_threads(2)
CFGS = {"moe-s": dict(V=8192, d=384, L=6, H=6, ff=1024, E=8, k=2, T=256, B=8)}

def run(c, steps, experts):
    from transformers import MixtralConfig, MixtralForCausalLM
    torch.manual_seed(0)
    cfg = MixtralConfig(vocab_size=c["V"], hidden_size=c["d"], intermediate_size=c["ff"], num_hidden_layers=c["L"],
                        num_attention_heads=c["H"], num_key_value_heads=c["H"], max_position_embeddings=c["T"],
                        num_local_experts=c["E"], num_experts_per_tok=c["k"], router_aux_loss_coef=0.01,
                        output_router_logits=True, sliding_window=None, tie_word_embeddings=False, rope_theta=10000.0,
                        experts_implementation=experts)
    m = MixtralForCausalLM(cfg).float().train()
    opt = torch.optim.AdamW(m.parameters(), lr=3e-4)
    ids = torch.randint(0, c["V"], (c["B"], c["T"] + 1))
    inp, tgt = ids[:, :-1], ids[:, 1:]
    times = []
    for i in range(steps + 2):
        t0 = time.perf_counter()
        out = m(input_ids=inp, output_router_logits=True)
        loss = torch.nn.functional.cross_entropy(out.logits.reshape(-1, c["V"]), tgt.reshape(-1)) + 0.01 * out.aux_loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    times = sorted(times[2:])
    return sum(p.numel() for p in m.parameters()), m.config._attn_implementation, times[len(times) // 2]


if __name__ == "__main__":
    name = sys.argv[1]
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    c = CFGS[name]
    best = None
    for experts in ("grouped_mm", "eager"):            # transformers' default, then its per-expert loop: the faster counts
        n, attn, med = run(c, steps, experts)
        print(f"{name} params={n/1e6:.2f}M attention={attn} experts={experts} step_median={med*1000:.0f}ms tok/s {c['B']*c['T']/med:.0f}")
        best = med if best is None else min(best, med)
    print(f"{name} best tokens_per_s={c['B']*c['T']/best:.0f}")
