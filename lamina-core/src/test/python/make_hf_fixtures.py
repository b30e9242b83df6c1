"""Tiny random Hugging Face checkpoints (GPT-2, Llama, Mistral) with reference logits, for Lamina's
import tests; and the reverse check that directories exported by Lamina load in `transformers` and
give Lamina's logits.

Setup (offline wheels):
    python3 -m venv /tmp/hfv
    /tmp/hfv/bin/pip install -q --no-index --find-links /opt/wheels --find-links /opt/pypi/files \
        --find-links /opt/pypi-more/files torch transformers safetensors tokenizers

Write the fixtures (into lamina-core/src/test/resources/hf/models/):
    /tmp/hfv/bin/python lamina-core/src/test/python/make_hf_fixtures.py

    Each fixture is a directory as `save_pretrained` writes it (config.json, model.safetensors or
    shards with model.safetensors.index.json, generation_config.json) plus reference.safetensors:
    input_ids [2, T] (I64) and logits [2, T, V] (F32), computed in float64 with eager attention
    from the stored weights (F16/BF16 ones converted exactly) and rounded to float32. (In float32,
    transformers itself is 4e-5 away from the float64 logits on llama-f16; Lamina is 6e-7.)

    gpt2           GPT2LMHeadModel, n_embd 32, 2 layers, 4 heads, vocab 300, n_positions 64, F32,
                   names under "transformer.", tied head; with a byte-level BPE tokenizer.json
                   (256 bytes + 43 merges + <|endoftext|>) and tokenizer_config.json
    gpt2-bf16      the same architecture (other weights, n_inner 48), BF16, names without the
                   "transformer." prefix (as the original GPT-2 files) and with the old causal-mask
                   buffers h.N.attn.bias / h.N.attn.masked_bias, which the importer drops
    llama          LlamaForCausalLM, hidden 32, 2 layers, 4 heads, 2 kv heads, ff 64, vocab 100,
                   rope_theta 500000, rms_norm_eps 1e-5, untied head, F32, no tokenizer
    llama-f16      Llama with attention_bias true and tied embeddings, F16
    llama-sharded  Llama (3 layers) saved with max_shard_size 40KB: several shards + index
    mistral        MistralForCausalLM, hidden 32, 2 layers, 4 heads, 1 kv head, sliding_window 4,
                   T = 12 so that the window matters, F32; config.json rewritten in the transformers 4
                   style (top-level rope_theta, rope_scaling null, torch_dtype), as Mistral-7B's is

Check directories exported by Lamina (the reverse direction):
    mvn -q -o -pl lamina-core test -Dtest=HfExportCheckTest    # writes lamina-core/target/hf-export/
    /tmp/hfv/bin/python lamina-core/src/test/python/make_hf_fixtures.py --check lamina-core/target/hf-export

    Each subdirectory is a `lamina export hf` directory plus lamina-logits.safetensors (input_ids,
    logits from Lamina's forward pass on the exported weights). The check loads the directory with
    AutoModelForCausalLM.from_pretrained (dtype float32, eager attention), runs the same ids and
    compares logits by relative error ||hf - lamina|| / ||lamina|| (must be <= 1e-4); when the
    directory holds tokenizer.json it also loads AutoTokenizer and checks a round trip of a text.

Recorded result of the check (transformers 5.18.0, torch 2.13.0+cpu, Python 3.11.7, 2026-11-23):
    from-gpt2-bf16: GPT2LMHeadModel float32, logits (2, 12, 100) relative error 4.07e-07 ok
    from-mistral: MistralForCausalLM float32, logits (2, 12, 100) relative error 8.14e-07 ok
    gpt2-f32: GPT2LMHeadModel float32, logits (2, 12, 300) relative error 3.91e-07 ok, tokenizer round trip ok
    gpt2-untied-f32: GPT2LMHeadModel float32, logits (2, 12, 300) relative error 4.26e-07 ok, tokenizer round trip ok
    llama-bias-tied-bf16: LlamaForCausalLM bfloat16, logits (2, 12, 96) relative error 6.30e-07 ok
    llama-gqa-f32: LlamaForCausalLM float32, logits (2, 12, 257) relative error 5.98e-07 ok, tokenizer round trip ok
                   (Lamina's byte tokenizer written as a byte-level BPE tokenizer.json)
    mistral-mqa-f16: MistralForCausalLM float16, logits (2, 12, 96) relative error 4.88e-07 ok
    7 checked, 0 failed
    (AutoTokenizer loads the tokenizers as TokenizersBackend. from-*: fixtures imported and exported
    again; the others: random Lamina models, see ExportModels.java. transformers 4.x was not
    checked: its wheel's huggingface-hub<1.0 dependency is not available offline here.)
"""
import json
import os
import shutil
import sys

import torch
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.normpath(os.path.join(HERE, "..", "resources", "hf", "models"))
BROWN = "/work/shared/data/brown/brown.txt"


def randomize(model, seed):
    """Every parameter random (norm weights around 1, biases non-zero) so that a wrong mapping shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name.endswith("ln_f.weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))


def reference(model, vocab, T, seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab, (2, T), generator=g)
    model = model.double().eval()
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    model.float()
    return ids, logits.float().contiguous()


def save_reference(path, ids, logits):
    save_file({"input_ids": ids.to(torch.int64).contiguous(), "logits": logits.float().contiguous()},
              os.path.join(path, "reference.safetensors"))


def tokenizer_300(path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, min_frequency=2, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    with open(BROWN, encoding="utf-8") as f:
        text = f.read(50000)
    tok.train_from_iterator([text], trainer)
    tok.save(os.path.join(path, "tokenizer.json"))
    with open(os.path.join(path, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|endoftext|>",
                   "eos_token": "<|endoftext|>", "model_max_length": 64}, f, indent=2)
    return tok.get_vocab_size()


def fresh(name):
    path = os.path.join(OUT, name)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def make():
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)

    # gpt2: F32, transformer. prefix, tokenizer
    path = fresh("gpt2")
    cfg = GPT2Config(vocab_size=300, n_positions=64, n_embd=32, n_layer=2, n_head=4, bos_token_id=0, eos_token_id=0,
                     attn_implementation="eager")
    m = GPT2LMHeadModel(cfg)
    randomize(m, 1)
    m.save_pretrained(path)
    assert tokenizer_300(path) == 300
    save_reference(path, *reference(m, 300, 8, 11))

    # gpt2-bf16: no prefix, old mask buffers, n_inner 48
    path = fresh("gpt2-bf16")
    cfg = GPT2Config(vocab_size=100, n_positions=16, n_embd=32, n_layer=2, n_head=4, n_inner=48, layer_norm_epsilon=1e-4,
                     bos_token_id=None, eos_token_id=None, attn_implementation="eager")
    m = GPT2LMHeadModel(cfg)
    randomize(m, 2)
    m = m.to(torch.bfloat16)
    cfg.dtype = torch.bfloat16
    tensors = {}
    for k, v in m.transformer.state_dict().items():
        tensors[k] = v.contiguous()
    for layer in range(2):
        tensors[f"h.{layer}.attn.bias"] = torch.tril(torch.ones(16, 16, dtype=torch.uint8)).view(1, 1, 16, 16)
        tensors[f"h.{layer}.attn.masked_bias"] = torch.tensor(-1e4, dtype=torch.bfloat16)
    save_file(tensors, os.path.join(path, "model.safetensors"), metadata={"format": "pt"})
    cfg.architectures = ["GPT2LMHeadModel"]
    cfg.save_pretrained(path)
    save_reference(path, *reference(m, 100, 8, 12))

    # llama: F32, GQA, untied
    path = fresh("llama")
    cfg = LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-5, rope_theta=500000.0,
                      tie_word_embeddings=False, attn_implementation="eager")
    m = LlamaForCausalLM(cfg)
    randomize(m, 3)
    m.save_pretrained(path)
    save_reference(path, *reference(m, 100, 8, 13))

    # llama-f16: attention_bias, tied, F16
    path = fresh("llama-f16")
    cfg = LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=4, max_position_embeddings=64, rms_norm_eps=1e-6, attention_bias=True,
                      tie_word_embeddings=True, attn_implementation="eager")
    m = LlamaForCausalLM(cfg)
    randomize(m, 4)
    m = m.to(torch.float16)
    m.save_pretrained(path)
    save_reference(path, *reference(m, 100, 8, 14))

    # llama-sharded
    path = fresh("llama-sharded")
    cfg = LlamaConfig(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-5,
                      tie_word_embeddings=False, attn_implementation="eager")
    m = LlamaForCausalLM(cfg)
    randomize(m, 5)
    m.save_pretrained(path, max_shard_size="40KB")
    assert os.path.exists(os.path.join(path, "model.safetensors.index.json")), "expected shards"
    save_reference(path, *reference(m, 100, 8, 15))

    # mistral: sliding window 4, MQA
    path = fresh("mistral")
    cfg = MistralConfig(vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                        num_key_value_heads=1, max_position_embeddings=64, rms_norm_eps=1e-5, sliding_window=4,
                        tie_word_embeddings=False, attn_implementation="eager")
    m = MistralForCausalLM(cfg)
    randomize(m, 6)
    m.save_pretrained(path)
    ids, logits = reference(m, 100, 12, 16)
    # config.json in the older (transformers 4) style, as Mistral-7B's: rope_theta and rope_scaling at the
    # top level, torch_dtype; transformers must read it back to the same model
    with open(os.path.join(path, "config.json")) as f:
        c = json.load(f)
    c["rope_theta"] = c.pop("rope_parameters")["rope_theta"]
    c["rope_scaling"] = None
    c["torch_dtype"] = c.pop("dtype")
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(c, f, indent=2, sort_keys=True)
    again = MistralForCausalLM.from_pretrained(path, attn_implementation="eager").eval()
    with torch.no_grad():
        assert torch.allclose(again(input_ids=ids).logits, logits, atol=1e-4), "v4-style config reads differently"
    # the window must change the result, else the fixture would not test it
    cfg_full = MistralConfig(**{**cfg.to_dict(), "sliding_window": None})
    full = MistralForCausalLM(cfg_full)
    full.load_state_dict(m.state_dict())
    with torch.no_grad():
        assert not torch.allclose(full.eval()(input_ids=ids).logits, logits, atol=1e-3), "sliding window has no effect"
    save_reference(path, ids, logits)

    for name in sorted(os.listdir(OUT)):
        size = sum(os.path.getsize(os.path.join(OUT, name, f)) for f in os.listdir(os.path.join(OUT, name)))
        print(f"{name}: {size} bytes, {sorted(os.listdir(os.path.join(OUT, name)))}")
        assert size < 1 << 20


def check(root):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    failed = 0
    names = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    if not names:
        sys.exit(f"{root}: no exported directories")
    for name in names:
        path = os.path.join(root, name)
        ref = load_file(os.path.join(path, "lamina-logits.safetensors"))
        cfg = json.load(open(os.path.join(path, "config.json")))
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager").eval()
        ids = ref["input_ids"].to(torch.int64)
        with torch.no_grad():
            logits = model(input_ids=ids).logits
        want = ref["logits"].reshape(logits.shape)
        err = ((logits - want).norm() / want.norm()).item()
        ok = err <= 1e-4
        extra = ""
        if os.path.exists(os.path.join(path, "tokenizer.json")):
            tok = AutoTokenizer.from_pretrained(path)
            text = "The jury said it did find that many of Georgia's registration laws are outmoded."
            enc = tok(text)["input_ids"]
            back = tok.decode(enc)
            tok_ok = back == text
            ok = ok and tok_ok
            extra = f", tokenizer {type(tok).__name__} round trip {'ok' if tok_ok else 'FAILED: ' + repr(back)}"
        print(f"{name}: {cfg['architectures'][0]} {cfg.get('torch_dtype')} {type(model).__name__}, "
              f"logits {tuple(logits.shape)} relative error {err:.2e} {'ok' if ok else 'FAILED'}{extra}")
        failed += not ok
    print(f"{len(names)} checked, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
    elif len(sys.argv) == 1:
        make()
    else:
        sys.exit(__doc__)
