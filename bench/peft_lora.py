"""Peer of `lamina bench train --preset P --lora R`: a LoRA step of PyTorch + PEFT on the same shape.

    python bench/peft_lora.py PRESET [RANK] [STEPS]      PRESET in {llama-s, llama-m}

The model is transformers' LlamaForCausalLM with the benchmark preset's shape (random weights, float32,
untied head, no biases, SiLU-gated MLP, RoPE), the batch and sequence of the full-training peer
(../shared/bench/torch_train.py); PEFT's LoraConfig(r=RANK, lora_alpha=2*RANK, lora_dropout=0,
target_modules="all-linear"), AdamW (lr 3e-4, weight decay 0.01) over the adapter only, two threads.
Random token ids; two warm-up steps; prints the median step and tokens_per_s=N.
"""
import sys
import time

import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

torch.set_num_threads(2)
SHAPES = {
    "llama-s": dict(V=8192, d=384, L=6, H=6, ff=1024, T=256, B=8),
    "llama-m": dict(V=16384, d=768, L=12, H=12, ff=2048, T=256, B=4),
}


def main():
    name = sys.argv[1]
    rank = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    c = SHAPES[name]
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=c["V"], hidden_size=c["d"], num_hidden_layers=c["L"], num_attention_heads=c["H"],
                      num_key_value_heads=c["H"], intermediate_size=c["ff"], max_position_embeddings=c["T"],
                      rms_norm_eps=1e-5, tie_word_embeddings=False, attn_implementation="sdpa")
    model = get_peft_model(LlamaForCausalLM(cfg), LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0,
                                                             target_modules="all-linear"))
    model.train()
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=3e-4, weight_decay=0.01)
    ids = torch.randint(0, c["V"], (c["B"], c["T"] + 1))
    x, y = ids[:, :-1], ids[:, 1:]
    times = []
    for _ in range(steps + 2):
        t0 = time.perf_counter()
        logits = model(input_ids=x).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, c["V"]), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    timed = sorted(times[2:])
    median = timed[len(timed) // 2]
    print(f"{name} PEFT LoRA r={rank}: {sum(p.numel() for p in trainable):,} trainable parameters; "
          f"median step {1e3 * median:.1f} ms (min {1e3 * timed[0]:.1f}) over {steps} steps, torch {torch.__version__}")
    print(f"tokens_per_s={c['B'] * c['T'] / median:.0f}")


if __name__ == "__main__":
    main()
