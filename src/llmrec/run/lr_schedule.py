"""Learning-rate schedule as a callback, so it applies to every model without touching its optimizer:
``callbacks=cosine`` (conf/callbacks/cosine.yaml) warms up linearly, then decays along a half cosine."""

from __future__ import annotations

import math

import pytorch_lightning as pl

from llmrec.errors import ConfigError


def cosine_factor(step: int, total: int, warmup: int, final_fraction: float) -> float:
    """Multiplier of the peak lr at optimizer step ``step``: ``(step + 1) / warmup`` during the warm-up,
    then a half cosine from 1 down to ``final_fraction`` at ``total``, held there after."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return final_fraction + (1.0 - final_fraction) * 0.5 * (1.0 + math.cos(math.pi * progress))


class CosineSchedule(pl.Callback):
    """Sets every parameter group's lr before each training batch from the optimizer step count, so the
    curve depends on nothing but the step (a resumed run continues it). The peak is the optimizer's own lr
    (``model.lr``), kept as the group's ``initial_lr``, which checkpoints carry.

    ``epochs``: length of the decay, and of the training, which stops there; default
    ``trainer.max_epochs``. A time-boxed run (``trainer.max_time``) sets it to the epochs that fit the box,
    or the decay is cut off part way.
    """

    def __init__(
        self, epochs: int | None = None, warmup_epochs: float = 0.0, final_fraction: float = 0.0
    ) -> None:
        if epochs is not None and (isinstance(epochs, bool) or not isinstance(epochs, int) or epochs <= 0):
            raise ConfigError(
                f"callbacks.lr_schedule.epochs must be a positive integer or null, got {epochs}"
            )
        if not 0 <= warmup_epochs < (epochs or math.inf):
            raise ConfigError(
                "callbacks.lr_schedule.warmup_epochs must be >= 0 and below epochs "
                f"({epochs}), got {warmup_epochs}"
            )
        if not 0.0 <= final_fraction <= 1.0:
            raise ConfigError(
                f"callbacks.lr_schedule.final_fraction must lie in [0, 1], got {final_fraction}"
            )
        self.epochs = epochs
        self.warmup_epochs = warmup_epochs
        self.final_fraction = final_fraction
        self.total_steps = self.warmup_steps = 0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        epochs = self.epochs or trainer.max_epochs
        if epochs is None or epochs <= 0:
            raise ConfigError(
                "callbacks.lr_schedule needs the length of the decay: set callbacks.lr_schedule.epochs=<n> "
                "(trainer.max_epochs is unbounded)"
            )
        batches = trainer.num_training_batches
        if not math.isfinite(batches):
            raise ConfigError("callbacks.lr_schedule needs a training loader with a length")
        steps_per_epoch = math.ceil(batches / trainer.accumulate_grad_batches)
        self.total_steps = epochs * steps_per_epoch
        self.warmup_steps = round(self.warmup_epochs * steps_per_epoch)
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])  # a resumed optimizer brings its own

    def lr_factor(self, step: int) -> float:
        return cosine_factor(step, self.total_steps, self.warmup_steps, self.final_fraction)

    def on_train_batch_start(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: object, batch_idx: int
    ) -> None:
        factor = self.lr_factor(trainer.global_step)
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group["lr"] = group["initial_lr"] * factor

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # the factor of the epoch's last step
        pl_module.log("train/lr_factor", self.lr_factor(max(0, trainer.global_step - 1)))
        if trainer.global_step >= self.total_steps:  # the decay is over: more epochs would not move
            trainer.should_stop = True
