"""The memory plan: hand-computed bytes on a tiny model, what each strategy shards, the activation estimate,
and the plan logged when a model with a Hugging Face backbone starts fitting."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.strategies import DDPStrategy, FSDPStrategy, SingleDeviceStrategy
from torch import nn
from torch.utils.data import DataLoader

from llmrec.errors import ConfigError
from llmrec.models.layers.llm import LLMSpec, LoraSpec
from llmrec.run.memory_plan import (
    Backbone,
    Parameters,
    activation_bytes,
    describe_strategy,
    find_backbone,
    memory_plan,
    plan_vs_measured,
)
from llmrec.run.memory_plan_log import MemoryPlanLog
from llmrec.run.pipeline import build_trainer
from tests.conftest import compose_config
from tests.test_llm_backbones import tiny_llama


def two_layers() -> nn.Module:
    """A trainable float32 Linear(4, 3) (15 parameters, 60 bytes), a frozen bfloat16 Linear(3, 2) (8, 16)."""
    frozen = nn.Linear(3, 2).to(torch.bfloat16).requires_grad_(False)
    return nn.Sequential(nn.Linear(4, 3), frozen)


def test_counts_and_bytes_of_a_tiny_model() -> None:
    assert Parameters.of(two_layers()) == Parameters(
        total=23, trainable=15, bytes=76, trainable_bytes=60, trainable_half=0
    )
    half = nn.Linear(2, 2).to(torch.bfloat16)  # trainable in 16 bits: 6 parameters needing a master copy
    assert Parameters.of(half) == Parameters(6, 6, 12, 12, 6)


def test_ddp_keeps_everything_on_every_device() -> None:
    plan = memory_plan(Parameters.of(two_layers()), "ddp", 2, "32-true", batch=1, tokens=1)
    assert (plan.weights, plan.gradients, plan.optimizer, plan.activations) == (76, 60, 15 * 8, 0)
    assert plan.total == 76 + 60 + 120


@pytest.mark.parametrize(
    ("strategy", "world", "expected"),
    [
        ("deepspeed_stage_1", 4, (76, 60, 30)),
        ("deepspeed_stage_2", 4, (76, 15, 30)),
        ("fsdp_shard_grad_op", 4, (76, 15, 30)),
        ("fsdp", 2, (38, 30, 60)),
        ("deepspeed_stage_3", 3, (26, 20, 40)),  # 76/3 rounded up; 60/3; 120/3
    ],
)
def test_sharding_divides_only_the_sharded_parts(
    strategy: str, world: int, expected: tuple[int, ...]
) -> None:
    plan = memory_plan(Parameters.of(two_layers()), strategy, world, "32-true", batch=1, tokens=1)
    assert (plan.weights, plan.gradients, plan.optimizer) == expected


def test_deepspeed_mixed_precision_is_the_zero_papers_16_bytes_a_parameter() -> None:
    everything = Parameters(total=1000, trainable=1000, bytes=4000, trainable_bytes=4000, trainable_half=0)
    plan = memory_plan(everything, "deepspeed_stage_2", 1, "bf16-mixed", batch=1, tokens=1)
    # 2 bytes of weights + 2 of gradients + 12 of optimizer state (fp32 master, momentum, variance)
    assert (plan.weights, plan.gradients, plan.optimizer) == (2000, 2000, 12000)
    plan = memory_plan(Parameters.of(two_layers()), "deepspeed_stage_3", 2, "bf16-mixed", batch=1, tokens=1)
    assert (plan.weights, plan.gradients, plan.optimizer) == (23, 15, (15 * 8 + 15 * 4) // 2)


def test_activation_estimate() -> None:
    shape = Backbone(hidden=8, layers=2)
    assert activation_bytes(shape, batch=3, tokens=5, precision="bf16-mixed") == 2 * 34 * 5 * 3 * 8
    assert activation_bytes(shape, batch=3, tokens=5, precision="32-true") == 2 * 2 * 34 * 5 * 3 * 8
    checkpointed = Backbone(hidden=8, layers=2, checkpointing=True)
    assert activation_bytes(checkpointed, 3, 5, "16-mixed") == 2 * 2 * 5 * 3 * 8 + 34 * 5 * 3 * 8
    assert activation_bytes(None, 3, 5, "16-mixed") == 0


@pytest.mark.bad_input
def test_unknown_strategy_and_empty_world_are_config_errors() -> None:
    counts = Parameters.of(two_layers())
    with pytest.raises(ConfigError, match=r"strategy 'zero4' is not one of single, ddp, deepspeed_stage_1"):
        memory_plan(counts, "zero4", 1, "32-true", batch=1, tokens=1)
    with pytest.raises(ConfigError, match="must be >= 1"):
        memory_plan(counts, "ddp", 0, "32-true", batch=1, tokens=1)


def test_strategy_names_from_lightning() -> None:
    assert describe_strategy(SingleDeviceStrategy("cpu")) == "single"
    assert describe_strategy(DDPStrategy()) == "ddp"
    assert describe_strategy(FSDPStrategy()) == "fsdp"
    assert describe_strategy(FSDPStrategy(sharding_strategy="SHARD_GRAD_OP")) == "fsdp_shard_grad_op"
    deepspeed = type("DeepSpeedStrategy", (), {"config": {"zero_optimization": {"stage": 3}}})()
    assert describe_strategy(deepspeed) == "deepspeed_stage_3"


def test_the_backbone_is_found_under_peft_with_its_checkpointing() -> None:
    spec = LLMSpec(config=tiny_llama().config, lora=LoraSpec(["up_proj"], r=2), gradient_checkpointing=True)
    holder = nn.ModuleDict({"head": nn.Linear(2, 2), "llm": spec.load()})
    assert find_backbone(holder) == Backbone(hidden=32, layers=2, checkpointing=True)
    assert find_backbone(two_layers()) is None


def test_table_and_measured_line() -> None:
    counts = Parameters(
        total=7_000_000_000,
        trainable=20_000_000,
        bytes=14 * 10**9,
        trainable_bytes=8 * 10**7,
        trainable_half=0,
    )
    plan = memory_plan(counts, "fsdp", 8, "bf16-mixed", batch=16, tokens=512, backbone=Backbone(4096, 32))
    table = plan.table()
    assert table.startswith("memory plan: fsdp, 8 device(s), precision bf16-mixed")
    assert "7,000,000,000 (13.04 GiB)" in table and "20,000,000 (0.29%)" in table
    assert "activations (batch 16 x 512)" in table
    static = plan.weights + plan.gradients + plan.optimizer
    line = plan_vs_measured(plan, peak_bytes=2 * plan.total, held_bytes=static // 2)
    assert line.startswith(
        "memory plan vs measured (fsdp, bf16-mixed): weights + gradients + optimizer planned"
    )
    assert "(0.50x the plan); total planned" in line and "(2.00x the plan)" in line


class TinyBackboneModule(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.llm = LLMSpec(config=tiny_llama().config, lora=LoraSpec(["up_proj"], r=2)).load()

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        return self.llm(input_ids=batch).logits.float().mean()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW([p for p in self.parameters() if p.requires_grad], lr=1e-3)


def test_the_plan_is_logged_when_fitting_starts(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    module = TinyBackboneModule()
    callback = MemoryPlanLog(batch=2, tokens=6)
    trainer = pl.Trainer(
        accelerator="cpu",
        max_steps=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[callback],
        default_root_dir=str(tmp_path),
    )
    with caplog.at_level(logging.INFO, logger="llmrec.run.memory_plan_log"):
        trainer.fit(module, DataLoader(torch.randint(0, 64, (4, 6)), batch_size=2))
    assert callback.plan is not None and callback.plan.parameters == Parameters.of(module)
    assert "memory plan: single, 1 device(s), precision 32-true" in caplog.text
    assert "activations (batch 2 x 6)" in caplog.text and "measured" not in caplog.text  # no CUDA here


def test_a_training_run_carries_the_plan(tmp_path: Path) -> None:
    cfg = compose_config(["datamodule.batch_size=7", "dataset.max_len=9"], tmp_path)
    cfg.paths.output_dir = str(tmp_path)
    trainer = build_trainer(cfg, tmp_path, stamp={"dataset": "x"})
    plans = [c for c in trainer.callbacks if isinstance(c, MemoryPlanLog)]
    assert [(p.batch, p.tokens) for p in plans] == [(7, 9)]
    assert not any(isinstance(c, MemoryPlanLog) for c in build_trainer(cfg, tmp_path, stamp=None).callbacks)


def test_a_model_without_a_backbone_logs_no_plan() -> None:
    callback = MemoryPlanLog(batch=1, tokens=1)
    callback.on_fit_start(SimpleNamespace(), pl.LightningModule())  # type: ignore[arg-type]
    assert callback.plan is None


def test_on_cuda_the_first_step_logs_held_and_peak_memory(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    callback = MemoryPlanLog(batch=1, tokens=1)
    callback.plan = memory_plan(Parameters.of(two_layers()), "ddp", 1, "32-true", batch=1, tokens=1)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device: 2 * 256)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device: 256)
    cuda = SimpleNamespace(strategy=SimpleNamespace(root_device=torch.device("cuda", 0)), is_global_zero=True)
    with caplog.at_level(logging.INFO, logger="llmrec.run.memory_plan_log"):
        for step in (0, 1, 2):  # logged once, after the first optimizer step
            cuda.global_step = step
            callback.on_train_batch_end(cuda, None, None, None, step)  # type: ignore[arg-type]
    assert caplog.text.count("memory plan vs measured") == 1
    assert "planned 0.00 GiB, held 0.00 GiB (1.00x the plan); total planned" in caplog.text
    assert "(2.00x the plan)" in caplog.text
