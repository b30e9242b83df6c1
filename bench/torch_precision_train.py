"""Peer for 16-bit training: the shared PyTorch CPU training step (../shared/bench/torch_train.py's model)
under torch.autocast at bf16 or fp16 (fp16 with torch.amp.GradScaler), float32 parameters and AdamW,
as PyTorch users train in mixed precision. Prints the median step, tokens/s and the process's peak RSS.
    torch_precision_train.py PRESET STEPS fp32|bf16|fp16
"""
import os, resource, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench"))
import torch
from torch_train import GPT, CFGS

name, steps, precision = sys.argv[1], int(sys.argv[2]), sys.argv[3]
dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
c = CFGS[name]
torch.manual_seed(0); m = GPT(c); opt = torch.optim.AdamW(m.parameters(), lr=3e-4)
scaler = torch.amp.GradScaler("cpu") if precision == "fp16" else None
ids = torch.randint(0, c["V"], (c["B"], c["T"] + 1))
times = []
for i in range(steps + 2):
    t0 = time.perf_counter()
    with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
        loss = m(ids[:, :-1], ids[:, 1:])
    opt.zero_grad()
    if scaler is None:
        loss.backward(); opt.step()
    else:
        scaler.scale(loss).backward(); scaler.step(opt); scaler.update()
    times.append(time.perf_counter() - t0)
times = sorted(times[2:]); med = times[len(times) // 2]
print(f"{name} {precision} step_median={med*1000:.0f}ms tokens_per_s={c['B']*c['T']/med:.0f} "
      f"peak_rss_mb={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} loss={loss.item():.4f}")
