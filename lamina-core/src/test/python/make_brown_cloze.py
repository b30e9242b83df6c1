"""The built-in task brown-cloze: next-word cloze with distractors, from the bundled Brown corpus.

Run (any Python 3, standard library only):
    python3 lamina-core/src/test/python/make_brown_cloze.py

Reads lamina-core/src/main/resources/dev/lamina/data/brown.txt.gz and writes
lamina-core/src/main/resources/dev/lamina/eval/brown-cloze.jsonl: 400 multiple-choice examples
{"context", "choices", "gold"}. Each takes a line of 10 to 40 words that ends in a word and a full
stop; the context is the line up to that last word, the right choice is " " + the word, and three
distractors are other words of the corpus with about the same frequency (the 40 ranks either side
of the word's in the corpus's lower-case word counts), so a model cannot win by preferring common
words. The choices are shuffled. Seeded, so the file is the same on every run.
"""
import collections
import gzip
import json
import os
import random
import re

HERE = os.path.dirname(os.path.abspath(__file__))
MAIN = os.path.join(HERE, "..", "..", "main", "resources", "dev", "lamina")
WORD = re.compile(r"^[a-z]{3,}$")
EXAMPLES, DISTRACTORS, SPAN = 400, 3, 40


def main():
    with gzip.open(os.path.join(MAIN, "data", "brown.txt.gz"), "rt", encoding="utf-8") as f:
        lines = [l.strip() for l in f if l.strip()]
    counts = collections.Counter(w for l in lines for w in re.findall(r"[a-z]+", l.lower()) if WORD.match(w))
    ranked = [w for w, _ in counts.most_common()]
    rank = {w: i for i, w in enumerate(ranked)}
    rng = random.Random(25)
    candidates = []
    for l in lines:
        if not l.isascii() or not l.endswith(".") or l.endswith(".."):
            continue
        words = l[:-1].split(" ")
        if not 10 <= len(words) <= 40 or not WORD.match(words[-1]) or counts[words[-1]] < 5:
            continue
        candidates.append((" ".join(words[:-1]), words[-1]))
    out = []
    for context, word in rng.sample(candidates, EXAMPLES):
        r = rank[word]
        near = [w for w in ranked[max(0, r - SPAN): r + SPAN + 1] if w != word]
        choices = [word] + rng.sample(near, DISTRACTORS)
        rng.shuffle(choices)
        out.append({"context": context, "choices": [" " + c for c in choices], "gold": choices.index(word)})
    path = os.path.join(MAIN, "eval", "brown-cloze.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for e in out:
            f.write(json.dumps(e) + "\n")
    print("wrote", path, len(out), "examples from", len(candidates), "candidate lines")


if __name__ == "__main__":
    main()
