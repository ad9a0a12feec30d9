"""The embedded default stays a few minutes per model: every model composed with ``dataset=synthetic`` has a
finite epoch count, and every ``conf/budget/<dataset>_<model>.yaml`` composes, is applied to its pair, and
sets only keys the pair's config already has or Trainer arguments (a misspelt key would silently add a
new one and budget nothing). The wall-clock and memory figures come from ``benchmarks/default_runs.py``."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import pytorch_lightning as pl
from omegaconf import DictConfig, OmegaConf

from tests.conftest import CONF_DIR, compose_config

MODELS = sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml"))
BUDGETS = sorted(p.stem for p in (CONF_DIR / "budget").glob("*.yaml"))


def leaves(node: DictConfig, prefix: str = "") -> dict[str, object]:
    """``{"trainer.max_epochs": 8, ...}``: every leaf of a config, by its dotted key."""
    found: dict[str, object] = {}
    for key, value in node.items():
        name = f"{prefix}{key}"
        if isinstance(value, DictConfig):
            found.update(leaves(value, f"{name}."))
        else:
            found[name] = value
    return found


@pytest.mark.parametrize("model", MODELS)
def test_every_model_has_a_finite_epoch_budget_on_the_default_data(model: str, tmp_path: Path) -> None:
    trainer = compose_config([f"model={model}", "dataset=synthetic"], tmp_path).trainer
    epochs = trainer.max_epochs
    assert isinstance(epochs, int) and not isinstance(epochs, bool), f"{model}: max_epochs={epochs!r}"
    assert 0 < epochs <= 50, f"{model}: trainer.max_epochs={epochs} on dataset=synthetic"


@pytest.mark.parametrize("budget", BUDGETS)
def test_every_budget_applies_to_its_pair_and_sets_existing_keys(budget: str, tmp_path: Path) -> None:
    dataset, _, model = budget.partition("_")
    pair = [f"model={model}", f"dataset={dataset}"]
    budgeted = compose_config(pair, tmp_path)
    unbudgeted = compose_config([*pair, "~budget"], tmp_path)
    settings = leaves(OmegaConf.load(CONF_DIR / "budget" / f"{budget}.yaml"))
    assert settings, f"conf/budget/{budget}.yaml sets nothing"
    trainer_arguments = set(inspect.signature(pl.Trainer.__init__).parameters)
    for key, value in settings.items():
        assert OmegaConf.select(budgeted, key) == value, f"{budget}: {key} not applied"
        known = OmegaConf.select(unbudgeted, key, default="missing") != "missing"
        a_trainer_argument = key.startswith("trainer.") and key.split(".")[1] in trainer_arguments
        assert known or a_trainer_argument, (
            f"conf/budget/{budget}.yaml sets {key}, which {model} on {dataset} does not have"
        )


def test_removing_the_budget_restores_the_model_default(tmp_path: Path) -> None:
    pair = ["model=lite_llm4rec", "dataset=synthetic"]
    assert compose_config(pair, tmp_path).trainer.max_epochs < 50
    assert compose_config([*pair, "~budget"], tmp_path).trainer.max_epochs == 50
