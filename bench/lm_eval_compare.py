"""Compares two lm-evaluation-harness runs of the same tasks (--log_samples output directories):
per request, the log-likelihoods must agree within --tol and the is-greedy flags must be equal;
per task, every metric must be identical; generated texts are compared and counted.

    python bench/lm_eval_compare.py RUN_A RUN_B [--tol 1e-3]

Prints one line per task and exits 1 if any check fails.
"""
import argparse
import glob
import json
import os
import sys


def load(run):
    results, samples = None, {}
    for path in glob.glob(os.path.join(run, "**", "*.json"), recursive=True):
        if os.path.basename(path).startswith("results"):
            with open(path) as f:
                results = json.load(f)["results"]
    for path in glob.glob(os.path.join(run, "**", "samples_*.jsonl"), recursive=True):
        task = os.path.basename(path)[len("samples_"):].rsplit("_", 1)[0]
        with open(path) as f:
            samples[task] = {s["doc_id"]: s for s in map(json.loads, f)}
    if results is None:
        sys.exit(f"{run}: no results*.json (run lm_eval with --output_path and --log_samples)")
    return results, samples


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--tol", type=float, default=1e-3)
    args = ap.parse_args()
    ra, sa = load(args.a)
    rb, sb = load(args.b)
    failed = False
    for task in sorted(sa):
        worst, requests, greedy_diff, texts, same_texts = 0.0, 0, 0, 0, 0
        for doc, x in sa[task].items():
            y = sb[task][doc]
            for rx, ry in zip(x["resps"], y["resps"], strict=True):
                if isinstance(rx[0], list):           # loglikelihood: [logprob, is_greedy]
                    requests += 1
                    worst = max(worst, abs(float(rx[0][0]) - float(ry[0][0])))
                    greedy_diff += rx[0][1] != ry[0][1]
                else:                                  # generation: [text]
                    texts += 1
                    same_texts += rx[0] == ry[0]
        metrics = {k: v for k, v in ra[task].items() if k != "alias"}
        diff = {k: (v, rb[task].get(k)) for k, v in metrics.items() if rb[task].get(k) != v}
        ok = worst <= args.tol and greedy_diff == 0 and not diff and same_texts == texts
        failed |= not ok
        line = f"{task}: {len(sa[task])} docs"
        if requests:
            line += f", {requests} loglikelihood requests, max |diff| {worst:.2e} (tol {args.tol:g}), is_greedy differs {greedy_diff}"
        if texts:
            line += f", {same_texts}/{texts} generated texts identical"
        line += ", metrics " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float) and "stderr" not in k)
        line += " identical" if not diff else f" DIFFER {diff}"
        print(("ok   " if ok else "FAIL ") + line)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
