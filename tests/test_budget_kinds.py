"""Budgets by compute (budget/kind=epochs | steps | examples | convergence): the trainer limits and callbacks
each sets, ``converged`` from hand-made validation histories, the examples a batch counts, and what a run
writes into results.json (budget, converged, samples)."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping
from torch import Tensor

import llmrec
from llmrec.data.batch import SeqBatch
from llmrec.errors import ConfigError
from llmrec.run.budget import (
    Budget,
    ComputeMeter,
    ValidationHistory,
    converged,
    count_examples,
    read_budget,
    stage_budget,
)
from llmrec.run.pipeline import build_trainer
from tests.conftest import compose_config

TINY = ["debug=tiny", "logger=none"]
BATCHES_OF_16 = ["datamodule.batch_size=16", "datamodule.group_by_length=false"]  # every first batch full


@pytest.mark.parametrize(
    ("history", "patience", "expected"),
    [
        ([0.1, 0.2, 0.3], 2, False),  # still improving at the end
        ([0.1, 0.3, 0.2], 2, False),  # the best is one validation old, patience two
        ([0.1, 0.3, 0.2, 0.25], 2, True),  # two validations without beating 0.3
        ([0.3, 0.3, 0.3], 2, True),  # a tie is no improvement (as early stopping counts it)
        ([0.3, 0.3, 0.3], 3, False),  # but three are needed here
        ([0.1, math.nan, 0.05], 2, True),  # NaN never improves
        ([0.2], 1, False),
        ([], 5, None),  # never validated while training
    ],
)
def test_converged_from_a_validation_history(
    history: list[float], patience: int, expected: bool | None
) -> None:
    assert converged(history, patience) is expected


def test_early_stopping_that_fired_is_converged() -> None:
    assert converged([0.1, 0.2], 5, stopped_early=True) is True


def _budget(tmp_path: Path, *overrides: str) -> Budget:
    return read_budget(compose_config([*TINY, *overrides], tmp_path))


def test_each_kind_reads_its_limits(tmp_path: Path) -> None:
    assert _budget(tmp_path) == Budget("convergence", max_epochs=2, patience=5)  # debug=tiny: 2 epochs
    assert _budget(tmp_path, "callbacks.early_stopping.patience=3").patience == 3
    assert _budget(tmp_path, "budget/kind=epochs", "trainer.max_epochs=7") == Budget("epochs", max_epochs=7)
    assert _budget(tmp_path, "budget/kind=steps", "budget.max_steps=40") == Budget("steps", max_steps=40)
    examples = _budget(tmp_path, "budget/kind=examples", "budget.max_examples=900", "budget.patience=2")
    assert examples == Budget("examples", max_examples=900, patience=2)
    boxed = _budget(tmp_path, "trainer.max_time=00:00:01:00")
    assert boxed.max_time == "00:00:01:00" and boxed.kind == "convergence"
    assert _budget(tmp_path, "trainer.max_time={minutes:3}").max_time == {"minutes": 3}  # JSON-ready


def _trainer(tmp_path: Path, *overrides: str) -> pl.Trainer:
    cfg = compose_config([*TINY, *overrides], tmp_path)
    cfg.paths.output_dir = str(tmp_path)
    return build_trainer(cfg, tmp_path, stamp={})


def _of(trainer: pl.Trainer, kind: type) -> list[Any]:
    return [c for c in trainer.callbacks if isinstance(c, kind)]


def test_convergence_keeps_early_stopping_with_the_budgets_patience(tmp_path: Path) -> None:
    trainer = _trainer(tmp_path, "budget.patience=3", "trainer.max_epochs=9")
    (stopper,) = _of(trainer, EarlyStopping)
    assert stopper.patience == 3 and trainer.max_epochs == 9 and trainer.max_steps == -1
    assert len(_of(trainer, ValidationHistory)) == 1


@pytest.mark.parametrize(
    ("overrides", "epochs", "steps", "examples"),
    [
        (["budget/kind=epochs", "trainer.max_epochs=6"], 6, -1, None),
        (["budget/kind=steps", "budget.max_steps=25"], -1, 25, None),
        (["budget/kind=examples", "budget.max_examples=1000"], -1, -1, 1000),
        (["callbacks=cosine"], 2, -1, None),  # the schedule's length: an epochs budget
    ],
)
def test_other_kinds_set_the_trainer_limits_without_early_stopping(
    overrides: list[str], epochs: int, steps: int, examples: int | None, tmp_path: Path
) -> None:
    trainer = _trainer(tmp_path, *overrides)
    assert (trainer.max_epochs, trainer.max_steps) == (epochs, steps)
    assert not _of(trainer, EarlyStopping)
    (meter,) = _of(trainer, ComputeMeter)
    assert meter.max_examples == examples and meter.max_steps == (steps if steps > 0 else None)


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        (["budget/kind=steps"], ["budget/kind=steps needs budget.max_steps=<n>"]),
        (["budget/kind=examples", "budget.max_examples=0"], ["budget.max_examples", "positive integer"]),
        (["budget.kind=minutes"], ["budget.kind=minutes is not one of"]),
        (["budget.patience=0"], ["budget.patience", "positive integer"]),
    ],
)
def test_a_bad_budget_is_one_clear_error(overrides: list[str], words: list[str], tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        _budget(tmp_path, *overrides)
    assert all(word in str(error.value) for word in words), str(error.value)


def test_convergence_without_early_stopping_is_refused(tmp_path: Path) -> None:
    assert _budget(tmp_path, "callbacks=none").kind == "epochs"
    with pytest.raises(ConfigError, match="budget/kind=convergence stops by early stopping"):
        _trainer(tmp_path, "callbacks=none", "budget/kind=convergence")


def test_the_per_pair_budget_still_applies_beside_the_kind(tmp_path: Path) -> None:
    pair = ["model=lite_llm4rec", "dataset=synthetic"]
    assert read_budget(compose_config(pair, tmp_path)) == Budget("convergence", max_epochs=4)
    cfg = compose_config([*pair, "~budget", "budget/kind=steps", "budget.max_steps=5"], tmp_path)
    assert cfg.trainer.max_epochs == 50 and read_budget(cfg) == Budget("steps", max_steps=5)


def test_an_earlier_stage_trains_to_convergence_on_its_own_epochs(tmp_path: Path) -> None:
    cfg = compose_config(["budget/kind=steps", "budget.max_steps=5", "trainer.max_epochs=30"], tmp_path)
    assert stage_budget(cfg) == {"kind": "convergence", "max_epochs": 30, "patience": 5}
    assert stage_budget(compose_config(["callbacks=cosine"], tmp_path))["kind"] == "epochs"


def test_examples_are_the_schemas_targets() -> None:
    items = torch.tensor([[0, 0, 1, 2], [3, 4, 5, 6], [0, 0, 0, 7]])
    assert int(count_examples(SeqBatch(items=items), "all")) == 1 + 3 + 0
    assert int(count_examples(SeqBatch(items=items), "last")) == 3
    overlapping = SeqBatch(items=items, new_targets=torch.tensor([1, 2, 3]))
    assert int(count_examples(overlapping, "all")) == 1 + 2 + 0


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    root = tmp_path_factory.mktemp("budgets")
    common = [*TINY, f"paths.cache_dir={root / 'cache'}", f"paths.log_dir={root / 'logs'}"]
    settings = {
        "steps": ["budget/kind=steps", "budget.max_steps=2"],
        "examples": ["budget/kind=examples", "budget.max_examples=1", "samples=prefixes", *BATCHES_OF_16],
        # a learning rate too small to move the metric: early stopping fires after one flat validation
        "flat": ["budget.patience=1", "trainer.max_epochs=6", "model.lr=1e-12"],
        "popularity": ["model=popularity"],
        "cloze": ["model=bert4rec", "budget/kind=steps", "budget.max_steps=2"],
    }
    return {name: llmrec.train([*common, *extra], output_dir=root / name) for name, extra in settings.items()}


def test_a_steps_run_records_its_budget_and_is_not_converged(runs: dict[str, dict[str, Any]]) -> None:
    result = runs["steps"]
    assert result["budget"]["kind"] == "steps" and result["budget"]["max_steps"] == 2
    assert result["budget"]["spent"]["steps"] == 2 and result["budget"]["spent"]["examples"] > 0
    assert result["converged"] is False  # two validations cannot show five without improvement
    assert result["samples"] == {"name": "tiled", "windows": "all", "targets": "all"}


def test_loss_targets_are_every_target_for_sasrec_and_the_masked_ones_for_bert4rec(
    runs: dict[str, dict[str, Any]],
) -> None:
    sasrec, cloze = runs["steps"]["budget"]["spent"], runs["cloze"]["budget"]["spent"]
    assert sasrec["loss_targets"] == sasrec["examples"] > 0
    assert 0 < cloze["loss_targets"] < cloze["examples"]  # a cloze mask scores a fraction of the items


def test_an_examples_run_stops_after_the_step_that_reaches_it(runs: dict[str, dict[str, Any]]) -> None:
    result = runs["examples"]
    spent = result["budget"]["spent"]
    assert spent["steps"] == 1 and spent["examples"] == 16  # one batch of 16 windows, one target each
    assert result["samples"]["name"] == "prefixes" and result["config"]["model"]["train_targets"] == "last"


def test_a_flat_metric_stops_early_and_is_converged(runs: dict[str, dict[str, Any]]) -> None:
    result = runs["flat"]
    assert result["budget"]["kind"] == "convergence" and result["budget"]["patience"] == 1
    assert result["budget"]["spent"]["epochs"] < 6 and result["converged"] is True


def test_a_model_that_does_not_train_has_no_convergence(runs: dict[str, dict[str, Any]]) -> None:
    assert runs["popularity"]["converged"] is None and runs["popularity"]["budget"]["kind"] == "convergence"


class _Model:
    """What the meter reads from a model: ``loss_targets`` as its last loss left it."""

    def __init__(self) -> None:
        self.loss_targets: Tensor | int | None = None


def _step(meter: ComputeMeter, model: _Model, items: Tensor) -> None:
    trainer = SimpleNamespace(strategy=SimpleNamespace(reduce=lambda t, reduce_op: t), global_step=1)
    meter.on_train_batch_end(trainer, model, None, SeqBatch(items=items), 0)  # type: ignore[arg-type]
    meter.on_train_epoch_end(trainer, model)  # type: ignore[arg-type]


def test_the_meter_counts_what_the_loss_scored_beside_the_schemas_examples() -> None:
    items = torch.tensor([[0, 0, 1, 2], [3, 4, 5, 6]])  # 1 + 3 targets of the schema
    meter, model = ComputeMeter("all"), _Model()
    model.loss_targets = 2  # one sampled target per window
    _step(meter, model, items)
    assert (meter.examples, meter.loss_targets, model.loss_targets) == (4, 2, None)  # read and cleared
    _step(meter, model, items)  # a model that does not say: its loss scored every target
    assert (meter.examples, meter.loss_targets) == (8, 6)
    model.loss_targets = torch.tensor(3)  # a count kept on the device (a cloze mask's sum)
    _step(meter, model, items)
    assert (meter.examples, meter.loss_targets) == (12, 9)
    again = ComputeMeter("all")
    again.load_state_dict(meter.state_dict())
    assert (again.examples, again.loss_targets) == (12, 9)


def test_a_resume_from_a_checkpoint_without_loss_targets_leaves_them_unknown() -> None:
    meter, model = ComputeMeter("all"), _Model()
    meter.load_state_dict({"examples": 40})
    _step(meter, model, torch.tensor([[0, 0, 1, 2]]))
    assert meter.examples == 41 and meter.loss_targets is None  # not a partial count passed off as whole
