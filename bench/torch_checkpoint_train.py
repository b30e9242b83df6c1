"""Peer for activation checkpointing: the shared PyTorch training benchmark (../shared/bench/torch_train.py,
same model, data and AdamW) with torch.utils.checkpoint around every N blocks, and the bytes of the
tensors autograd saves for backward, counted with saved_tensors_hooks (each storage once).
Usage: python torch_checkpoint_train.py PRESET STEPS [--layers L] [--checkpoint N]   (N 0: no checkpointing)"""
import argparse, importlib.util, os, time
import torch
from torch.utils.checkpoint import checkpoint

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("torch_train", os.environ.get("PEER", os.path.join(here, "..", "..", "shared", "bench", "torch_train.py")))
tt = importlib.util.module_from_spec(spec); spec.loader.exec_module(tt)

ap = argparse.ArgumentParser()
ap.add_argument("preset"); ap.add_argument("steps", type=int)
ap.add_argument("--layers", type=int); ap.add_argument("--checkpoint", type=int, default=0)
a = ap.parse_args()
c = dict(tt.CFGS[a.preset])
if a.layers: c["L"] = a.layers

class Checkpointed(tt.GPT):
    def forward(s, ids, tgt):
        x = s.emb(ids)
        if s.pos is not None: x = x + s.pos(torch.arange(ids.shape[1]))
        blocks, n = list(s.blocks), a.checkpoint
        if n == 0:
            for b in blocks: x = b(x, s.cos, s.sin, s.mask)
        else:
            def run(seg):
                def f(y):
                    for b in seg: y = b(y, s.cos, s.sin, s.mask)
                    return y
                return f
            for i in range(0, len(blocks), n): x = checkpoint(run(blocks[i:i + n]), x, use_reentrant=False)
        return torch.nn.functional.cross_entropy(s.head(s.nf(x)).view(-1, s.c["V"]), tgt.reshape(-1))

torch.manual_seed(0); m = Checkpointed(c); opt = torch.optim.AdamW(m.parameters(), lr=3e-4)
ids = torch.randint(0, c["V"], (c["B"], c["T"] + 1))
params = {p.untyped_storage().data_ptr() for p in m.parameters()}
seen, saved = set(), [0]
def pack(t):                                   # activations only: weights saved by the linear maps are not counted
    key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
    if key not in seen and key[0] not in params:
        seen.add(key); saved[0] += key[1]
    return t
with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):   # one forward, to count what is kept
    m(ids[:, :-1], ids[:, 1:])
times = []
for i in range(a.steps + 2):
    t0 = time.perf_counter(); loss = m(ids[:, :-1], ids[:, 1:]); opt.zero_grad(); loss.backward(); opt.step()
    times.append(time.perf_counter() - t0)
times = sorted(times[2:]); med = times[len(times) // 2]
print(f"{a.preset} layers={c['L']} checkpoint={a.checkpoint} saved_activation_mb={saved[0] / 1e6:.1f} "
      f"step_median={med * 1000:.0f}ms tokens_per_s={c['B'] * c['T'] / med:.0f}")
