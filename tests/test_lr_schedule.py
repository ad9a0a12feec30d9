"""The cosine learning-rate schedule (``callbacks=cosine``): its curve, the lr the optimizer actually
steps with, and a resumed run that continues the curve exactly."""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch

from llmrec.run import pipeline as train
from llmrec.run.lr_schedule import cosine_factor
from tests.conftest import compose_config


def test_warmup_is_linear_then_half_cosine_to_the_floor() -> None:
    total, warmup, floor = 10, 2, 0.1
    factors = [cosine_factor(step, total, warmup, floor) for step in range(12)]
    assert factors[:2] == [0.5, 1.0]
    assert factors[2] == 1.0  # first step after the warm-up: the peak
    assert factors[6] == pytest.approx(floor + (1 - floor) * 0.5)  # half way through the decay
    assert factors[10] == pytest.approx(floor)
    assert factors[11] == pytest.approx(floor)  # held after the end
    assert all(a >= b for a, b in itertools.pairwise(factors[2:]))


def test_no_warmup_starts_at_the_peak() -> None:
    assert cosine_factor(0, 5, 0, 0.0) == 1.0
    assert cosine_factor(5, 5, 0, 0.0) == pytest.approx(0.0)


class _LrRecorder(pl.Callback):
    """The lr of every optimizer step, read after the schedule set it."""

    def __init__(self) -> None:
        self.lrs: list[float] = []

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: object
    ) -> None:
        self.lrs.append(optimizer.param_groups[0]["lr"])  # type: ignore[attr-defined]


def _run(tmp_path: Path, out: str, *overrides: str) -> dict:
    cfg = compose_config(["debug=tiny", "callbacks=cosine", "datamodule.batch_size=16", *overrides], tmp_path)
    pl.seed_everything(int(cfg.seed), workers=True, verbose=False)
    return train.run(cfg, tmp_path / out)


def test_optimizer_steps_with_the_scheduled_lr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = _LrRecorder()
    built = train._callbacks
    monkeypatch.setattr(train, "_callbacks", lambda cfg: [*built(cfg), recorder])
    results = _run(
        tmp_path, "out", "trainer.max_epochs=3", "model.lr=0.002", "callbacks.lr_schedule.final_fraction=0.25"
    )
    assert results["timings"]["epochs"] == 3  # early stopping is off: the schedule sets the length
    steps = len(recorder.lrs)
    per_epoch = steps // 3
    assert steps == 3 * per_epoch and per_epoch > 1
    expected = [0.002 * cosine_factor(s, steps, per_epoch, 0.25) for s in range(steps)]
    assert recorder.lrs == pytest.approx(expected)
    assert recorder.lrs[per_epoch - 1] == pytest.approx(0.002)  # the peak, at the end of the warm-up
    with open(tmp_path / "out" / "csv" / "metrics.csv", newline="") as f:
        logged = [float(r["train/lr_factor"]) for r in csv.DictReader(f) if r.get("train/lr_factor")]
    assert logged == pytest.approx([e / 0.002 for e in expected[per_epoch - 1 :: per_epoch]])


def test_resumed_run_continues_the_curve(tmp_path: Path) -> None:
    overrides = ["trainer.max_epochs=3", "callbacks.lr_schedule.epochs=3"]
    full = _run(tmp_path, "full", *overrides)
    _run(tmp_path, "cut", "trainer.max_epochs=1", "callbacks.lr_schedule.epochs=3")  # killed after epoch 1
    (tmp_path / "cut" / "results.json").unlink()
    resumed = _run(tmp_path, "cut", *overrides, "resume=true")
    assert resumed["metrics"] == full["metrics"]
    state = torch.load(tmp_path / "cut" / "checkpoints" / "last.ckpt", weights_only=True)
    group = state["optimizer_states"][0]["param_groups"][0]
    assert group["initial_lr"] == pytest.approx(1e-3)  # the peak, not the decayed lr it was cut at
    assert group["lr"] < group["initial_lr"] and math.isfinite(group["lr"])


def test_training_stops_where_the_decay_ends(tmp_path: Path) -> None:
    results = _run(tmp_path, "out", "trainer.max_epochs=5", "callbacks.lr_schedule.epochs=2")
    assert results["timings"]["epochs"] == 2
