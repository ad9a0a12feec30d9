"""LoRA adapters in peft's format: a run writes them next to its checkpoint, plain peft reads them onto the
same backbone (the same outputs, exactly), and llmrec reads them back (``model.adapters``, the same scores).
Tiny LLaMA (E4SRec, LLMSeqPrompt), T5 and BERT (Lite-LLM4Rec's Rec and Item LLMs) built from configs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from peft import PeftModel
from safetensors.torch import load_file

from llmrec.errors import ConfigError
from llmrec.models.base import SequentialRecommender
from llmrec.models.layers.adapters import ADAPTER_CONFIG, lora_parts, save_adapters
from llmrec.models.layers.llm import LLMSpec
from llmrec.models.layers.tokenizers import WordTokenizer
from llmrec.run.pipeline import build_model, run
from tests.conftest import compose_config

NUM_ITEMS, MAX_LEN = 12, 6
TITLES = [
    f"{colour} {thing}" for colour in ("red", "blue", "green") for thing in ("soap", "cream", "brush", "oil")
]
SEQS = torch.tensor([[0, 0, 1, 2, 3], [4, 5, 6, 7, 8], [0, 0, 0, 9, 12]])
TOKENS = torch.tensor([[1, 2, 3, 4, 5], [6, 5, 4, 3, 2]])
T5_LORA = "model.rec_llm.lora={_target_:llmrec.models.layers.llm.LoraSpec,target_modules:[wi_0,wi_1,wo]}"
FAST_PROMPT = ["model.num_beams=2", "model.num_return_sequences=2", "model.max_new_tokens=4", "model.top_k=5"]
MODELS = {
    "e4srec": ["model=e4srec"],
    "lite": ["model=lite_llm4rec_item_lora", T5_LORA],
    "llmseqprompt": ["model=llmseqprompt", *FAST_PROMPT],
}


def make(tmp_path: Path, kind: str, *overrides: str) -> SequentialRecommender:
    cfg = compose_config([*MODELS[kind], "debug=tiny", "encoder=hashing", *overrides], tmp_path)
    cfg.paths.output_dir = str(tmp_path)
    net = build_model(cfg, NUM_ITEMS, MAX_LEN)
    net.bind_data(torch.ones(NUM_ITEMS + 1), TITLES)
    net.configure_model()
    return net.eval()


def trained_looking(net: SequentialRecommender, seed: int = 0) -> SequentialRecommender:
    """Every trainable tensor moved (LoRA's B starts at zero, so an untouched adapter proves nothing)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            if p.requires_grad:
                p.add_(0.1 * torch.randn(p.shape, generator=generator))
    return net


def plain_backbones(net: Any) -> dict[str, tuple[LLMSpec, dict[str, Any]]]:
    """Each LoRA part's spec and the config overrides the model built it with (its vocabulary)."""
    if hasattr(net, "backbone"):  # E4SRec
        tok = net.tokenizer
        ids = {"pad_token_id": tok.pad_id, "eos_token_id": tok.eos_id, "bos_token_id": tok.bos_id}
        return {"backbone": (net.spec, {"vocab_size": len(tok), **ids})}
    if hasattr(net, "lm"):  # LLMSeqPrompt
        tok = net.tokenizer
        ids = {"pad_token_id": tok.pad_id, "eos_token_id": tok.eos_id, "bos_token_id": tok.bos_id}
        return {"lm": (net.spec, {"vocab_size": len(tok), **ids})}
    words = WordTokenizer(net.item_llm.texts)  # Lite-LLM4Rec
    item = (net.item_llm.spec, {"vocab_size": len(words), "pad_token_id": words.pad_id})
    return {"rec": (net.rec_spec, {"vocab_size": 8}), "item_llm.backbone": item}


def outputs(model: Any) -> torch.Tensor:
    out = model(input_ids=TOKENS)
    return out.logits if hasattr(out, "logits") else out.last_hidden_state


@pytest.mark.parametrize("kind", list(MODELS))
def test_exported_adapters_read_by_plain_peft_give_the_same_outputs(kind: str, tmp_path: Path) -> None:
    net = trained_looking(make(tmp_path, kind))
    saved = save_adapters(net, tmp_path / "adapters")
    parts = lora_parts(net)
    assert set(saved) == set(parts) == set(plain_backbones(net))
    for name, (spec, overrides) in plain_backbones(net).items():
        folder = Path(saved[name])
        assert {ADAPTER_CONFIG, "adapter_model.safetensors"} <= {p.name for p in folder.iterdir()}
        base = copy.copy(spec)
        base.lora = None  # the same backbone (same config, same init seed), no LoRA
        plain = PeftModel.from_pretrained(base.load(overrides), str(folder)).eval()
        with torch.no_grad():
            assert torch.equal(outputs(parts[name]), outputs(plain)), name


@pytest.mark.parametrize("kind", list(MODELS))
def test_exported_adapters_load_back_into_llmrec_bit_for_bit(kind: str, tmp_path: Path) -> None:
    net = trained_looking(make(tmp_path, kind))
    save_adapters(net, tmp_path / "adapters")
    fresh = make(tmp_path, kind, f"model.adapters={tmp_path / 'adapters'}")
    lora = {k: v for k, v in net.state_dict().items() if "lora_" in k}
    assert lora and all(torch.equal(v, fresh.state_dict()[k]) for k, v in lora.items())
    # the rest of the trained part (projections, heads) comes from the Lightning checkpoint
    rest = {k: v for k, v in net.state_dict().items() if "lora_" not in k}
    fresh.load_state_dict(rest, strict=False)
    with torch.no_grad():
        assert torch.equal(net(SEQS), fresh(SEQS))


def test_a_part_folder_itself_loads_into_a_model_with_one_part(tmp_path: Path) -> None:
    net = trained_looking(make(tmp_path, "e4srec"))
    saved = save_adapters(net, tmp_path / "adapters")
    fresh = make(tmp_path, "e4srec", f"model.adapters={saved['backbone']}")
    lora = {k: v for k, v in net.state_dict().items() if "lora_" in k}
    assert all(torch.equal(v, fresh.state_dict()[k]) for k, v in lora.items())


def test_a_run_writes_the_tested_checkpoints_lora_as_adapters(tmp_path: Path) -> None:
    overrides = ["model=e4srec", "debug=tiny", "trainer.max_epochs=1"]
    results = run(compose_config([*overrides, "+trainer.limit_train_batches=2"], tmp_path), tmp_path / "run")
    folder = Path(results["adapters"]["backbone"])
    assert folder == tmp_path / "run" / "adapters" / "backbone"
    assert json.loads((tmp_path / "run" / "results.json").read_text())["adapters"] == results["adapters"]
    exported = load_file(str(folder / "adapter_model.safetensors"))
    state = torch.load(results["best_checkpoint"], map_location="cpu", weights_only=True)["state_dict"]
    in_checkpoint = {
        key.removeprefix("backbone.").replace(".default.", "."): value
        for key, value in state.items()
        if "lora_" in key
    }
    assert exported.keys() == in_checkpoint.keys()
    assert all(torch.equal(exported[key], in_checkpoint[key]) for key in exported)
    assert any(key.endswith("lora_B.weight") and value.abs().sum() > 0 for key, value in exported.items())
    assert "input_proj.weight" in state and "item_proj.weight" in state  # not LoRA: the checkpoint keeps them


@pytest.mark.bad_input
def test_adapters_that_do_not_fit_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a folder"):
        make(tmp_path, "e4srec", f"model.adapters={tmp_path / 'nowhere'}")
    save_adapters(make(tmp_path, "e4srec"), tmp_path / "adapters")
    with pytest.raises(ConfigError, match=r"r 16 \(model: 4\)"):
        make(tmp_path, "e4srec", f"model.adapters={tmp_path / 'adapters'}", "model.llm.lora.r=4")
    with pytest.raises(ConfigError, match="no adapter for the model's LoRA part"):
        make(tmp_path, "lite", f"model.adapters={tmp_path / 'adapters'}")
    with pytest.raises(ConfigError, match="has no LoRA part"):
        make(
            tmp_path,
            "lite",
            f"model.adapters={tmp_path / 'adapters'}",
            "model.rec_llm.lora=null",
            "model.item_llm.llm.lora=null",
        )
