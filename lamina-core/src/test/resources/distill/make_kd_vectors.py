"""Knowledge-distillation loss vectors for Lamina's fused head (Ops.linearDistill), made with PyTorch.

loss = alpha * tau^2 * KL(softmax(t / tau) || softmax(z / tau)) + (1 - alpha) * CE(z, target),
z = x @ w.T the student's logits, t the teacher's; both terms are means over the positions whose
target counts (target -100 is ignored, as Hugging Face's ignore_index). Writes kd.json: for each
case the inputs (x [n, d], w [V, d], teacher [n, V], targets, alpha, tau) and the loss and the
gradients of x and w. Cases with "k" keep only the teacher's top-k logits a position (TeacherCache):
the KL is then over k + 1 outcomes, the k tokens and the rest of the mass,
sum_k p_k log(p_k / q_k) + p_tail log(p_tail / q_tail).

    python make_kd_vectors.py   (torch; run from this directory)
"""
import json
import torch
import torch.nn.functional as F

torch.manual_seed(0)
n, d, V = 7, 5, 11
cases = []
for alpha, tau, k in [(0.5, 2.0, 0), (1.0, 1.0, 0), (0.0, 3.0, 0), (0.7, 0.5, 0), (0.6, 2.0, 3), (1.0, 1.0, 1), (0.8, 1.5, 11)]:
    x = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
    w = torch.randn(V, d, dtype=torch.float64, requires_grad=True)
    t = torch.randn(n, V, dtype=torch.float64) * 2
    targets = torch.randint(0, V, (n,))
    targets[3] = -100
    z = x @ w.T
    keep = targets != -100
    ce = F.cross_entropy(z, targets, ignore_index=-100)
    log_ps = F.log_softmax(z / tau, -1)
    pt = F.softmax(t / tau, -1)
    if k == 0:
        kl_rows = (pt * (torch.log(pt) - log_ps)).sum(-1)
    else:                                       # the top k and one bucket for the rest
        top = torch.topk(t, k, -1).indices
        p_k, log_q_k = pt.gather(-1, top), log_ps.gather(-1, top)
        p_tail = (1 - p_k.sum(-1)).clamp_min(0)
        q_tail = (1 - log_q_k.exp().sum(-1)).clamp_min(1e-30)
        tail = torch.where(p_tail > 0, p_tail * (torch.log(p_tail.clamp_min(1e-300)) - torch.log(q_tail)), torch.zeros_like(p_tail))
        kl_rows = (p_k * (torch.log(p_k) - log_q_k)).sum(-1) + tail
    kl = kl_rows[keep].mean()
    loss = alpha * tau * tau * kl + (1 - alpha) * ce
    loss.backward()
    cases.append(dict(n=n, d=d, V=V, alpha=alpha, tau=tau, k=k, x=x.detach().flatten().tolist(), w=w.detach().flatten().tolist(),
                      teacher=t.flatten().tolist(), targets=targets.tolist(), loss=loss.item(), kl=kl.item(), ce=ce.item(),
                      dx=x.grad.flatten().tolist(), dw=w.grad.flatten().tolist()))
with open("kd.json", "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f)
