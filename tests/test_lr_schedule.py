"""The optimizer and learning-rate schedule configs (conf/optimizer/, conf/lr_scheduler/, and the
``callbacks=cosine`` preset): they build and step along the documented curve, ``model.lr`` is the lr the
optimizer gets, the optimizer really steps with the scheduled lr, and a resumed run continues the curve."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch

from llmrec.errors import ConfigError
from llmrec.models.sasrec import SASRec
from llmrec.run import pipeline as train
from llmrec.run.instantiate import build
from llmrec.run.lr_schedule import StepSchedule, attach_optimization
from tests.conftest import compose_config


def warmup_cosine(step: int, total: int, warmup: int, floor: float) -> float:
    """transformers' curve, written out: step / warmup during the warm-up, then a half cosine from 1 down
    to ``floor`` at ``total``."""
    if step < warmup:
        return step / warmup
    progress = (step - warmup) / (total - warmup)
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def _trainer(max_epochs: int, batches: int, accumulate: int = 1) -> pl.Trainer:
    """What a schedule reads from the trainer in ``configure_optimizers``."""
    fake = SimpleNamespace(
        max_epochs=max_epochs,
        num_training_batches=batches,
        accumulate_grad_batches=accumulate,
        train_dataloader=range(batches),  # set up already
    )
    return fake  # type: ignore[return-value]


def _lrs(schedule: StepSchedule, trainer: pl.Trainer, steps: int, peak: float = 0.01) -> list[float]:
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=peak)
    scheduler = schedule(optimizer, trainer)
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_cosine_config_warms_up_then_decays_to_the_floor_at_known_steps() -> None:
    cfg = compose_config(["lr_scheduler=cosine", "lr_scheduler.scheduler.min_lr_rate=0.1"])
    schedule = build(cfg.lr_scheduler)
    lrs = _lrs(schedule, _trainer(max_epochs=3, batches=4), steps=13)  # warm-up 1 epoch = 4 steps
    assert schedule.total_steps == 12
    assert lrs[0] == 0.0 and lrs[2] == pytest.approx(0.005) and lrs[4] == pytest.approx(0.01)
    assert lrs[8] == pytest.approx(0.01 * (0.1 + 0.9 * 0.5))  # half way through the decay
    assert lrs[12] == pytest.approx(0.001)  # the floor, at the end
    assert lrs == pytest.approx([0.01 * warmup_cosine(s, 12, 4, 0.1) for s in range(13)])


def test_epochs_fractional_warmup_and_gradient_accumulation_size_the_schedule() -> None:
    cfg = compose_config(["lr_scheduler=cosine", "lr_scheduler.epochs=2", "lr_scheduler.warmup_epochs=0.5"])
    schedule = build(cfg.lr_scheduler)
    lrs = _lrs(schedule, _trainer(max_epochs=10, batches=7, accumulate=2), steps=8)  # 4 steps an epoch
    assert schedule.total_steps == 8
    assert lrs == pytest.approx([0.01 * warmup_cosine(s, 8, 2, 0.0) for s in range(8)])


def test_e4srec_config_is_the_official_100_warmup_steps_then_cosine_to_zero() -> None:
    schedule = build(compose_config(["lr_scheduler=e4srec"]).lr_scheduler)
    lrs = _lrs(schedule, _trainer(max_epochs=1, batches=300), steps=301)
    assert lrs[50] == pytest.approx(0.005) and lrs[100] == pytest.approx(0.01)
    assert lrs[200] == pytest.approx(0.005) and lrs[300] == pytest.approx(0.0, abs=1e-12)


def _model(cfg_overrides: list[str]) -> SASRec:
    cfg = compose_config(cfg_overrides)
    model = train.build_model(cfg, num_items=20, max_len=5)
    assert isinstance(model, SASRec)
    return model


def test_model_lr_and_weight_decay_reach_the_default_adamw() -> None:
    optimizer = _model(["model.lr=0.005", "model.weight_decay=0.1"]).configure_optimizers()
    assert type(optimizer) is torch.optim.AdamW
    assert optimizer.param_groups[0]["lr"] == 0.005 and optimizer.param_groups[0]["weight_decay"] == 0.1


def test_another_optimizer_is_a_config_with_its_own_arguments() -> None:
    optimizer = _model(
        ["optimizer=adam", "model.lr=0.02", "+optimizer.betas=[0.8,0.9]"]
    ).configure_optimizers()
    assert type(optimizer) is torch.optim.Adam
    assert optimizer.param_groups[0]["lr"] == 0.02 and optimizer.param_groups[0]["betas"] == (0.8, 0.9)


def test_the_lr_is_set_on_the_model_not_the_optimizer() -> None:
    with pytest.raises(ConfigError, match=r"use model\.lr=\.\.\. instead"):
        _model(["+optimizer.lr=0.1"])


def test_a_model_built_without_the_runner_keeps_adamw_and_a_constant_lr() -> None:
    model = SASRec(20, 5, lr=0.003)
    optimizer = model.configure_optimizers()
    assert type(optimizer) is torch.optim.AdamW and optimizer.param_groups[0]["lr"] == 0.003
    assert model.configure_callbacks() == []
    attach_optimization(model, compose_config([]))  # the default config: the same AdamW, no schedule
    assert type(model.configure_optimizers()) is torch.optim.AdamW and model.lr_schedule is None


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["lr_scheduler.epochs=0"], "lr_scheduler.epochs must be a positive integer"),
        (["lr_scheduler.scheduler.min_lr_rate=2"], r"min_lr_rate must lie in \[0, 1\]"),
        (["lr_scheduler.scheduler.min_lr_rate=abc"], r"min_lr_rate must lie in \[0, 1\]"),
        (["lr_scheduler.epochs=3", "lr_scheduler.warmup_epochs=3"], "warmup_epochs must be >= 0 and below"),
        (["+lr_scheduler.warmup_steps=-1"], "warmup_steps must be a non-negative integer"),
    ],
)
def test_bad_schedule_settings_are_config_errors(overrides: list[str], needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        build(compose_config(["lr_scheduler=cosine", *overrides]).lr_scheduler)


def test_an_unbounded_run_needs_the_schedule_length() -> None:
    schedule = build(compose_config(["lr_scheduler=cosine"]).lr_scheduler)
    with pytest.raises(ConfigError, match=r"set lr_scheduler\.epochs=<n>"):
        _lrs(schedule, _trainer(max_epochs=-1, batches=4), steps=1)


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
        tmp_path, "out", "trainer.max_epochs=3", "model.lr=0.002", "lr_scheduler.scheduler.min_lr_rate=0.25"
    )
    assert results["timings"]["epochs"] == 3  # early stopping is off: the schedule sets the length
    steps = len(recorder.lrs)
    per_epoch = steps // 3
    assert steps == 3 * per_epoch and per_epoch > 1
    expected = [0.002 * warmup_cosine(s, steps, per_epoch, 0.25) for s in range(steps)]
    assert recorder.lrs == pytest.approx(expected)
    assert recorder.lrs[per_epoch] == pytest.approx(0.002)  # the peak, right after the warm-up
    with open(tmp_path / "out" / "csv" / "metrics.csv", newline="") as f:
        logged = [float(r["train/lr_factor"]) for r in csv.DictReader(f) if r.get("train/lr_factor")]
    assert logged == pytest.approx([e / 0.002 for e in expected[per_epoch - 1 :: per_epoch]])


def test_resumed_run_continues_the_curve(tmp_path: Path) -> None:
    overrides = ["trainer.max_epochs=3", "lr_scheduler.epochs=3"]
    full = _run(tmp_path, "full", *overrides)
    _run(tmp_path, "cut", "trainer.max_epochs=1", "lr_scheduler.epochs=3")  # killed after epoch 1
    (tmp_path / "cut" / "results.json").unlink()
    resumed = _run(tmp_path, "cut", *overrides, "resume=true")
    assert resumed["metrics"] == full["metrics"]
    state = torch.load(tmp_path / "cut" / "checkpoints" / "last.ckpt", weights_only=True)
    group = state["optimizer_states"][0]["param_groups"][0]
    assert group["initial_lr"] == pytest.approx(1e-3)  # the peak, not the decayed lr it was cut at
    assert group["lr"] < group["initial_lr"] and math.isfinite(group["lr"])


def test_training_stops_where_the_decay_ends(tmp_path: Path) -> None:
    results = _run(tmp_path, "out", "trainer.max_epochs=5", "lr_scheduler.epochs=2")
    assert results["timings"]["epochs"] == 2


@pytest.mark.parametrize("name", ["cosine", "bert4rec", "e4srec"])
def test_every_step_schedule_takes_the_epochs_its_error_asks_for(name: str, tmp_path: Path) -> None:
    """Under a steps or examples budget trainer.max_epochs is unbounded and the error asks for
    lr_scheduler.epochs=<n>: that override must compose for every schedule config."""
    cfg = compose_config(["callbacks=cosine", f"lr_scheduler={name}", "lr_scheduler.epochs=3"], tmp_path)
    assert cfg.lr_scheduler.epochs == 3


def test_a_steps_budget_follows_the_schedule_of_the_given_epochs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """budget/kind=steps leaves trainer.max_epochs unbounded: the schedule is sized by lr_scheduler.epochs
    and the run stops at the budget, part way down the curve (a study cut short of the authors' schedule)."""
    recorder = _LrRecorder()
    built = train._callbacks
    monkeypatch.setattr(train, "_callbacks", lambda cfg: [*built(cfg), recorder])
    epochs = ["trainer.max_epochs=2", "lr_scheduler.epochs=2"]
    per_epoch = len(_run(tmp_path, "probe", *epochs) and recorder.lrs) // 2
    recorder.lrs.clear()
    budget = per_epoch + 1
    _run(tmp_path, "cut", "budget/kind=steps", f"budget.max_steps={budget}", "lr_scheduler.epochs=2")
    expected = [1e-3 * warmup_cosine(s, 2 * per_epoch, per_epoch, 0.0) for s in range(budget)]
    assert recorder.lrs == pytest.approx(expected)
