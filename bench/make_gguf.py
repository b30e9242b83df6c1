#!/usr/bin/env python3
"""Write a Llama-architecture GGUF with random float32 weights, the shape of Lamina's `llama-m`
preset, for the llama.cpp peer of `lamina bench infer` (bench/infer.sh).

Shape: vocab 16384, hidden 768, 12 layers, 12 heads, 12 KV heads (head dim 64),
FFN 2048 (SwiGLU gate/up/down), RMSNorm eps 1e-5, RoPE theta 10000, ctx 256,
untied output head, no biases. All tensors F32. Weights ~ N(0, 0.02), norms 1.0.

With SHAPE tinyllama: TinyLlama-1.1B's shape (vocab 32000, hidden 2048, 22 layers, 32 heads, 4 KV heads, FFN 5632).
With SHAPE moe-s: Lamina's `moe-s` preset, Mixtral's layout: vocab 8192, hidden 384, 6 layers, 6 heads,
8 experts of FFN 1024 per layer, 2 per token (router ffn_gate_inp, experts stacked in ffn_*_exps).

Usage: python make_gguf.py OUT.gguf [llama-m|moe-s|tinyllama] [CTX]    (needs the gguf and numpy packages; CTX: the
context length, default 256; the weights are the same whatever it is)
"""
import sys

import numpy as np
import gguf

OUT = sys.argv[1]
SHAPE = sys.argv[2] if len(sys.argv) > 2 else "llama-m"

N_VOCAB = 16384
N_EMBD = 768
N_LAYER = 12
N_HEAD = 12
N_HEAD_KV = 12
HEAD_DIM = N_EMBD // N_HEAD  # 64
N_FF = 2048
RMS_EPS = 1e-5
ROPE_THETA = 10000.0
N_CTX = int(sys.argv[3]) if len(sys.argv) > 3 else 256
STD = 0.02
N_EXPERT, N_USED = 0, 0
if SHAPE == "moe-s":
    N_VOCAB, N_EMBD, N_LAYER, N_HEAD, N_HEAD_KV, N_FF, N_EXPERT, N_USED = 8192, 384, 6, 6, 6, 1024, 8, 2
    HEAD_DIM = N_EMBD // N_HEAD
elif SHAPE == "tinyllama":
    N_VOCAB, N_EMBD, N_LAYER, N_HEAD, N_HEAD_KV, N_FF = 32000, 2048, 22, 32, 4, 5632
    HEAD_DIM = N_EMBD // N_HEAD
elif SHAPE != "llama-m":
    sys.exit(f"SHAPE must be llama-m, moe-s or tinyllama, got {SHAPE}")

rng = np.random.default_rng(0)


def rnd(*shape):
    # numpy shape is the reverse of ggml's ne: (rows=out, cols=in)
    a = rng.standard_normal(size=shape, dtype=np.float32)
    a *= np.float32(STD)
    return a


def ones(n):
    return np.ones((n,), dtype=np.float32)


w = gguf.GGUFWriter(OUT, "llama")

# --- hyper-parameters ---
w.add_name(f"{SHAPE}-random-f32")
w.add_context_length(N_CTX)
w.add_embedding_length(N_EMBD)
w.add_block_count(N_LAYER)
w.add_feed_forward_length(N_FF)
w.add_head_count(N_HEAD)
w.add_head_count_kv(N_HEAD_KV)
w.add_rope_dimension_count(HEAD_DIM)
w.add_rope_freq_base(ROPE_THETA)
w.add_layer_norm_rms_eps(RMS_EPS)
w.add_vocab_size(N_VOCAB)
if N_EXPERT:
    w.add_expert_count(N_EXPERT)
    w.add_expert_used_count(N_USED)
w.add_file_type(gguf.LlamaFileType.ALL_F32)

# --- dummy SentencePiece ("llama") vocab ---
tokens, scores, types = [], [], []
tokens += ["<unk>", "<s>", "</s>"]
types += [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
for b in range(256):
    tokens.append(f"<0x{b:02X}>")
    types.append(gguf.TokenType.BYTE)
while len(tokens) < N_VOCAB:
    tokens.append(f"tok{len(tokens)}")
    types.append(gguf.TokenType.NORMAL)
scores = [0.0] * 3 + [0.0] * 256 + [-float(i) for i in range(N_VOCAB - 259)]
assert len(tokens) == len(scores) == len(types) == N_VOCAB

w.add_tokenizer_model("llama")
w.add_token_list(tokens)
w.add_token_scores(scores)
w.add_token_types([int(t) for t in types])
w.add_bos_token_id(1)
w.add_eos_token_id(2)
w.add_unk_token_id(0)
w.add_add_bos_token(True)
w.add_add_eos_token(False)

# --- tensors (all F32) ---
w.add_tensor("token_embd.weight", rnd(N_VOCAB, N_EMBD))
for i in range(N_LAYER):
    p = f"blk.{i}."
    w.add_tensor(p + "attn_norm.weight", ones(N_EMBD))
    w.add_tensor(p + "attn_q.weight", rnd(N_HEAD * HEAD_DIM, N_EMBD))
    w.add_tensor(p + "attn_k.weight", rnd(N_HEAD_KV * HEAD_DIM, N_EMBD))
    w.add_tensor(p + "attn_v.weight", rnd(N_HEAD_KV * HEAD_DIM, N_EMBD))
    w.add_tensor(p + "attn_output.weight", rnd(N_EMBD, N_HEAD * HEAD_DIM))
    w.add_tensor(p + "ffn_norm.weight", ones(N_EMBD))
    if N_EXPERT:
        w.add_tensor(p + "ffn_gate_inp.weight", rnd(N_EXPERT, N_EMBD))
        w.add_tensor(p + "ffn_gate_exps.weight", rnd(N_EXPERT, N_FF, N_EMBD))
        w.add_tensor(p + "ffn_up_exps.weight", rnd(N_EXPERT, N_FF, N_EMBD))
        w.add_tensor(p + "ffn_down_exps.weight", rnd(N_EXPERT, N_EMBD, N_FF))
    else:
        w.add_tensor(p + "ffn_gate.weight", rnd(N_FF, N_EMBD))
        w.add_tensor(p + "ffn_up.weight", rnd(N_FF, N_EMBD))
        w.add_tensor(p + "ffn_down.weight", rnd(N_EMBD, N_FF))
w.add_tensor("output_norm.weight", ones(N_EMBD))
w.add_tensor("output.weight", rnd(N_VOCAB, N_EMBD))

w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()

n_params = (2 * N_VOCAB * N_EMBD
            + N_LAYER * (2 * N_EMBD + 2 * N_EMBD * N_EMBD + 2 * N_EMBD * N_HEAD_KV * HEAD_DIM + 3 * N_EMBD * N_FF * max(1, N_EXPERT) + N_EXPERT * N_EMBD)
            + N_EMBD)
print(f"wrote {OUT}: {n_params} params ({n_params * 4 / 1e6:.1f} MB of f32 weights)")
