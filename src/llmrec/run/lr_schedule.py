"""The optimizer and the learning-rate schedule, each a Hydra ``_partial_`` config the runner hands to the
model (``model.optimizer_factory``, ``model.lr_schedule``), so no model hard-codes them and model
constructors keep primitive arguments.

- ``optimizer`` (conf/optimizer/): a torch optimizer class as a partial, called as
  ``optimizer(params, lr=model.lr, weight_decay=model.weight_decay)``; AdamW by default.
- ``lr_scheduler`` (conf/lr_scheduler/): null (constant lr, the default) or a :class:`StepSchedule` around
  a torch or transformers scheduler stepped once per optimizer step: ``cosine`` (linear warm-up epochs, then
  a half cosine to ``min_lr_rate`` x ``model.lr``), ``e4srec`` (E4SRec's official 100 warm-up steps, then a
  cosine to 0: ``transformers.get_cosine_schedule_with_warmup``). ``callbacks=cosine`` selects ``cosine``
  and turns early stopping off.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig

from llmrec.errors import ConfigError
from llmrec.models.base import SequentialRecommender
from llmrec.run.instantiate import build

SchedulerFactory = Callable[..., torch.optim.lr_scheduler.LRScheduler]


class StepSchedule(pl.Callback):
    """A scheduler factory sized from the run: ``scheduler(optimizer, num_warmup_steps=...,
    num_training_steps=...)`` (each only if the factory takes it: transformers' ``get_*_schedule_with_warmup``
    do), stepped after every optimizer step. Its state is in the checkpoint, so a resumed run continues
    the curve. As a callback it logs ``train/lr_factor`` (the lr of each epoch's last step over the peak)
    and stops training where the schedule ends, since more epochs would not move.

    ``epochs``: length of the schedule, and of the training; default ``trainer.max_epochs``. A time-boxed
    run (``trainer.max_time``) sets it to the epochs that fit the box, or the decay is cut off part way.
    ``warmup_epochs`` (may be fractional) or ``warmup_steps``: the linear warm-up.
    """

    def __init__(
        self,
        scheduler: SchedulerFactory,
        epochs: int | None = None,
        warmup_epochs: float = 0.0,
        warmup_steps: int | None = None,
    ) -> None:
        if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs <= 0):
            raise ConfigError(f"lr_scheduler.epochs must be a positive integer or null, got {epochs}")
        if not 0 <= warmup_epochs < (epochs or math.inf):
            raise ConfigError(
                f"lr_scheduler.warmup_epochs must be >= 0 and below epochs ({epochs}), got {warmup_epochs}"
            )
        if warmup_steps is not None and (
            isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0
        ):
            raise ConfigError(f"lr_scheduler.warmup_steps must be a non-negative integer, got {warmup_steps}")
        floor = getattr(scheduler, "keywords", {}).get("min_lr_rate")
        if floor is not None and (not isinstance(floor, (int, float)) or not 0.0 <= floor <= 1.0):
            raise ConfigError(f"lr_scheduler.scheduler.min_lr_rate must lie in [0, 1], got {floor}")
        self.scheduler = scheduler
        self.epochs = epochs
        self.warmup_epochs = warmup_epochs
        self.warmup_steps = warmup_steps
        self.total_steps = 0
        self.lr_factor = 1.0

    def __call__(
        self, optimizer: torch.optim.Optimizer, trainer: pl.Trainer
    ) -> torch.optim.lr_scheduler.LRScheduler:
        """The scheduler for ``optimizer``, sized from ``trainer`` (called in ``configure_optimizers``)."""
        epochs = self.epochs or trainer.max_epochs
        if epochs is None or epochs <= 0:
            raise ConfigError(
                "lr_scheduler needs the length of the schedule: set lr_scheduler.epochs=<n> "
                "(trainer.max_epochs is unbounded)"
            )
        if trainer.train_dataloader is None:  # Lightning's estimate skips this when max_epochs is -1
            trainer.fit_loop.setup_data()  # the training loader, so its length is known
        batches = trainer.num_training_batches
        if not math.isfinite(batches):
            raise ConfigError("lr_scheduler needs a training loader with a length")
        steps_per_epoch = math.ceil(batches / trainer.accumulate_grad_batches)
        self.total_steps = epochs * steps_per_epoch
        warmup = self.warmup_steps
        if warmup is None:
            warmup = round(self.warmup_epochs * steps_per_epoch)
        sizes = {"num_warmup_steps": warmup, "num_training_steps": self.total_steps}
        return self.scheduler(
            optimizer, **{k: v for k, v in sizes.items() if k in _parameters(self.scheduler)}
        )

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: object, batch_idx: int
    ) -> None:
        group = trainer.optimizers[0].param_groups[0]
        self.lr_factor = group["lr"] / group["initial_lr"]  # the lr this step will use, over the peak

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        pl_module.log("train/lr_factor", self.lr_factor)
        if trainer.global_step >= self.total_steps:  # the schedule is over: more epochs would not move
            trainer.should_stop = True


def _parameters(factory: Callable[..., Any]) -> set[str]:
    """Argument names ``factory`` still takes (a partial's bound keywords excluded)."""
    target = factory.func if isinstance(factory, functools.partial) else factory
    bound = set(factory.keywords) if isinstance(factory, functools.partial) else set()
    return set(inspect.signature(target).parameters) - bound


def attach_optimization(model: SequentialRecommender, cfg: DictConfig) -> None:
    """Give ``model`` the run's ``optimizer`` and ``lr_scheduler`` (absent keys keep the model's AdamW and
    constant lr). The lr and weight decay stay the model's own (``model.lr``, ``model.weight_decay``)."""
    if cfg.get("optimizer") is not None:
        factory = build(cfg.optimizer)
        given = sorted({"lr", "weight_decay", "params"} & set(getattr(factory, "keywords", {})))
        if given:
            raise ConfigError(
                f"optimizer.{given[0]} is set by the model: use model.{given[0]}=... instead"
                if given[0] != "params"
                else "optimizer.params is the model's trainable parameters: remove it from the config"
            )
        model.optimizer_factory = factory
    if cfg.get("lr_scheduler") is not None:
        model.lr_schedule = build(cfg.lr_scheduler)
