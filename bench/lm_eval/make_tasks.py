"""The local tasks of bench/lm_eval_check.sh, in lm-evaluation-harness's YAML + JSONL form (no hub).

    python3 bench/lm_eval/make_tasks.py

brown_cloze_100.jsonl   the first 100 examples of Lamina's built-in brown-cloze task
                        (lamina-core/src/main/resources/dev/lamina/eval/brown-cloze.jsonl, made by
                        lamina-core/src/test/python/make_brown_cloze.py): {context, choices, gold}
brown_continue_30.jsonl 30 generation examples from the bundled Brown corpus: the first 8 words of a
                        line as prompt, the next 3 words as reference, stop at a newline or a full
                        stop: {prompt, reference, stop}

Both are also Lamina task files: `lamina eval --tasks bench/lm_eval/brown_cloze_100.jsonl`.
"""
import gzip
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
RES = os.path.join(ROOT, "lamina-core", "src", "main", "resources", "dev", "lamina")

with open(os.path.join(RES, "eval", "brown-cloze.jsonl"), encoding="utf-8") as f:
    cloze = f.readlines()[:100]
with open(os.path.join(HERE, "brown_cloze_100.jsonl"), "w", encoding="utf-8") as f:
    f.writelines(cloze)

with gzip.open(os.path.join(RES, "data", "brown.txt.gz"), "rt", encoding="utf-8") as f:
    lines = [l.strip() for l in f if l.strip().isascii() and len(l.split()) >= 12]
rng = random.Random(25)
with open(os.path.join(HERE, "brown_continue_30.jsonl"), "w", encoding="utf-8") as f:
    for line in rng.sample(lines, 30):
        w = line.split()
        f.write(json.dumps({"prompt": " ".join(w[:8]), "reference": " " + " ".join(w[8:11]), "stop": ["\n", "."]}) + "\n")
print("wrote", len(cloze), "cloze and 30 generation examples")
