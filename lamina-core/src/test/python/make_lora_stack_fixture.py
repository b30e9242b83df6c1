"""Two LoRA adapters active at once on one base, as PEFT computes it (peft 0.21).

    python lamina-core/src/test/python/make_lora_stack_fixture.py   (after make_lora_fixtures.py; needs torch, transformers, peft)

Loads the base of the lora fixtures (llama_all and llama_qv_rslora share it) with both of their
adapters, activates both (each LoRA layer then adds the sum of their updates) and writes
src/test/resources/lora/stacked.safetensors: input ids [B, T] and the logits [B, T, V].
"""
import pathlib
import torch
from transformers import LlamaForCausalLM
from peft import PeftModel
from safetensors.torch import save_file

ROOT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "lora"
base = LlamaForCausalLM.from_pretrained(ROOT / "llama_all" / "hf").float()
model = PeftModel.from_pretrained(base, ROOT / "llama_all" / "adapter", adapter_name="all")
model.load_adapter(ROOT / "llama_qv_rslora" / "adapter", adapter_name="qv")
model.base_model.set_adapter(["all", "qv"])
model.eval()
ids = torch.randint(0, base.config.vocab_size, (2, 9), generator=torch.Generator().manual_seed(3))
with torch.no_grad():
    logits = model(input_ids=ids).logits
    model.base_model.set_adapter("all")
    single = model(input_ids=ids).logits
assert (logits - single).abs().max() > 1e-3, "the second adapter changed nothing"
save_file({"ids": ids.to(torch.int32), "logits": logits.contiguous()}, str(ROOT / "stacked.safetensors"))
print("stacked logits", tuple(logits.shape))
