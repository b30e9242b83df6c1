"""Reference figures for Lamina's evaluation (dev.lamina.eval), from PyTorch/transformers on the tiny
Hugging Face fixtures in lamina-core/src/test/resources/hf/models/.

Run (offline wheels, see make_hf_fixtures.py; or /tmp/lamina-py):
    /tmp/lamina-py/bin/python lamina-core/src/test/python/make_eval_fixtures.py

Writes lamina-core/src/test/resources/eval/reference.json:

  perplexity   for each model and (context, stride): Hugging Face's sliding-window loop ("Perplexity
               of fixed-length models"): windows [begin, begin+context) every stride tokens, targets
               before the previous window's end masked with -100. Instead of the docs' mean loss times
               (targets - 1) we sum the per-token log-likelihoods of exactly the tokens each window
               scores (log_softmax of the model's float32 logits, summed in float64), which is the
               quantity the recipe estimates; the docs' figure is recorded beside it (docs_ppl).
               gpt2: the first 600 characters of hf/brown-slice.txt through the fixture's
               tokenizer.json (ids, and bytes/chars of the text after the first token, recorded);
               llama, mistral (sliding window 4): 150 seeded random ids.
  loglikelihood  gpt2: (context, continuation) pairs tokenized as lm-evaluation-harness does
               (trailing spaces of the context move to the continuation; encode(context +
               continuation) split after len(encode(context)); an empty context becomes the
               end-of-text token), with the summed log-probability of the continuation and whether
               every continuation token is the greedy one.
"""
import json
import math
import os

import torch
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
RES = os.path.join(HERE, "..", "resources")
MODELS = os.path.join(RES, "hf", "models")


def load(name):
    m = AutoModelForCausalLM.from_pretrained(os.path.join(MODELS, name), dtype=torch.float32,
                                             attn_implementation="eager")
    m.eval()
    return m


def token_logprobs(model, ids):
    """log P(ids[t] | ids[:t]) for t >= 1, float64 [T-1]."""
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
    lp = torch.log_softmax(logits, dim=-1)
    return lp[:-1].gather(1, torch.tensor(ids[1:]).unsqueeze(1)).squeeze(1), logits


def sliding(model, ids, context, stride):
    nll, n, prev_end = 0.0, 0, 0
    docs_sum, docs_n = 0.0, 0
    for begin in range(0, len(ids), stride):
        end = min(begin + context, len(ids))
        window = ids[begin:end]
        lp, _ = token_logprobs(model, window)
        first = max(prev_end, begin + 1)          # tokens this window scores: [first, end)
        nll -= lp[first - begin - 1:].sum().item()
        n += end - first
        # the docs' figure: mean loss over the unmasked shifted labels times (targets - 1)
        trg = end - prev_end
        labels = torch.tensor([window])
        labels[:, :-trg] = -100
        with torch.no_grad():
            loss = model(torch.tensor([window]), labels=labels).loss.item()
        docs_sum += loss * (trg - 1)
        docs_n += trg - 1
        prev_end = end
        if end == len(ids):
            break
    return {"context": context, "stride": stride, "tokens": n, "nll": nll, "ppl": math.exp(nll / n),
            "docs_ppl": math.exp(docs_sum / docs_n)}


def encode_pair(tok, context, continuation):
    if context == "":
        return [tok.eos_token_id], tok.encode(continuation)
    n = len(context) - len(context.rstrip())
    if n:
        continuation = context[-n:] + continuation
        context = context[:-n]
    whole = tok.encode(context + continuation)
    ctx = tok.encode(context)
    return ctx, whole[len(ctx):]


def main():
    torch.manual_seed(0)
    out = {"perplexity": [], "loglikelihood": []}
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(MODELS, "gpt2", "tokenizer.json"))
    tok.eos_token = "<|endoftext|>"
    with open(os.path.join(RES, "hf", "brown-slice.txt"), encoding="utf-8") as f:
        text = f.read()[:600]
    ids = tok.encode(text)
    first = tok.decode(ids[:1])
    gpt2 = load("gpt2")
    entry = {"model": "gpt2", "text_chars": 600, "ids": ids,
             "bytes": len(text.encode()) - len(first.encode()), "chars": len(text) - len(first), "runs": []}
    for context, stride in [(64, 64), (64, 16), (32, 7), (2, 1)]:
        entry["runs"].append(sliding(gpt2, ids, context, stride))
    out["perplexity"].append(entry)
    g = torch.Generator().manual_seed(1)
    for name in ["llama", "mistral"]:
        m = load(name)
        rid = torch.randint(0, m.config.vocab_size, (150,), generator=g).tolist()
        out["perplexity"].append({"model": name, "ids": rid, "runs": [sliding(m, rid, c, s) for c, s in [(64, 64), (64, 20), (16, 5)]]})

    pairs = [("The jury said", " that"), ("The jury said ", "that the"), ("", "The Fulton"),
             ("in term-end presentments", " of the city"), ("Atlanta's recent", " primary election"),
             ("no evidence", "\n")]
    for context, continuation in pairs:
        ctx, cont = encode_pair(tok, context, continuation)
        whole = ctx + cont
        lp, logits = token_logprobs(gpt2, whole)
        cl = lp[len(ctx) - 1:]
        greedy = all(logits[len(ctx) - 1 + i].argmax().item() == cont[i] for i in range(len(cont)))
        out["loglikelihood"].append({"context": context, "continuation": continuation, "context_ids": ctx,
                                     "continuation_ids": cont, "logprob": cl.sum().item(), "greedy": greedy})
    os.makedirs(os.path.join(RES, "eval"), exist_ok=True)
    path = os.path.join(RES, "eval", "reference.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote", path)
    for e in out["perplexity"]:
        for r in e["runs"]:
            print(e["model"], r)


if __name__ == "__main__":
    main()
