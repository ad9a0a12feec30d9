"""Logs the memory plan (:mod:`llmrec.run.memory_plan`) when fitting a model with a Hugging Face backbone
starts, from the model as Lightning holds it (no extra load); on a CUDA device also, after the first
optimizer step, the memory held (weights, gradients, AdamW state) and the peak, against the plan."""

from __future__ import annotations

import logging
from typing import Any

import pytorch_lightning as pl
import torch

from llmrec.run.memory_plan import (
    MemoryPlan,
    Parameters,
    describe_strategy,
    find_backbone,
    memory_plan,
    plan_vs_measured,
)

log = logging.getLogger(__name__)


def model_parameters(trainer: pl.Trainer, model: torch.nn.Module, strategy: str) -> Parameters:
    """The model's counts; under FSDP each rank holds views of its own shard, so the ranks' counts add up."""
    counts = Parameters.of(model)
    if not strategy.startswith("fsdp"):
        return counts
    local = torch.tensor(counts.as_list(), dtype=torch.float64, device=trainer.strategy.root_device)
    summed = trainer.strategy.reduce(local, reduce_op="sum")
    return Parameters(*(int(value) for value in summed.tolist()))


class MemoryPlanLog(pl.Callback):
    """``batch`` sequences per GPU of ``tokens`` tokens: the batch the activation estimate assumes."""

    def __init__(self, batch: int, tokens: int) -> None:
        self.batch, self.tokens = batch, tokens
        self.plan: MemoryPlan | None = None
        self.measured = False

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        backbone = find_backbone(pl_module)
        if backbone is None:  # no LLM: nothing large to plan for
            return
        strategy = describe_strategy(trainer.strategy)
        counts = model_parameters(trainer, pl_module, strategy)
        precision = str(trainer.precision)
        self.plan = memory_plan(
            counts, strategy, trainer.world_size, precision, self.batch, self.tokens, backbone
        )
        if trainer.is_global_zero:
            log.info("%s", self.plan.table())
        device = trainer.strategy.root_device
        if device.type == "cuda":  # the peak of training, not of loading
            torch.cuda.reset_peak_memory_stats(device)

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        device = trainer.strategy.root_device
        if self.plan is None or self.measured or device.type != "cuda" or trainer.global_step < 1:
            return
        self.measured = True  # after the first optimizer step: weights, gradients, AdamW state all held
        if trainer.is_global_zero:
            peak, held = torch.cuda.max_memory_allocated(device), torch.cuda.memory_allocated(device)
            log.info("%s", plan_vs_measured(self.plan, peak, held))
