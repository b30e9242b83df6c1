"""Hugging Face tokenizers' side of bench/tokenizer_families.sh: encode_batch of the corpus lines
(one thread: run with RAYON_NUM_THREADS=1), REPS runs per family, best run in MB/s.

usage: tokenizer_families_hf.py FAMILIES_DIR CORPUS REPS FAMILY...
"""
import os
import sys
import time

from tokenizers import Tokenizer


def main(d, corpus, reps, *families):
    data = open(corpus, "rb").read()
    lines = data.decode("utf-8").split("\n")
    mb = len(data) / 1e6
    for fam in families:
        best, tokens = float("inf"), 0
        for _ in range(int(reps)):
            tok = Tokenizer.from_file(os.path.join(d, fam, "tokenizer.json"))
            t0 = time.perf_counter()
            enc = tok.encode_batch(lines, add_special_tokens=False)
            best = min(best, time.perf_counter() - t0)
            tokens = sum(len(e.ids) for e in enc)
        print(f"hf     {fam:<12} {mb / best:8.2f} MB/s  ({tokens} tokens, best of {reps})")


if __name__ == "__main__":
    main(*sys.argv[1:])
