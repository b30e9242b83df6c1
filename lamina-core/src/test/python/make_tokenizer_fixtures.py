"""Hugging Face `tokenizers` fixtures for Lamina's byte-level BPE tests, and the reverse check.

Setup (offline wheels):
    python3 -m venv /tmp/tokv
    /tmp/tokv/bin/pip install --no-index --find-links /opt/pypi/files tokenizers

Write the fixtures (into lamina-core/src/test/resources/hf/):
    /tmp/tokv/bin/python lamina-core/src/test/python/make_tokenizer_fixtures.py

    brown-slice.txt          the first ~100 KB of the Brown corpus (whole lines), training text
    hf-bpe.json              BpeTrainer on brown-slice.txt: vocab 1000, min frequency 2, specials
                             <|endoftext|> and <pad>, ByteLevel pre-tokenizer and decoder, all 256
                             bytes; saved by tokenizers (merges in the [a, b] array form)
    hf-bpe-string-merges.json the same tokenizer with merges in the older "a b" string form
    hf-bpe-options.json      the same model with add_prefix_space=true and added tokens using
                             lstrip / rstrip / single_word / normalized
    hf-bpe-ids.jsonl         {"text", "ids", "options_ids"} for every text in texts(): ids from
                             hf-bpe.json, options_ids from hf-bpe-options.json
    gpt2-unseen.jsonl        {"text", "ids"}: GPT-2 (encoder.json + vocab.bpe loaded in tokenizers)
                             on texts that are not in gpt2/encodings.jsonl

Check tokenizer.json files written by Lamina (the reverse direction):
    mvn -q -o -pl lamina-core test -Dtest=HfInteropExportTest     # writes lamina-core/target/hf-interop/
    /tmp/tokv/bin/python lamina-core/src/test/python/make_tokenizer_fixtures.py --check lamina-core/target/hf-interop

    Each subdirectory holds a tokenizer.json saved by Lamina and lamina-ids.jsonl with the ids
    Lamina gives for a set of texts and Lamina's decoding of those ids; the check loads the
    tokenizer.json in tokenizers, encodes the same texts and decodes Lamina's ids, and compares.

Recorded result of the check (tokenizers 0.23.2, Python 3.11.7, 2026-11-23):
    gpt2: 1418 texts, 1418 identical ids and decode, 0 mismatches (vocab 50257)
    resaved-options: 1418 texts, 1418 identical ids and decode, 0 mismatches (vocab 1002)
    trained: 1418 texts, 1418 identical ids and decode, 0 mismatches (vocab 1000)
    total: 4254 texts, 0 mismatches
    (gpt2: GPT-2's encoder.json + vocab.bpe saved by Lamina; resaved-options: hf-bpe-options.json
    read and saved again by Lamina; trained: Lamina's BpeTrainer on brown-slice.txt, vocab 1000,
    min frequency 2, specials <|endoftext|> and <pad>. The texts: every fixture text, 300 Brown
    lines and 300 random strings.)
"""
import json
import os
import random
import sys

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

HERE = os.path.dirname(os.path.abspath(__file__))
RESOURCES = os.path.normpath(os.path.join(HERE, "..", "resources"))
OUT = os.path.join(RESOURCES, "hf")
BROWN = "/work/shared/data/brown/brown.txt"
SLICE_BYTES = 100_000


def tricky_texts():
    return [
        "", " ", "a", "Hello world", "Hello  world", "  leading and trailing  ", "\t\ttabs\tand\nnewlines\n\n\n",
        "CR LF\r\nline\r\n\r\nend\r", "It's they're we've I'm you'll he'd don't 'S 'T ''s", "x'sam 'll'll",
        "numbers 1234567890 3.14159 1e-9 0x1F ½ ² ٣ Ⅻ", "café naïve résumé façade", "e\u0301 a\u0308 n\u0303\u0303",
        "中文字符和日本語のテキスト", "한국어 텍스트", "emoji 😀🚀👍🏽 and ZWJ 👨\u200d👩\u200d👧 flags 🇫🇷🇩🇪",
        "Ελληνικά και русский текст", "עברית العربية", "def f(x):\n    return x**2  # comment\n",
        '<html><body class="a">&amp;</body></html>', "nbsp\u00a0here\u3000ideographic\u2028line\u0085nel",
        "control \x00 \x01 \x7f \x1c chars", "soft\u00adhyphen", "a" * 300, "9" * 120, " " * 50, "\n" * 20,
        "<|endoftext|>", "one<|endoftext|>two", "<|endoftext|><|endoftext|>", "<|endoftext", "<pad> padded <pad>",
        "the <mask> was [X] here", "word<mask>word [X]y", "  <mask>  spaced  ", "_[X]_", "a [X] b", "e\u0301[X] [X]\u0301 \u200d[X] x_[X] 1[X] ½[X] -[X]-",
        "The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election",
    ]


def random_texts(n, seed):
    rnd = random.Random(seed)
    pieces = ["a", "Z", "é", "ß", "ж", "中", "文", "\u0301", "\u200d", "😀", "👍🏽", "0", "7", "²", " ", " ", "  ", "\t",
              "\n", "\r\n", "\u00a0", "\u3000", "'", "'s", "'ll", "'re", ".", ",", "!", "-", '"', "the", " the", "ing",
              "<|endoftext|>", "<pad>", "<mask>", "[X]"]
    out = []
    for _ in range(n):
        k = rnd.randrange(1, 30)
        out.append("".join(rnd.choice(pieces) if rnd.random() > 0.1 else chr(rnd.choice(
            [rnd.randrange(0x20, 0x7f), rnd.randrange(0xa0, 0x3000), rnd.randrange(0x4e00, 0x9fff),
             rnd.randrange(0x1f300, 0x1faff)])) for _ in range(k)))
    return out


def brown_slice():
    with open(BROWN, encoding="utf-8") as f:
        text = f.read()
    cut = text.rfind("\n", 0, SLICE_BYTES) + 1
    return text, text[:cut]


def train(slice_path):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1000, min_frequency=2, special_tokens=["<|endoftext|>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train([slice_path], trainer)
    return tok


def with_options(tok_path):
    tok = Tokenizer.from_file(tok_path)
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, rstrip=False, single_word=False, normalized=False)])
    tok.add_tokens([AddedToken("[X]", single_word=True, rstrip=True, normalized=True)])
    return tok


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def make():
    os.makedirs(OUT, exist_ok=True)
    full, sl = brown_slice()
    slice_path = os.path.join(OUT, "brown-slice.txt")
    with open(slice_path, "w", encoding="utf-8") as f:
        f.write(sl)

    tok = train(slice_path)
    tok.save(os.path.join(OUT, "hf-bpe.json"))
    with open(os.path.join(OUT, "hf-bpe.json"), encoding="utf-8") as f:
        doc = json.load(f)
    doc["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in doc["model"]["merges"]]
    string_path = os.path.join(OUT, "hf-bpe-string-merges.json")
    with open(string_path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=2)
    opt = with_options(os.path.join(OUT, "hf-bpe.json"))
    opt.save(os.path.join(OUT, "hf-bpe-options.json"))

    string_tok = Tokenizer.from_file(string_path)
    texts = tricky_texts() + random_texts(150, 1) + full[len(sl):].splitlines()[1000:1100]
    rows = []
    for t in texts:
        ids = tok.encode(t).ids
        assert string_tok.encode(t).ids == ids, t
        assert tok.decode(ids, skip_special_tokens=False) == t or "<|endoftext|>" in t or "<pad>" in t, t
        rows.append({"text": t, "ids": ids, "options_ids": opt.encode(t).ids})
    write_jsonl(os.path.join(OUT, "hf-bpe-ids.jsonl"), rows)

    gpt2_dir = os.path.join(RESOURCES, "gpt2")
    gpt2 = Tokenizer(models.BPE.from_file(os.path.join(gpt2_dir, "encoder.json"), os.path.join(gpt2_dir, "vocab.bpe")))
    gpt2.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    gpt2.decoder = decoders.ByteLevel()
    gpt2.add_special_tokens(["<|endoftext|>"])
    with open(os.path.join(gpt2_dir, "encodings.jsonl"), encoding="utf-8") as f:
        seen = {json.loads(line)["text"] for line in f}
    unseen = [t for t in tricky_texts() + random_texts(200, 2) + full.splitlines()[20000:20300] if t not in seen]
    write_jsonl(os.path.join(OUT, "gpt2-unseen.jsonl"), [{"text": t, "ids": gpt2.encode(t).ids} for t in unseen])
    print(f"wrote fixtures to {OUT}: {len(rows)} hf-bpe texts, {len(unseen)} unseen GPT-2 texts")


def check(root):
    total = failures = 0
    for name in sorted(os.listdir(root)):
        d = os.path.join(root, name)
        if not os.path.isfile(os.path.join(d, "lamina-ids.jsonl")):
            continue
        tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
        n = bad = 0
        with open(os.path.join(d, "lamina-ids.jsonl"), encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                ids = tok.encode(row["text"]).ids
                text = tok.decode(row["ids"], skip_special_tokens=False)
                n += 1
                if ids != row["ids"] or text != row["decoded"]:
                    bad += 1
                    if bad <= 3:
                        print(f"  {name}: MISMATCH {row['text']!r}\n    lamina {row['ids']}\n    hf     {ids}\n"
                              f"    lamina decode {row['decoded']!r}\n    hf decode     {text!r}")
        print(f"{name}: {n} texts, {n - bad} identical ids and decode, {bad} mismatches (vocab {tok.get_vocab_size()})")
        total += n
        failures += bad
    print(f"total: {total} texts, {failures} mismatches")
    return 1 if failures or total == 0 else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        sys.exit(check(sys.argv[2]))
    make()
