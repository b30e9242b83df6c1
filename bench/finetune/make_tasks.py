"""Generates the instruction set of the fine-tuning demonstration (docs/experiments/finetune.md):
four tasks with one checkable answer each, split into train and test by a seed.

    python bench/finetune/make_tasks.py [--seed 7] [--train 2000] [--test 200] [--out bench/finetune]

Writes train.jsonl ({"prompt", "completion"} lines for `lamina finetune`) and test/TASK.jsonl
({"prompt", "reference", "stop"} lines, one generation task per file for `lamina eval --tasks
bench/finetune/test`: exact match of the greedy answer). Tasks, in equal shares:
  add      "Q: What is 37 + 48?\\nA:"                                  -> " 85"
  reverse  "Q: Reverse the words: red green blue\\nA:"                  -> " blue green red"
  date     "Q: Write 2024-03-05 as DD/MM/YYYY.\\nA:"                    -> " 05/03/2024"
  extract  "Q: Give the city as JSON: Maria lives in Lisbon and ...\\nA:" -> ' {"city": "Lisbon"}'
No prompt of the test set occurs in the training set.
"""
import argparse
import json
import os
import random

WORDS = ("red green blue house tree river stone cloud paper horse bread music window garden letter "
         "summer winter silver table chair road light night morning city field water fire iron").split()
NAMES = "Maria John Anna Peter Laura David Clara Thomas Helen Robert Alice James Sara Daniel".split()
CITIES = "Lisbon Boston Paris Denver Madrid Chicago Berlin Dallas Vienna Houston Dublin Seattle Rome Austin".split()
JOBS = "nurse teacher farmer lawyer painter doctor baker pilot writer driver".split()


def add(r):
    a, b = r.randint(10, 99), r.randint(10, 99)
    return f"Q: What is {a} + {b}?\nA:", f" {a + b}"


def reverse(r):
    words = r.sample(WORDS, r.randint(3, 5))
    return f"Q: Reverse the words: {' '.join(words)}\nA:", " " + " ".join(reversed(words))


def date(r):
    y, m, d = r.randint(1950, 2030), r.randint(1, 12), r.randint(1, 28)
    return f"Q: Write {y:04d}-{m:02d}-{d:02d} as DD/MM/YYYY.\nA:", f" {d:02d}/{m:02d}/{y:04d}"


def extract(r):
    name, city, job = r.choice(NAMES), r.choice(CITIES), r.choice(JOBS)
    return (f"Q: Give the city as JSON: {name} lives in {city} and works as a {job}.\nA:",
            " " + json.dumps({"city": city}))


TASKS = [add, reverse, date, extract]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args()
    r = random.Random(args.seed)
    seen, test, train = set(), [], []
    while len(test) < args.test:
        prompt, answer = TASKS[len(test) % len(TASKS)](r)
        if prompt not in seen:
            seen.add(prompt)
            test.append((TASKS[len(test) % len(TASKS)].__name__, {"prompt": prompt, "reference": answer, "stop": ["\n"]}))
    while len(train) < args.train:
        prompt, answer = TASKS[len(train) % len(TASKS)](r)
        if prompt not in seen:
            train.append({"prompt": prompt, "completion": answer + "\n"})
    os.makedirs(os.path.join(args.out, "test"), exist_ok=True)
    files = {"train.jsonl": train}
    for task in TASKS:
        files[os.path.join("test", task.__name__ + ".jsonl")] = [row for name, row in test if name == task.__name__]
    for name, rows in files.items():
        with open(os.path.join(args.out, name), "w") as f:
            for row in rows:
                f.write(json.dumps(row) + "\n")
    print(f"wrote {len(train)} training and {len(test)} test examples to {args.out}")


if __name__ == "__main__":
    main()
