"""One evaluation pass of a model: validation, then test, with each test user's rank (for the seed-level
statistics) and the top-K lists when exported. Training runs both; a re-evaluation may run one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytorch_lightning as pl
import torch
from torch import Tensor

from llmrec.models.base import SequentialRecommender

SPLITS = ("val", "test")  # what a run evaluates, in this order


@dataclass
class Evaluation:
    """Validation and test metrics of one model, per-user test ranks, and the exported top-K lists."""

    val: dict[str, float]
    test: dict[str, float]
    val_seconds: float
    test_seconds: float
    users: Tensor
    ranks: Tensor
    top: tuple[Tensor, Tensor, Tensor] | None = None  # (users, items, scores) with eval.export_topk


def evaluate(
    model: SequentialRecommender,
    trainer: pl.Trainer,
    datamodule: Any,
    export_k: int | None = None,
    splits: tuple[str, ...] = SPLITS,
) -> Evaluation:
    """Validation, then test (keeping each test user's top ``export_k`` items when asked). ``splits``
    leaves one out: a re-evaluation on validation alone chooses a setting without paying for the test."""
    evaluator = model.evaluator
    assert evaluator is not None, "setup_model attaches the evaluator"
    val_metrics, val_seconds = {}, 0.0
    if "val" in splits:
        val_metrics = trainer.validate(model, datamodule=datamodule, verbose=False)[0]
        val_seconds = model.eval_seconds
    if "test" not in splits:
        none = torch.empty(0, dtype=torch.long)
        return Evaluation(_strip(val_metrics, "val/"), {}, val_seconds, 0.0, none, none)
    evaluator.export_k = export_k  # the test pass only: validation runs every epoch and exports nothing
    try:
        test_metrics = trainer.test(model, datamodule=datamodule, verbose=False)[0]
        users, ranks, _ = evaluator.per_user()
        top = evaluator.exported() if export_k is not None else None
    finally:
        evaluator.export_k = None
    return Evaluation(
        val=_strip(val_metrics, "val/"),
        test=_strip(test_metrics, "test/"),
        val_seconds=val_seconds,
        test_seconds=model.eval_seconds,
        users=users,
        ranks=ranks,
        top=top,
    )


def eval_timings(scores: Evaluation) -> dict[str, Any]:
    return {
        "val_seconds": scores.val_seconds,
        "test_seconds": scores.test_seconds,
        "test_users_per_second": len(scores.users) / scores.test_seconds if scores.test_seconds > 0 else None,
    }


def _strip(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    return {
        key.removeprefix(prefix): float(value) for key, value in metrics.items() if key.startswith(prefix)
    }
