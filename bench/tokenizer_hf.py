"""Hugging Face tokenizers' side of bench/tokenizer.sh: the same steps as Lamina's TokenizerBench.

Trains BpeTrainer twice on CORPUS (ByteLevel pre-tokenizer without prefix space, all 256 bytes,
special <|endoftext|>, no progress bar), saves OUT/hf/tokenizer.json, then encodes the corpus's
lines ('\n'-separated) with OUT/hf, OUT/lamina and OUT/gpt2 (both written by Lamina), three runs
each with a freshly loaded tokenizer, with encode_batch and with encode_batch_fast (no offsets).
Threads: RAYON_NUM_THREADS.

usage: tokenizer_hf.py CORPUS VOCAB MIN_FREQ OUT
"""
import os
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


def main():
    corpus, vocab, min_freq, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    print(f"hf: tokenizers {tokenizers.__version__}, RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS')}")
    for run in (1, 2):
        tok, s = train(corpus, vocab, min_freq)
        print(f"hf train run {run}: {s:.2f} s, vocab {tok.get_vocab_size()}", flush=True)
    os.makedirs(out + "/hf", exist_ok=True)
    tok.save(out + "/hf/tokenizer.json")

    data = open(corpus, "rb").read()
    lines = data.decode("utf-8").split("\n")
    mb = len(data) / 1e6
    for name in ("hf", "lamina", "gpt2"):
        for method in ("encode_batch", "encode_batch_fast"):
            for run in (1, 2, 3):
                tok = Tokenizer.from_file(f"{out}/{name}/tokenizer.json")
                t0 = time.perf_counter()
                encs = getattr(tok, method)(lines, add_special_tokens=False)
                s = time.perf_counter() - t0
                n = sum(len(e.ids) for e in encs)
                print(f"hf {method} {name} run {run}: {s:.3f} s, {mb / s:.1f} MB/s, {n} tokens", flush=True)


if __name__ == "__main__":
    main()
