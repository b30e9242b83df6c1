"""Tiny random transformers checkpoints of the architectures and RoPE scalings Lamina reads beyond
plain Llama/Mistral/GPT-2, with reference logits, for HfImportTest (same layout as make_hf_fixtures.py:
a save_pretrained directory plus reference.safetensors with input_ids [2, T] and logits [2, T, V]
computed in float64 with eager attention).

    /tmp/lamina-py/bin/python lamina-core/src/test/python/make_arch_fixtures.py

    qwen2             Qwen2ForCausalLM: q/k/v biases, no o bias; hidden 32, 2 layers, 4 heads, 2 kv heads, tied head
    qwen3             Qwen3ForCausalLM: RMSNorm over each q and k head before RoPE, head_dim 16 (attention 64 wide
                      on a hidden size of 32), 4 heads, 2 kv heads, untied
    gemma             GemmaForCausalLM: GeGLU (tanh GELU), RMSNorm times (1 + w), embeddings times sqrt(32), tied
                      head, head_dim 16 (attention 64 wide), 4 heads, 1 kv head
    gemma2            Gemma2ForCausalLM: gemma's parts plus sandwich norms, 3 layers (sliding window 4, global,
                      sliding), query_pre_attn_scalar 24 (not head_dim 16), attention scores soft-capped at 10 and
                      logits at 5 (both bite on these weights); also grads.safetensors: the float64 gradient
                      of every parameter for the mean next-token loss over the reference ids
    gemma3            Gemma3ForCausalLM (gemma3_text): Gemma 2's layers with q/k norms, 4 layers (window 4, window 4,
                      global, window 4), the global layer's RoPE base 1e6 with linear scaling 2, the windowed
                      layers' 10000 unscaled, query_pre_attn_scalar 24, no soft caps; grads.safetensors as gemma2
    phi3              Phi3ForCausalLM: fused qkv_proj and gate_up_proj, sliding_window 4 (T = 12), 4 heads, 2 kv heads
    phi3-longrope     Phi3ForCausalLM with longrope (Phi-3 128k, Phi-3.5): short and long factors per frequency,
                      original_max_position_embeddings 16 of 64 (attention factor sqrt(1 + ln 4 / ln 16)), no window
    mixtral           MixtralForCausalLM: every layer's MLP 4 SwiGLU experts (intermediate 48) behind a top-2 router,
                      GQA 4/2, no window; saved as transformers writes it (block_sparse_moe.experts.E.w1/w3/w2)
    mixtral-bf16      the same with other weights, sliding_window 4, saved in bfloat16 (the reference is computed
                      from the bfloat16 weights)
    qwen2-moe         Qwen2MoeForCausalLM: q/k/v biases, sparse layers 1 and 3 of 4 (decoder_sparse_step 2, dense
                      ones intermediate 40), 4 experts of width 16, top 2 unnormalised, a shared expert of width 24
    llama-rope-linear  Llama with rope_scaling linear, factor 2
    llama-rope-dynamic Llama with rope_scaling dynamic, factor 2 (plain RoPE within max_position_embeddings)
    llama-rope-llama3  Llama 3.1's scaling: factor 8, low 1, high 4, original_max_position_embeddings 16
                       (with head_dim 8, one frequency in each of the kept, smoothed and divided bands)
    llama-rope-yarn    YaRN: factor 4, original_max_position_embeddings 16 (attention factor 0.1 ln 4 + 1)
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_hf_fixtures import fresh, randomize, reference, save_reference  # noqa: E402


def greedy(m, path, seed):
    """transformers' greedy continuation (float32, up to 8 new tokens) of a 5-token prompt, into greedy.json."""
    g = torch.Generator().manual_seed(seed)
    prompt = torch.randint(3, 100, (1, 5), generator=g)
    m = m.float().eval()
    with torch.no_grad():
        out = m.generate(prompt, max_new_tokens=8, do_sample=False, attention_mask=torch.ones_like(prompt))
    with open(os.path.join(path, "greedy.json"), "w") as f:
        json.dump({"prompt": prompt[0].tolist(), "output": out[0, 5:].tolist()}, f)


def save_grads(m, ids, path):
    """grads.safetensors: loss (the mean cross-entropy of each next token) and every parameter's gradient, in float64."""
    from safetensors.torch import save_file
    m = m.double().train()
    m.zero_grad()
    logits = m(input_ids=ids).logits
    loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
    loss.backward()
    out = {"loss": loss.detach().float().reshape(1)}
    for name, p in m.named_parameters():
        out["grad." + name] = p.grad.float().contiguous()
    save_file(out, os.path.join(path, "grads.safetensors"))
    m.float().eval()


def llama(name, seed, rope_parameters):
    from transformers import LlamaConfig, LlamaForCausalLM
    path = fresh(name)
    cfg = LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-5,
                      rope_parameters=rope_parameters, tie_word_embeddings=False, attn_implementation="eager")
    m = LlamaForCausalLM(cfg)
    randomize(m, seed)
    m.save_pretrained(path)
    save_reference(path, *reference(m, 100, 12, seed + 10))
    greedy(m, path, 7)


def gemma2():
    from transformers import Gemma2Config, Gemma2ForCausalLM
    path = fresh("gemma2")
    cfg = Gemma2Config(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                       num_key_value_heads=2, head_dim=16, max_position_embeddings=64, rms_norm_eps=1e-6,
                       sliding_window=4, query_pre_attn_scalar=24, attn_logit_softcapping=10.0,
                       final_logit_softcapping=5.0, attn_implementation="eager")
    m = Gemma2ForCausalLM(cfg)
    randomize(m, 29)
    assert m.config.layer_types == ["sliding_attention", "full_attention", "sliding_attention"]
    m.save_pretrained(path)
    ids, logits = reference(m, 100, 12, 39)
    save_reference(path, ids, logits)
    save_grads(m, ids, path)
    greedy(m, path, 7)


def gemma3():
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig
    path = fresh("gemma3")
    cfg = Gemma3TextConfig(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=4, num_attention_heads=4,
                           num_key_value_heads=2, head_dim=16, max_position_embeddings=64, rms_norm_eps=1e-6,
                           sliding_window=4, query_pre_attn_scalar=24,
                           layer_types=["sliding_attention", "sliding_attention", "full_attention", "sliding_attention"],
                           rope_parameters={"full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1000000.0},
                                            "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}},
                           attn_implementation="eager")
    m = Gemma3ForCausalLM(cfg)
    randomize(m, 30)
    m.save_pretrained(path)
    ids, logits = reference(m, 100, 12, 40)
    save_reference(path, ids, logits)
    save_grads(m, ids, path)
    greedy(m, path, 7)


def mixtral():
    from transformers import MixtralConfig, MixtralForCausalLM
    for name, dtype, window, seed in (("mixtral", torch.float32, None, 32), ("mixtral-bf16", torch.bfloat16, 4, 33)):
        path = fresh(name)
        cfg = MixtralConfig(vocab_size=100, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                            num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-5, rope_theta=1000000.0,
                            num_local_experts=4, num_experts_per_tok=2, sliding_window=window, tie_word_embeddings=False,
                            attn_implementation="eager", experts_implementation="eager")
        m = MixtralForCausalLM(cfg)
        randomize(m, seed)
        m = m.to(dtype)
        m.save_pretrained(path)
        # the reference from the file as saved (in memory, m.to(bfloat16) need not round every tensor as the file does)
        m = MixtralForCausalLM.from_pretrained(path, attn_implementation="eager", experts_implementation="eager")
        save_reference(path, *reference(m, 100, 12, seed + 10))
        greedy(m, path, 7)


def qwen2_moe():
    from transformers import Qwen2MoeConfig, Qwen2MoeForCausalLM
    path = fresh("qwen2-moe")
    cfg = Qwen2MoeConfig(vocab_size=100, hidden_size=32, intermediate_size=40, num_hidden_layers=4, num_attention_heads=4,
                         num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-6, num_experts=4, num_experts_per_tok=2,
                         moe_intermediate_size=16, shared_expert_intermediate_size=24, norm_topk_prob=False, decoder_sparse_step=2,
                         mlp_only_layers=[], use_sliding_window=False, tie_word_embeddings=False,
                         attn_implementation="eager", experts_implementation="eager")
    m = Qwen2MoeForCausalLM(cfg)
    randomize(m, 34)
    m.save_pretrained(path)
    m = Qwen2MoeForCausalLM.from_pretrained(path, attn_implementation="eager", experts_implementation="eager")
    save_reference(path, *reference(m, 100, 12, 44))
    greedy(m, path, 7)


def phi3_longrope():
    from transformers import Phi3Config, Phi3ForCausalLM
    path = fresh("phi3-longrope")
    cfg = Phi3Config(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, max_position_embeddings=64, original_max_position_embeddings=16, sliding_window=None,
                     rope_scaling={"rope_type": "longrope", "short_factor": [1.0, 1.3, 2.1, 3.5], "long_factor": [1.5, 2.0, 4.0, 9.0]},
                     bos_token_id=1, eos_token_id=2, pad_token_id=0, attn_implementation="eager")
    m = Phi3ForCausalLM(cfg)
    randomize(m, 31)
    m.save_pretrained(path)
    save_reference(path, *reference(m, 100, 12, 41))
    greedy(m, path, 7)


def main():
    from transformers import Qwen2Config, Qwen2ForCausalLM
    torch.manual_seed(0)
    path = fresh("qwen2")
    cfg = Qwen2Config(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-6, rope_theta=1000000.0,
                      tie_word_embeddings=True, use_sliding_window=False, attn_implementation="eager")
    m = Qwen2ForCausalLM(cfg)
    randomize(m, 21)
    assert m.model.layers[0].self_attn.o_proj.bias is None and m.model.layers[0].self_attn.q_proj.bias is not None
    m.save_pretrained(path)
    save_reference(path, *reference(m, 100, 12, 31))
    greedy(m, path, 7)

    from transformers import Qwen3Config, Qwen3ForCausalLM
    path = fresh("qwen3")
    cfg = Qwen3Config(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, head_dim=16, max_position_embeddings=64, rms_norm_eps=1e-6,
                      tie_word_embeddings=False, use_sliding_window=False, attn_implementation="eager")
    m = Qwen3ForCausalLM(cfg)
    randomize(m, 26)
    m.save_pretrained(path)
    save_reference(path, *reference(m, 100, 12, 36))
    greedy(m, path, 7)

    from transformers import GemmaConfig, GemmaForCausalLM
    path = fresh("gemma")
    cfg = GemmaConfig(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=1, head_dim=16, max_position_embeddings=64, rms_norm_eps=1e-6,
                      attn_implementation="eager")
    m = GemmaForCausalLM(cfg)
    randomize(m, 27)   # norm weights around 1, so the (1 + w) gains are around 2
    m.save_pretrained(path)
    save_reference(path, *reference(m, 100, 12, 37))
    greedy(m, path, 7)

    gemma2()
    gemma3()
    phi3_longrope()
    mixtral()
    qwen2_moe()

    from transformers import Phi3Config, Phi3ForCausalLM
    path = fresh("phi3")
    cfg = Phi3Config(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, max_position_embeddings=64, sliding_window=4, bos_token_id=1, eos_token_id=2,
                     pad_token_id=0, attn_implementation="eager")
    m = Phi3ForCausalLM(cfg)
    randomize(m, 28)
    m.save_pretrained(path)
    save_reference(path, *reference(m, 100, 12, 38))
    greedy(m, path, 7)

    llama("llama-rope-linear", 22, {"rope_type": "linear", "factor": 2.0, "rope_theta": 10000.0})
    llama("llama-rope-dynamic", 23, {"rope_type": "dynamic", "factor": 2.0, "rope_theta": 10000.0})
    llama("llama-rope-llama3", 24, {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                    "original_max_position_embeddings": 16, "rope_theta": 10000.0})
    llama("llama-rope-yarn", 25, {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16,
                                  "rope_theta": 10000.0})


if __name__ == "__main__":
    main()
