"""The interface every model implements, and the evaluation every model shares.

A model maps a left-padded sequence of item ids (B, L) to a score for every item (B, N+1), column 0
being padding. It owns its training objective (``loss``); the framework, not the model, does ranking
and metrics, so comparisons are fair.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import pytorch_lightning as pl
import torch
from torch import Tensor

from llmrec.data.batch import SeqBatch
from llmrec.errors import ConfigError
from llmrec.evaluation.evaluator import RankingEvaluator

# Which positions of a training window a model's loss trains on (``train_targets``), as the sample schema
# of the study sets it (conf/samples/, ``${samples.targets}`` in every trainable model's config).
SCHEMAS_BY_TARGETS: dict[str, tuple[str, ...]] = {"all": ("tiled", "last_n"), "last": ("prefixes",)}


def check_train_targets(model: str, value: object, supported: tuple[str, ...] = ("all", "last")) -> str:
    """``value`` if ``model`` can train on it, else one error naming the schemas ``model`` supports."""
    if value not in supported:
        schemas = ", ".join(f"samples={s}" for t in supported for s in SCHEMAS_BY_TARGETS[t])
        raise ConfigError(
            f"{model} cannot train with train_targets={value!r}: it supports {list(supported)} "
            f"({schemas}); choose one of those schemas"
        )
    return str(value)


def next_item_positions(inputs: Tensor, new_targets: Tensor | None) -> Tensor:
    """(B, L) positions of left-padded windows ``inputs`` (B, L) whose next item a causal model trains on:
    every position that has seen an item, and only the last ``new_targets`` (B,) of each window when given
    (overlapping windows: earlier targets belong to another window)."""
    train = inputs != 0
    if new_targets is not None:
        column = torch.arange(inputs.shape[1], device=inputs.device)
        train &= column[None, :] >= inputs.shape[1] - new_targets[:, None]
    return train


# The score of every item outside a generative model's ranked list (they tie, ranked pessimistically).
LOW_SCORE = -1e9


class LrSchedule(Protocol):
    """Builds the learning-rate scheduler of an optimizer, sized from the trainer (stepped per step)."""

    def __call__(
        self, optimizer: torch.optim.Optimizer, trainer: pl.Trainer
    ) -> torch.optim.lr_scheduler.LRScheduler: ...


class SequentialRecommender(pl.LightningModule, ABC):
    requires_training: ClassVar[bool] = True
    # forward returns a new tensor each call, so evaluation may rank it in place and overwrite it;
    # a model that returns a tensor it keeps (a cache, a view of its state) sets this to False
    fresh_scores: ClassVar[bool] = True
    # the loss trains only on each window's last ``batch.new_targets`` targets when given (overlapping
    # windows, datamodule.window_stride); a model whose loss reads every position leaves this False
    honours_new_targets: ClassVar[bool] = False

    def __init__(self, num_items: int, max_len: int, lr: float = 1e-3, weight_decay: float = 0.0) -> None:
        super().__init__()
        if num_items <= 0:
            raise ConfigError(f"num_items must be positive, got {num_items}")
        if max_len <= 0:
            raise ConfigError(
                f"max_len must be a positive integer, got {max_len}; set dataset.max_len=50 (say)"
            )
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0:
            raise ConfigError(f"model.lr must be positive, got {lr}")
        self.num_items = num_items
        self.max_len = max_len
        self.lr = lr
        self.weight_decay = weight_decay
        # set by the runner from the `optimizer` and `lr_scheduler` configs (llmrec.run.lr_schedule), not
        # constructor arguments, so hyperparameters stay primitives
        self.optimizer_factory: Callable[..., torch.optim.Optimizer] = torch.optim.AdamW
        self.lr_schedule: LrSchedule | None = None
        self.evaluator: RankingEvaluator | None = None
        self.eval_seconds = 0.0
        self._eval_start = 0.0
        # targets the last training step's loss scored, set by a loss that scores a subset of the batch's
        # targets (one sampled position per window, a cloze mask, a per-batch cap); None: every target.
        # The compute meter reads and clears it (results.json: budget.spent.loss_targets).
        self.loss_targets: Tensor | int | None = None

    # --- what each model provides -------------------------------------------------------------
    @abstractmethod
    def forward(self, item_seq: Tensor) -> Tensor:  # (B, L) -> (B, N+1)
        """Scores of every item (column 0 = padding) after each left-padded sequence."""

    @abstractmethod
    def loss(self, batch: SeqBatch) -> Tensor:
        """The model's own training objective on a batch of training windows."""

    def bind_data(self, item_counts: Tensor, item_text: list[str]) -> None:
        """Data-derived state a model may need before fitting (popularity counts, item text)."""

    # --- shared training and evaluation -------------------------------------------------------
    def training_step(self, batch: SeqBatch, batch_idx: int) -> Tensor:
        loss = self.loss(batch)
        self.log("train/loss", loss, prog_bar=True, batch_size=batch.items.shape[0])
        return loss

    def configure_optimizers(self) -> Any:
        params = [p for p in self.parameters() if p.requires_grad]
        optimizer = self.optimizer_factory(params, lr=self.lr, weight_decay=self.weight_decay)
        if self.lr_schedule is None:
            return optimizer
        scheduler = self.lr_schedule(optimizer, self.trainer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def configure_callbacks(self) -> list[pl.Callback]:
        # a schedule also stops training where it ends and logs its factor
        return [self.lr_schedule] if isinstance(self.lr_schedule, pl.Callback) else []

    def _evaluator(self) -> RankingEvaluator:
        if self.evaluator is None:
            raise RuntimeError(
                "attach a RankingEvaluator (model.evaluator = ...) before validating or testing"
            )
        return self.evaluator

    def _eval_step(self, batch: SeqBatch) -> None:
        scores = self(batch.items[:, :-1])  # (B, N+1)
        self._evaluator().update(scores, batch, disposable=self.fresh_scores)

    def _eval_start_hook(self) -> None:
        self._evaluator().reset()
        self._eval_start = time.perf_counter()

    def _gather_across_processes(self) -> None:
        """Under DDP each process ranked a shard of the users (DistributedSampler pads with repeats):
        every process takes all shards, so metrics cover each user exactly once (``per_user`` dedups)."""
        trainer = self._trainer
        if trainer is None or trainer.world_size <= 1 or not torch.distributed.is_initialized():
            return
        parts: list[object] = [None] * trainer.world_size
        torch.distributed.all_gather_object(parts, self._evaluator().local_state())
        self._evaluator().load_states(parts)  # type: ignore[arg-type]

    def _eval_end_hook(self, stage: str) -> None:
        self._gather_across_processes()
        metrics = self._evaluator().compute()
        self.eval_seconds = time.perf_counter() - self._eval_start
        self.log_dict({f"{stage}/{name}": value for name, value in metrics.items()}, sync_dist=False)

    def on_validation_epoch_start(self) -> None:
        self._eval_start_hook()

    def validation_step(self, batch: SeqBatch, batch_idx: int) -> None:
        self._eval_step(batch)

    def on_validation_epoch_end(self) -> None:
        self._eval_end_hook("val")

    def on_test_epoch_start(self) -> None:
        self._eval_start_hook()

    def test_step(self, batch: SeqBatch, batch_idx: int) -> None:
        self._eval_step(batch)

    def on_test_epoch_end(self) -> None:
        self._eval_end_hook("test")

    def parameter_counts(self) -> dict[str, int]:
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return {"total": total, "trainable": trainable}
