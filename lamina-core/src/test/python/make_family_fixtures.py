"""Tokenizers shaped like each model family's, with reference ids, for Lamina's tokenizer pipeline tests.

Each family's tokenizer is trained small on the Brown slice (hf/brown-slice.txt, written by
make_tokenizer_fixtures.py) and assembled with the same components the real model's
tokenizer.json uses; SentencePiece families also keep their tokenizer.model.

Run (offline wheels in the project's Python venv):
    /tmp/lamina-py/bin/python lamina-core/src/test/python/make_family_fixtures.py

Writes lamina-core/src/test/resources/tokenizers/<family>/:
    tokenizer.json   the tokenizer as the `tokenizers` library saves it
    cases.jsonl      one line per text of ../texts.json, in order (misc-*: the first 70 texts): {"ids", "ids_special", "decoded"}:
                     tokenizers' encode without and with add_special_tokens (ids_special omitted when
                     equal to ids), and decode(ids, skip_special_tokens=False) (omitted when it is the text)
    tokenizer.model  (SentencePiece families) the trained model
    spm-cases.jsonl  (SentencePiece families) {"ids", "decoded"} per text: sentencepiece's encode and
                     decode (decoded omitted when it is the text; null when the ids hold the unknown
                     piece, which SentencePiece decodes to " ⁇ ")
and lamina-core/src/test/resources/tokenizers/texts.json, the texts (a JSON array).

Families:
    llama3      byte-level BPE, ignore_merges (two vocabulary words no merges build), Llama 3's Split
                regex then ByteLevel without regex,
                TemplateProcessing with <|begin_of_text|>
    qwen2       byte-level BPE, NFC normalizer, Qwen2's Split regex, ByteLevel post-processor, ChatML specials
    llama2      SentencePiece BPE with byte fallback as transformers converts Llama-2 (legacy):
                Prepend + Replace normalizer, no pre-tokenizer, Replace/ByteFallback/Fuse/Strip decoder, <s> template
    mistral     the same model as Mistral / Llama non-legacy: Metaspace(prepend_scheme first, split false)
    phi3        llama2 plus Phi-3's chat tokens (rstrip, not normalized) and a non-special added token
    gemma       SentencePiece BPE without dummy prefix, byte fallback, Replace normalizer,
                Split(" ", merged_with_previous), user-defined turn tokens
    unigram     tokenizers' Unigram: NFKC + Lowercase-free Strip, Metaspace(always, split) + Digits +
                Punctuation, Metaspace decoder
    spm-unigram SentencePiece Unigram with byte fallback (tokenizer.model only; read by Lamina directly)
    misc-*      small BPE with continuing_subword_prefix / end_of_word_suffix and unk, each Split
                behavior (inverted too), Lowercase/Strip/NFKD/StripAccents/Replace-regex normalizers
"""
import json
import os
import random
import sys

import sentencepiece as spm
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers.tokenization_utils_base import generate_merges

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_tokenizer_fixtures import random_texts, tricky_texts  # noqa: E402

RESOURCES = os.path.normpath(os.path.join(HERE, "..", "resources"))
OUT = os.path.join(RESOURCES, "tokenizers")
SLICE = os.path.join(RESOURCES, "hf", "brown-slice.txt")
BROWN = "/work/shared/data/brown/brown.txt"
WORK = "/tmp/lamina-family-fixtures"

LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


def texts():
    extra = [
        "ſ'S it'S I'M WE'LL 'Ll", "x = [1, 2, 3]\nfor i in range(10):\n\tprint(i ** 2)\n", "   \n\n   \n", "\r\n\r\n  x",
        "12345678901 1,000,000.50 ①②③", "ｆｕｌｌ ｗｉｄｔｈ ﬁ ligature Ⅷ ㎏", "I\u0307stanbul İ ΣΑΣ ς",
        "🦙.cpp llama 🦙🦙", "\u0f0f\u16a0 rare scripts \U0001d11e \U00020000", "▁already▁escaped ▁",
        "<s> bos in text </s>", "<|user|>hi<|end|>\n<|assistant|> ok<|end|>", "<start_of_turn>user\nhi<end_of_turn>",
        "<|im_start|>user\nhello<|im_end|>", "<|begin_of_text|>Hello", "[LINK] x [LINK]y", "zzqx zzqx unmergeable",
    ]
    with open(BROWN, encoding="utf-8") as f:
        brown = f.read().splitlines()
    return tricky_texts() + extra + random_texts(50, 7) + brown[30000:30040]


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def save(name, tok, count=None):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    tok.save(os.path.join(d, "tokenizer.json"))
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))   # test what was written
    rows = []
    for t in texts()[:count]:
        ids = tok.encode(t, add_special_tokens=False).ids
        row = {"ids": ids}
        if tok.encode(t).ids != ids:
            row["ids_special"] = tok.encode(t).ids
        decoded = tok.decode(ids, skip_special_tokens=False)
        if decoded != t:
            row["decoded"] = decoded
        rows.append(row)
    write_jsonl(os.path.join(d, "cases.jsonl"), rows)
    print(f"{name}: vocab {tok.get_vocab_size()}, {len(rows)} texts")


def edit(tok, change):
    """A copy of tok with its JSON changed by change(doc) (for options the Python API does not expose)."""
    doc = json.loads(tok.to_str())
    change(doc)
    return Tokenizer.from_str(json.dumps(doc))


def byte_level(name, regex, vocab, specials, ignore_merges, normalizer, post):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(regex), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    if normalizer:
        tok.normalizer = normalizer
    tok.decoder = decoders.ByteLevel()
    tok.train([SLICE], trainers.BpeTrainer(vocab_size=vocab, special_tokens=specials, show_progress=False,
                                           initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.post_processor = post(tok)
    if ignore_merges:
        def unmergeable(d):
            # words no merge sequence builds, so that ignore_merges changes their ids
            for w in ["\u0120zzqx", "\u0120unmergeable"]:
                d["model"]["vocab"][w] = len(d["model"]["vocab"]) + len(d["added_tokens"])
            d["model"]["ignore_merges"] = True
        tok = edit(tok, unmergeable)
    save(name, tok)


def train_spm(name, model_type, **kw):
    os.makedirs(WORK, exist_ok=True)
    prefix = os.path.join(WORK, name)
    spm.SentencePieceTrainer.train(input=SLICE, model_prefix=prefix, model_type=model_type, vocab_size=kw.pop("vocab_size", 900),
                                   byte_fallback=True, normalization_rule_name="identity", character_coverage=0.9995,
                                   minloglevel=2, **kw)
    return prefix + ".model"


def spm_cases(name, model_path):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(model_path, "rb") as f, open(os.path.join(d, "tokenizer.model"), "wb") as g:
        g.write(f.read())
    sp = spm.SentencePieceProcessor(model_file=model_path)
    rows = []
    for t in texts():
        ids = sp.encode(t)
        row = {"ids": ids}
        decoded = None if sp.unk_id() in ids else sp.decode(ids)
        if decoded != t:
            row["decoded"] = decoded
        rows.append(row)
    write_jsonl(os.path.join(d, "spm-cases.jsonl"), rows)
    print(f"{name}: sentencepiece vocab {sp.get_piece_size()}, {len(rows)} texts")


def spm_bpe_tokenizer(model_path, specials_from_types=True):
    """The tokenizers BPE model transformers' converters build from a SentencePiece BPE model."""
    sp = spm.SentencePieceProcessor(model_file=model_path)
    pieces = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
    vocab = {p: i for i, (p, _) in enumerate(pieces)}
    merges = generate_merges(vocab, pieces)
    tok = Tokenizer(models.BPE(vocab, merges, unk_token=sp.id_to_piece(sp.unk_id()), fuse_unk=True, byte_fallback=True))
    specials = [AddedToken(sp.id_to_piece(i), normalized=False, special=sp.is_control(i) or sp.is_unknown(i))
                for i in range(sp.get_piece_size()) if sp.is_control(i) or sp.is_unknown(i)]
    tok.add_special_tokens(specials)
    return tok, sp


def llama2_family():
    model = train_spm("llama2", "bpe", remove_extra_whitespaces=False, split_digits=True, allow_whitespace_only_pieces=True)
    spm_cases("llama2", model)
    tok, sp = spm_bpe_tokenizer(model)
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", sp.bos_id())])
    save("llama2", tok)

    mistral, _ = spm_bpe_tokenizer(model)
    mistral.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    mistral.decoder = tok.decoder
    mistral.post_processor = tok.post_processor
    save("mistral", mistral)

    phi3, _ = spm_bpe_tokenizer(model)
    phi3.normalizer = tok.normalizer
    phi3.decoder = tok.decoder
    phi3.post_processor = tok.post_processor
    phi3.add_special_tokens([AddedToken(t, rstrip=True, lstrip=False, normalized=False) for t in
                             ["<|endoftext|>", "<|assistant|>", "<|end|>", "<|user|>"]])
    phi3.add_tokens([AddedToken("[LINK]", lstrip=True, normalized=True)])
    save("phi3", phi3)


def gemma_family():
    model = train_spm("gemma", "bpe", add_dummy_prefix=False, remove_extra_whitespaces=False, split_digits=True,
                      allow_whitespace_only_pieces=True, user_defined_symbols=["<start_of_turn>", "<end_of_turn>"],
                      pad_id=0, eos_id=1, bos_id=2, unk_id=3)
    spm_cases("gemma", model)
    tok, sp = spm_bpe_tokenizer(model)
    tok.add_special_tokens([AddedToken(t, normalized=False) for t in ["<start_of_turn>", "<end_of_turn>"]])
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.pre_tokenizer = pre_tokenizers.Split(" ", "merged_with_previous")
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", sp.bos_id())])
    save("gemma", tok)


def unigram_family():
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Strip(left=False, right=True)])
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
        pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.Punctuation()])
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.train([SLICE], trainers.UnigramTrainer(vocab_size=700, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>",
                                               show_progress=False))
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    save("unigram", tok)
    spm_cases("spm-unigram", train_spm("spm-unigram", "unigram", vocab_size=800, user_defined_symbols=["[LINK]"]))


def misc_family():
    base = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    base.normalizer = normalizers.Sequence([normalizers.NFKD(), normalizers.StripAccents(), normalizers.Lowercase(),
                                            normalizers.Strip(), normalizers.Replace(Regex(r"\s+"), " ")])
    base.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("contiguous")])
    base.decoder = decoders.Sequence([decoders.Replace("</w>", " "), decoders.Replace("##", ""), decoders.Strip(" ", 0, 1)])
    base.train([SLICE], trainers.BpeTrainer(vocab_size=400, special_tokens=["[UNK]", "[CLS]", "[SEP]"], continuing_subword_prefix="##",
                                            end_of_word_suffix="</w>", show_progress=False, limit_alphabet=60))
    base.post_processor = processors.BertProcessing(("[SEP]", 2), ("[CLS]", 1))
    save("misc-subword", base)
    variants = {
        "removed": pre_tokenizers.Split(Regex(r"[aeiou]+"), "removed"),
        "isolated-invert": pre_tokenizers.Split(Regex(r"\p{L}+"), "isolated", invert=True),
        "previous": pre_tokenizers.Split(" ", "merged_with_previous"),
        "next": pre_tokenizers.Split(Regex(r"\s"), "merged_with_next"),
        "contiguous": pre_tokenizers.Split(Regex(r"\d|[.,]"), "contiguous"),
        "whitespace-digits": pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Digits(individual_digits=False)]),
    }
    for name, pre in variants.items():
        tok = Tokenizer.from_str(base.to_str())
        tok.normalizer = normalizers.Lowercase()
        tok.pre_tokenizer = pre
        save("misc-" + name, tok, 70)


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "texts.json"), "w", encoding="utf-8") as f:
        json.dump(texts(), f, ensure_ascii=False, indent=0)
    byte_level("llama3", LLAMA3, 800, ["<|begin_of_text|>", "<|end_of_text|>"], True, None,
               lambda t: processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                                       special_tokens=[("<|begin_of_text|>", t.token_to_id("<|begin_of_text|>"))]))
    byte_level("qwen2", QWEN2, 800, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], False, normalizers.NFC(),
               lambda t: processors.ByteLevel(trim_offsets=False))
    llama2_family()
    gemma_family()
    unigram_family()
    misc_family()


if __name__ == "__main__":
    main()
