"""GGUF files made by llama.cpp's own converter (convert_hf_to_gguf.py) from the tiny Hugging Face
fixtures under ../resources/hf/models (see make_hf_fixtures.py), so that Lamina's GGUF model reader
is checked against the real thing: names, hyper-parameter keys, the rotary row permutation of q/k,
GPT-2's transposed and fused attn_qkv, tied heads, and the gpt2 vocabulary metadata. The Java test
compares the logits of each loaded file with the fixture's reference.safetensors.

    gguf/models/gpt2-f32.gguf       from hf/models/gpt2 (tokenizer included), --outtype f32
    gguf/models/gpt2-q8_0.gguf      the same, --outtype q8_0 (the converter's own Q8_0 quantization)
    gguf/models/llama-f32.gguf      from hf/models/llama (GQA, untied head)
    gguf/models/llama-f16.gguf      from hf/models/llama-f16 (attention biases, tied head), --outtype f16
    gguf/models/llama3-rope-f32.gguf from hf/models/llama-rope-llama3: Llama 3.1 RoPE scaling, which the converter
                                    stores as the tensor rope_freqs (a divisor per frequency)
    gguf/models/qwen2-f32.gguf      from hf/models/qwen2: llama.cpp's qwen2 architecture (q/k/v biases, q/k unpermuted)
    gguf/models/mistral-f32.gguf    from hf/models/mistral: the converter drops the sliding window,
                                    as llama.cpp runs Mistral-7B, so only positions below the window
                                    match the reference
    gguf/models/qwen3-f32.gguf      from hf/models/qwen3: q/k norms, head size 16 on hidden 32 (key_length)
    gguf/models/gemma-f32.gguf      from hf/models/gemma: norms stored as their gains (w + 1), tied head
    gguf/models/gemma2-f32.gguf     from hf/models/gemma2: post norms, soft caps, window 4 on alternate layers
    gguf/models/mixtral-f32.gguf    from hf/models/mixtral: llama with expert_count 4, expert_used_count 2, the router
                                    ffn_gate_inp and the experts stacked [E, out, in] in ffn_{gate,up,down}_exps
    gguf/models/mixtral-q8_0.gguf   the same, --outtype q8_0 (the router stays F32)
    gguf/models/gemma3-f32.gguf     from hf/models/gemma3: q/k norms, linear RoPE scaling on the global
                                    layer, freq_base_swa 10000 on the windowed ones
    The GGUF files carry no query_pre_attn_scalar, and llama.cpp scales Gemma 2/3 scores by
    1/sqrt(head size) (1/sqrt(d/heads) for the 27B models); nor does the converter write Gemma 3's
    layer pattern, which llama.cpp then takes as one global layer in six. The two Gemma fixtures use
    24 against a head size of 16, and gemma3 a global third layer, so their expected logits are
    transformers' (float64) on the same weights with query_pre_attn_scalar 16 and, for gemma3,
    layer_types of llama.cpp's pattern: gguf/models/gemma2-f32.reference.safetensors and gemma3-f32's.

Two patches to the converter, both about the vocabulary, none about weights: the tiny BPE tokenizer
is not in its table of known pre-tokenizer hashes, so its pre-tokenizer is declared "gpt-2" (it
is GPT-2's); and the Llama fixtures have no tokenizer, so their vocabulary is skipped. The GPT-2
converter reads the legacy n_ctx field, which transformers 5 no longer saves: the copy it converts
gets n_ctx = n_positions, as older GPT-2 configs have.

Needs the llama.cpp source (default /tmp/lamina-llamacpp/llama.cpp, or $LAMINA_LLAMACPP) and
torch, transformers, numpy. Usage: python make_gguf_model_fixtures.py [NAME ...] (default: all)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
RES = os.path.join(HERE, "..", "resources")
LLAMACPP = os.environ.get("LAMINA_LLAMACPP", "/tmp/lamina-llamacpp/llama.cpp")

# argv: llama.cpp directory, then the converter's own arguments (model directory first)
RUNNER = r"""
import os, sys
llamacpp, model = sys.argv[1], sys.argv[2]
sys.path.insert(0, llamacpp)
sys.argv = [os.path.join(llamacpp, "convert_hf_to_gguf.py")] + sys.argv[2:]
import convert_hf_to_gguf
from conversion.base import TextModel
from conversion.llama import LlamaModel
TextModel.get_vocab_base_pre = lambda self, tokenizer: "gpt-2"
if not os.path.exists(os.path.join(model, "tokenizer.json")) or os.environ.get("LAMINA_NO_VOCAB"):
    LlamaModel.set_vocab = lambda self: None
    import conversion.qwen as qwen, conversion.gemma as gemma
    for mod in (qwen, gemma):
        for cls in vars(mod).values():
            if isinstance(cls, type) and issubclass(cls, TextModel):
                cls.set_vocab = lambda self: None
convert_hf_to_gguf.main()
"""

FIXTURES = [("gpt2-f32", "gpt2", "f32"), ("gpt2-q8_0", "gpt2", "q8_0"), ("llama-f32", "llama", "f32"),
            ("llama-f16", "llama-f16", "f16"), ("mistral-f32", "mistral", "f32"),
            ("llama3-rope-f32", "llama-rope-llama3", "f32"), ("qwen2-f32", "qwen2", "f32"), ("qwen3-f32", "qwen3", "f32"),
            ("gemma-f32", "gemma", "f32"), ("gemma2-f32", "gemma2", "f32"), ("gemma3-f32", "gemma3", "f32"),
            ("mixtral-f32", "mixtral", "f32"), ("mixtral-q8_0", "mixtral", "q8_0")]


def llamacpp_reference(src, out):
    """transformers' logits (float64) of a Gemma 2/3 fixture as llama.cpp runs its GGUF file: scores scaled by
    1/sqrt(head size), and Gemma 3's layers in llama.cpp's default pattern (one global in six: the file
    has no pattern key, so all four layers are windowed)."""
    import tempfile
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForCausalLM
    ref = load_file(os.path.join(src, "reference.safetensors"))
    with tempfile.TemporaryDirectory() as tmp:
        model = shutil.copytree(src, os.path.join(tmp, "m"))
        with open(os.path.join(model, "config.json")) as f:
            config = json.load(f)
        config["query_pre_attn_scalar"] = config["head_dim"]
        if config["model_type"] == "gemma3_text":
            n = config["num_hidden_layers"]
            config["layer_types"] = ["sliding_attention" if (i + 1) % 6 else "full_attention" for i in range(n)]
        with open(os.path.join(model, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
        m = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float64, attn_implementation="eager")
        with torch.no_grad():
            logits = m(input_ids=ref["input_ids"]).logits
    save_file({"input_ids": ref["input_ids"], "logits": logits.float().contiguous()}, out)

def main():
    out_dir = os.path.join(RES, "gguf", "models")
    os.makedirs(out_dir, exist_ok=True)
    only = sys.argv[1:]
    for name, src, outtype in FIXTURES:
        if only and name not in only:
            continue
        out = os.path.join(out_dir, name + ".gguf")
        with tempfile.TemporaryDirectory() as tmp:
            model = shutil.copytree(os.path.join(RES, "hf", "models", src), os.path.join(tmp, src))
            with open(os.path.join(model, "config.json")) as f:
                config = json.load(f)
            if config["model_type"] == "gpt2":
                config.setdefault("n_ctx", config["n_positions"])
                with open(os.path.join(model, "config.json"), "w") as f:
                    json.dump(config, f, indent=2)
            env = dict(os.environ)
            if config["model_type"] == "gemma3_text":   # the converter trims the table to the tokenizer's size
                with open(os.path.join(model, "tokenizer.json"), "w") as f:
                    json.dump({"model": {"vocab": {f"<t{i}>": i for i in range(config["vocab_size"])}}, "added_tokens": []}, f)
                env["LAMINA_NO_VOCAB"] = "1"
            subprocess.run([sys.executable, "-c", RUNNER, LLAMACPP, model, "--outfile", out, "--outtype", outtype], check=True, env=env)
            if config["model_type"] in ("gemma2", "gemma3_text"):
                llamacpp_reference(os.path.join(RES, "hf", "models", src), os.path.join(out_dir, name + ".reference.safetensors"))
        print(out, os.path.getsize(out))


if __name__ == "__main__":
    main()
