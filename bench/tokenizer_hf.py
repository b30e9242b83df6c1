"""Hugging Face tokenizers side of bench/tokenizer.sh: trains BpeTrainer on the same corpus and
settings as Lamina (ByteLevel pre-tokenizer, all 256 bytes, <|endoftext|> special) and encodes
the corpus lines with encode_batch (Rayon threads = RAYON_NUM_THREADS).

usage: tokenizer_hf.py CORPUS VOCAB MIN_FREQ OUT_DIR [ENCODE_TOKENIZER_JSON...]
"""
import sys
import time

import tokenizers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers


def train(corpus, vocab, min_freq):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, min_frequency=min_freq, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    t0 = time.perf_counter()
    tok.train([corpus], trainer)
    return tok, time.perf_counter() - t0


def encode(path, lines, mb):
    for run in (1, 2, 3):
        tok = Tokenizer.from_file(path)  # fresh word cache every run
        t0 = time.perf_counter()
        encs = tok.encode_batch(lines, add_special_tokens=False)
        s = time.perf_counter() - t0
        n = sum(len(e.ids) for e in encs)
        print(f"hf encode {path} run {run}: {s:.3f} s, {mb / s:.1f} MB/s, {n} tokens", flush=True)


def main():
    corpus, vocab, min_freq, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    print(f"tokenizers {tokenizers.__version__}")
    for run in (1, 2):
        tok, s = train(corpus, vocab, min_freq)
        print(f"hf train run {run}: {s:.2f} s, vocab {tok.get_vocab_size()}", flush=True)
    tok.save(out + "/tokenizer.json")
    data = open(corpus, "rb").read()
    lines = data.decode("utf-8").splitlines()
    mb = len(data) / 1e6
    for path in [out + "/tokenizer.json"] + sys.argv[5:]:
        encode(path, lines, mb)


if __name__ == "__main__":
    main()
