"""LoRA parity fixtures made with Hugging Face PEFT (peft 0.21) on a tiny random Llama.

    python lamina-core/src/test/python/make_lora_fixtures.py   (needs torch, transformers, peft, safetensors)

For each case writes src/test/resources/lora/CASE/: hf/ (the base model, transformers format),
adapter/ (adapter_config.json + adapter_model.safetensors as PEFT saves them, B set to random
values so the update is not zero), and expected.safetensors: input ids [B, T], logits of the
adapted model [B, T, V], the loss (labels = input ids, shifted inside the model as transformers
does), and the gradient of every lora_A / lora_B under its PEFT name.
"""
import json, pathlib
import torch
from transformers import LlamaConfig, LlamaForCausalLM
from peft import LoraConfig, get_peft_model
from safetensors.torch import save_file

ROOT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "lora"
CASES = {
    "llama_all": dict(r=4, lora_alpha=8, use_rslora=False,
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]),
    "llama_qv_rslora": dict(r=8, lora_alpha=16, use_rslora=True, target_modules=["q_proj", "v_proj"]),
}

for name, lc in CASES.items():
    torch.manual_seed(1)
    cfg = LlamaConfig(vocab_size=97, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-5, rope_theta=10000.0,
                      tie_word_embeddings=False, attention_bias=False)
    base = LlamaForCausalLM(cfg).float()
    out = ROOT / name
    base.save_pretrained(out / "hf", safe_serialization=True)
    model = get_peft_model(base, LoraConfig(lora_dropout=0.0, bias="none", task_type="CAUSAL_LM", **lc))
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n: p.copy_(torch.randn_like(p) * 0.1)
    model.save_pretrained(out / "adapter")
    (out / "adapter" / "README.md").unlink(missing_ok=True)   # a generated model card
    ids = torch.randint(0, cfg.vocab_size, (2, 9), generator=torch.Generator().manual_seed(2))
    res = model(input_ids=ids, labels=ids)
    res.loss.backward()
    tensors = {"ids": ids.to(torch.int32), "logits": res.logits.detach().contiguous(), "loss": res.loss.detach().reshape(1)}
    for n, p in model.named_parameters():
        if p.grad is not None:
            key = n.replace(".default", "")
            tensors["grad." + key] = p.grad.detach().contiguous()
    save_file(tensors, str(out / "expected.safetensors"))
    print(name, "loss", float(res.loss), "grads", sum(k.startswith("grad.") for k in tensors))
