"""Extra parity cases for the decoder: sizes, seeds and settings the shared vectors do not cover.

Uses the reference model in make_vectors.py (next to this file; float64, checked against Hugging
Face transformers) and writes NAME.json + NAME.safetensors per case, plus a README.md listing them.

Needs torch. Usage: python3 make_extra_vectors.py [OUTDIR] [CASE ...]
(default OUTDIR: ../resources/testvectors-extra next to this file)
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_vectors as mv  # noqa: E402

GPT2 = dict(norm="layernorm", position="learned", activation="gelu", bias=True, tie_word_embeddings=True,
            intermediate_size=128)

# name: (config overrides of make_vectors.BASE, make() arguments, what it pins)
EXTRA = {
    "mqa_rope_gelu_bias": (
        dict(num_key_value_heads=1, activation="gelu", bias=True, intermediate_size=64),
        dict(seed=11),
        "multi-query attention (4 query heads share 1 KV head) with RoPE, a GELU MLP and biases, RMSNorm"),
    "gpt2_post": (
        dict(GPT2, norm_placement="post"),
        dict(seed=12),
        "GPT-2 style (LayerNorm with bias, learned positions, GELU, tied) with Post-LN in every layer"),
    "mix6_lns": (
        dict(norm_placement="mix", mix_alpha=0.5, num_hidden_layers=6, layernorm_scaling=True),
        dict(seed=13),
        "Mix-LN alpha 0.5 on 6 layers (0-2 Post-LN, 3-5 Pre-LN) with LayerNorm Scaling on the Pre-LN layers"),
    "swa3_gqa6": (
        dict(hidden_size=48, num_attention_heads=6, num_key_value_heads=3, sliding_window=3),
        dict(seed=14),
        "sliding window 3 with grouped-query attention, 6 query / 3 KV heads, d=48 (head dim 8)"),
    "odd_ff37_b3t13": (
        dict(intermediate_size=37, vocab_size=53, tie_word_embeddings=True),
        dict(seed=15, B=3, T=13),
        "odd sizes: intermediate 37, vocab 53, batch 3 of 13 tokens, tied embeddings"),
    "layernorm_rope_swiglu": (
        dict(norm="layernorm"),
        dict(seed=16),
        "LayerNorm (with bias) + RoPE + SwiGLU, untied head"),
    "theta500k_eps1e6": (
        dict(rope_theta=500000.0, norm_eps=1e-6, num_key_value_heads=2),
        dict(seed=17, B=1, T=30),
        "rope_theta 500000 and norm_eps 1e-6 (Llama 3 settings), GQA 4/2, one sequence of 30 tokens"),
    "post_lns": (
        dict(norm_placement="post", layernorm_scaling=True),
        dict(seed=18),
        "Post-LN with layernorm_scaling=true: the scaling applies to Pre-LN layers only, so it has no effect"),
    "gpt2_lns_swa_untied": (
        dict(GPT2, tie_word_embeddings=False, layernorm_scaling=True, sliding_window=4, vocab_size=101,
             intermediate_size=100, num_hidden_layers=3),
        dict(seed=19, B=2, T=20),
        "GPT-2 style Pre-LN with LayerNorm Scaling, sliding window 4, untied head, vocab 101, 3 layers"),
}


def main():
    args = sys.argv[1:]
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = args.pop(0) if args else os.path.join(here, "..", "resources", "testvectors-extra")
    which = args or list(EXTRA)
    for name in which:
        over, kw, _ = EXTRA[name]
        print(name, mv.make(outdir, name, over, **kw))
    with open(os.path.join(outdir, "README.md"), "w") as f:
        f.write("# Extra parity test vectors\n\n"
                "Made by `lamina-core/src/test/python/make_extra_vectors.py` with the reference model of\n"
                "`make_vectors.py` (float64, stored as float32); same file layout and tolerances as `../testvectors`.\n\n"
                "| case | B x T | seed | what it pins |\n| --- | --- | --- | --- |\n")
        for name, (over, kw, what) in EXTRA.items():
            f.write(f"| `{name}` | {kw.get('B', 2)} x {kw.get('T', 16)} | {kw['seed']} | {what} |\n")


if __name__ == "__main__":
    main()
