"""Dumps the tokenizer metadata of a GGUF file to JSON, for Lamina's llama.cpp vocabulary test.

    python dump_gguf_vocab.py GGUF_PY_DIR FILE.gguf OUT.json

GGUF_PY_DIR is llama.cpp's gguf-py directory (its reader, so no GGUF code is needed here). OUT.json:
{"model", "pre", "tokens", "scores", "types", "merges", "bos", "eos", "unk", "add_space_prefix", "add_bos"}
with null for what the file does not hold. The file is written to a temporary name and renamed.
"""
import json
import os
import sys


def main(gguf_py, path, out):
    sys.path.insert(0, gguf_py)
    import gguf

    r = gguf.GGUFReader(path)

    def get(key, default=None):
        f = r.fields.get("tokenizer.ggml." + key)
        if f is None:
            return default
        v = f.contents()
        return v.tolist() if hasattr(v, "tolist") else v

    doc = {
        "model": get("model"), "pre": get("pre"), "tokens": get("tokens"), "scores": get("scores"),
        "types": get("token_type"), "merges": get("merges"), "bos": get("bos_token_id", -1), "eos": get("eos_token_id", -1),
        "unk": get("unknown_token_id", -1), "add_space_prefix": get("add_space_prefix"), "add_bos": get("add_bos_token", False),
    }
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    os.replace(tmp, out)


if __name__ == "__main__":
    main(*sys.argv[1:4])
