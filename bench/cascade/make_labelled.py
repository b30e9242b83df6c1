"""Labelled queries for the cascade and router experiment (docs/experiments/cascade.md): fresh
instances of the four instruction tasks of bench/finetune (a seed of their own), none of whose
prompts occurs in bench/finetune's training or test sets, each with its task as the category.

    python bench/cascade/make_labelled.py [--seed 11] [--n 800] [--out labelled.jsonl] [--task-train DIR]

--task-train DIR also writes bench/finetune/train.jsonl split by task, DIR/train-TASK.jsonl: the
router's specialists are fine-tuned on one each.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FT = os.path.join(HERE, "..", "finetune")
TASKS = ["add", "date", "extract", "reverse"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--n", type=int, default=800)
    ap.add_argument("--out", default="labelled.jsonl")
    ap.add_argument("--task-train")
    a = ap.parse_args()
    if a.task_train:
        os.makedirs(a.task_train, exist_ok=True)
        marks = {"add": "What is", "date": "DD/MM", "extract": "as JSON", "reverse": "Reverse"}
        files = {t: open(os.path.join(a.task_train, "train-" + t + ".jsonl"), "w") for t in TASKS}
        for line in open(os.path.join(FT, "train.jsonl")):
            p = json.loads(line)["prompt"]
            files[next(t for t in TASKS if marks[t] in p)].write(line)
        for f in files.values():
            f.close()
    seen = set(json.loads(l)["prompt"] for l in open(os.path.join(FT, "train.jsonl")))
    for t in TASKS:
        seen |= set(json.loads(l)["prompt"] for l in open(os.path.join(FT, "test", t + ".jsonl")))
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, os.path.join(FT, "make_tasks.py"), "--seed", str(a.seed), "--train", "10",
                        "--test", str(a.n + a.n // 4), "--out", tmp], check=True, stdout=subprocess.DEVNULL)
        rows = []
        for t in TASKS:
            for line in open(os.path.join(tmp, "test", t + ".jsonl")):
                o = json.loads(line)
                if o["prompt"] in seen:
                    continue
                seen.add(o["prompt"])
                o["category"] = t
                rows.append(o)
    random.Random(3).shuffle(rows)
    with open(a.out, "w") as f:
        for o in rows[:a.n]:
            f.write(json.dumps(o) + "\n")
    print(f"wrote {min(a.n, len(rows))} labelled queries to {a.out}")


if __name__ == "__main__":
    main()
