"""Expected chat-template renderings for Lamina's Jinja tests, from transformers' apply_chat_template.

Run (from the repository root, with the venv that has transformers and jinja2):
    /tmp/lamina-py/bin/python lamina-core/src/test/python/make_chat_fixtures.py [LLAMACPP_DIR]

LLAMACPP_DIR (default /tmp/lamina-llamacpp) holds llama.cpp/models/templates/*.jinja, the real
templates of the node-llama-cpp 3.22.1 package; they are read there, not copied. The templates in
lamina-core/src/test/resources/chat/templates/ are small ones written for these tests.

For every template and every case of resources/chat/conversations.json it writes, into
resources/chat/expected/<template>.json:
    {"sha256": <of the template source>, "cases": {<case>: {"text": <rendering>}
                                                  | {"error": <message>, "raised": <by raise_exception>}}}

Rendering is tokenizer.apply_chat_template(messages, tools=..., add_generation_prompt=...,
tokenize=False) on a tokenizer whose special tokens are bos <s>, eos </s>, unk <unk>, with the
clock fixed at 2024-07-26 10:00 (strftime_now) so that dated templates are reproducible.

Recorded (transformers 5.18.0, jinja2 3.1.6, node-llama-cpp 3.22.1's llama.cpp): 70 package templates
and 3 own ones; jinja2 itself fails on 22 of the 292 template/case pairs (templates that need tools,
lack a system role, mutate lists in the sandbox ...), which the Java test expects to fail too.
"""
import datetime as _dt
import hashlib
import json
import pathlib
import sys

import jinja2
import transformers
from tokenizers import Tokenizer, models
from transformers import PreTrainedTokenizerFast
from transformers.utils import chat_template_utils

ROOT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "chat"
FIXED_NOW = _dt.datetime(2024, 7, 26, 10, 0, 0)


class FixedClock(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return FIXED_NOW


chat_template_utils.datetime = FixedClock  # strftime_now reads datetime.now() from that module


def tokenizer(template):
    tok = Tokenizer(models.WordLevel({"<s>": 0, "</s>": 1, "<unk>": 2}, unk_token="<unk>"))
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   chat_template=template)


def render(template, case, tools):
    try:
        text = tokenizer(template).apply_chat_template(
            case["messages"], tools=tools if case.get("tools") else None,
            add_generation_prompt=case["add_generation_prompt"], tokenize=False)
        return {"text": text}
    except jinja2.TemplateSyntaxError as e:
        return {"error": f"{e.message} (line {e.lineno})", "raised": False}
    except jinja2.TemplateError as e:
        # raise_exception raises a bare TemplateError; jinja2's own errors are subclasses
        return {"error": str(e), "raised": type(e) is jinja2.TemplateError}
    except Exception as e:  # TypeError, KeyError ... inside the template
        return {"error": f"{type(e).__name__}: {e}", "raised": False}


def main():
    llamacpp = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/lamina-llamacpp")
    spec = json.loads((ROOT / "conversations.json").read_text(encoding="utf-8"))
    sources = sorted((llamacpp / "llama.cpp/models/templates").glob("*.jinja")) + sorted((ROOT / "templates").glob("*.jinja"))
    out_dir = ROOT / "expected"
    out_dir.mkdir(exist_ok=True)
    for path in sources:
        template = path.read_text(encoding="utf-8")
        cases = {c["name"]: render(template, c, spec["tools"]) for c in spec["cases"]}
        record = {"sha256": hashlib.sha256(template.encode("utf-8")).hexdigest(), "cases": cases}
        (out_dir / (path.stem + ".json")).write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        errors = [n for n, c in cases.items() if "error" in c]
        print(f"{path.stem}: {len(cases) - len(errors)} rendered" + (f", errors in {errors}" if errors else ""))
    print(f"transformers {transformers.__version__}, jinja2 {jinja2.__version__}, {len(sources)} templates")


if __name__ == "__main__":
    main()
