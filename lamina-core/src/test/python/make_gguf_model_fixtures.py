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

Two patches to the converter, both about the vocabulary, none about weights: the tiny BPE tokenizer
is not in its table of known pre-tokenizer hashes, so its pre-tokenizer is declared "gpt-2" (it
is GPT-2's); and the Llama fixtures have no tokenizer, so their vocabulary is skipped. The GPT-2
converter reads the legacy n_ctx field, which transformers 5 no longer saves: the copy it converts
gets n_ctx = n_positions, as older GPT-2 configs have.

Needs the llama.cpp source (default /tmp/lamina-llamacpp/llama.cpp, or $LAMINA_LLAMACPP) and
torch, transformers, numpy. Usage: python make_gguf_model_fixtures.py
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
if not os.path.exists(os.path.join(model, "tokenizer.json")):
    LlamaModel.set_vocab = lambda self: None
    import conversion.qwen as qwen
    for cls in vars(qwen).values():
        if isinstance(cls, type) and issubclass(cls, TextModel):
            cls.set_vocab = lambda self: None
convert_hf_to_gguf.main()
"""

FIXTURES = [("gpt2-f32", "gpt2", "f32"), ("gpt2-q8_0", "gpt2", "q8_0"), ("llama-f32", "llama", "f32"),
            ("llama-f16", "llama-f16", "f16"), ("mistral-f32", "mistral", "f32"),
            ("llama3-rope-f32", "llama-rope-llama3", "f32"), ("qwen2-f32", "qwen2", "f32")]


def main():
    out_dir = os.path.join(RES, "gguf", "models")
    os.makedirs(out_dir, exist_ok=True)
    for name, src, outtype in FIXTURES:
        out = os.path.join(out_dir, name + ".gguf")
        with tempfile.TemporaryDirectory() as tmp:
            model = shutil.copytree(os.path.join(RES, "hf", "models", src), os.path.join(tmp, src))
            with open(os.path.join(model, "config.json")) as f:
                config = json.load(f)
            if config["model_type"] == "gpt2":
                config.setdefault("n_ctx", config["n_positions"])
                with open(os.path.join(model, "config.json"), "w") as f:
                    json.dump(config, f, indent=2)
            subprocess.run([sys.executable, "-c", RUNNER, LLAMACPP, model, "--outfile", out, "--outtype", outtype], check=True)
        print(out, os.path.getsize(out))


if __name__ == "__main__":
    main()
