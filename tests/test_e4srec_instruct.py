"""E4SRec stage 2: instruction tuning writes its own LoRA adapter, which stage 3 merges into the backbone."""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import pytest
import torch

from llmrec.errors import ConfigError
from llmrec.models.e4srec.instruct import InstructionTuning, instruction_tune, read_vocab
from llmrec.models.e4srec.model import E4SRec, transformer_body
from llmrec.models.e4srec.prompts import PREFIX, SUFFIX
from llmrec.models.layers.llm import LoraSpec, minilm_spec
from llmrec.run.instantiate import build
from llmrec.run.pipeline import build_model, run
from tests.conftest import compose_config

COLOURS, THINGS = ("red", "blue", "green"), ("soap", "cream", "brush", "oil")
TITLES = [f"{colour} {thing}" for colour in COLOURS for thing in THINGS]


def windows() -> torch.Tensor:
    """Users who buy the items of one colour in order (item ids 1..12, four per colour)."""
    rows = [[0, 0, *range(4 * c + 1, 4 * c + 5)] for c in range(3)] * 8
    return torch.tensor(rows)


def tiny_e4srec(tmp_path: Path, *overrides: str) -> E4SRec:
    cfg = compose_config(["model=e4srec", "debug=tiny", *overrides], tmp_path)
    net = build_model(cfg, len(TITLES), 6)
    net.configure_model()
    return net.eval()


def test_stage2_adapter_learns_and_becomes_the_e4srec_backbone(tmp_path: Path) -> None:
    spec = compose_config(["model=e4srec"], tmp_path).model.llm
    adapter = tmp_path / "adapter"
    manifest = instruction_tune(build(spec), windows(), TITLES, adapter, [PREFIX, SUFFIX], steps=20, lr=5e-3)
    assert manifest["last_loss"] < 0.7 * manifest["first_loss"]
    assert (adapter / "adapter_config.json").is_file() and (adapter / "vocab.json").is_file()
    assert read_vocab(adapter).unk_id not in read_vocab(adapter).encode(PREFIX + " " + SUFFIX)

    tuned = tiny_e4srec(tmp_path, f"model.instruct_adapter={adapter}")
    words = read_vocab(adapter)
    base = copy.copy(build(spec))
    base.lora = None  # the same random backbone (same vocabulary, same init seed), nothing merged
    raw = base.load({"vocab_size": len(words), "pad_token_id": words.pad_id, "eos_token_id": words.eos_id})
    body = transformer_body(tuned.backbone)
    torch.testing.assert_close(body.embed_tokens.weight, raw.model.embed_tokens.weight)
    merged = body.layers[0].mlp.up_proj.base_layer.weight
    assert not merged.requires_grad and not torch.equal(merged, raw.model.layers[0].mlp.up_proj.weight)
    with torch.no_grad():
        assert tuned(torch.tensor([[1, 2, 3]])).shape == (1, len(TITLES) + 1)


@pytest.mark.bad_input
def test_a_folder_that_is_not_an_adapter_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no vocab\.json"):
        tiny_e4srec(tmp_path, f"model.instruct_adapter={tmp_path}")
    (tmp_path / "vocab.json").write_text('["red"]')
    with pytest.raises(ConfigError, match="not a LoRA adapter folder"):
        tiny_e4srec(tmp_path, f"model.instruct_adapter={tmp_path}")


@pytest.mark.bad_input
def test_stage2_on_an_encoder_backbone_is_one_clear_error(tmp_path: Path) -> None:
    spec = minilm_spec(lora=LoraSpec(["query", "value"]))
    with pytest.raises(ConfigError, match="stage 2 tunes a causal LM"):
        instruction_tune(spec, windows(), TITLES, tmp_path / "adapter", [PREFIX], steps=1)


def test_a_run_with_stage2_steps_tunes_then_trains_on_the_merged_backbone(tmp_path: Path) -> None:
    overrides = ["model=e4srec", "debug=tiny", "trainer.max_epochs=1", "+trainer.limit_train_batches=1"]
    cfg = compose_config([*overrides, "model.stage2.steps=2"], tmp_path)
    results = run(cfg, tmp_path / "run")
    adapter = tmp_path / "run" / "stage2_instruct"
    assert results["config"]["model"]["instruct_adapter"] == str(adapter)
    assert json.loads((adapter / "manifest.json").read_text())["steps"] == 2


def test_stage2_runs_under_the_runs_trainer_settings_and_logs_to_its_loggers(
    tmp_path: Path, monkeypatch
) -> None:
    clip_values: list[float | None] = []
    clip = InstructionTuning.configure_gradient_clipping

    def recording(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None) -> None:
        clip_values.append(gradient_clip_val)
        clip(self, optimizer, gradient_clip_val, gradient_clip_algorithm)

    monkeypatch.setattr(InstructionTuning, "configure_gradient_clipping", recording)
    overrides = ["model=e4srec", "debug=tiny", "trainer.max_epochs=1", "+trainer.limit_train_batches=1"]
    settings = ["trainer.gradient_clip_val=0.25", "+trainer.precision=bf16-mixed", "model.stage2.steps=3"]
    run(compose_config([*overrides, *settings], tmp_path), tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / "stage2_instruct" / "manifest.json").read_text())
    assert manifest["steps"] == 3 and clip_values == [0.25] * 3
    assert (
        manifest["trainer"]["precision"] == "bf16-mixed" and manifest["trainer"]["gradient_clip_val"] == 0.25
    )
    with (tmp_path / "run" / "csv" / "metrics.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len([row for row in rows if row.get("stage2/loss")]) == 3
    assert any(row.get("train/loss") for row in rows)  # the run's own fit logs to the same logger
