"""Every experiment preset composes, and each model it sweeps instantiates under it (the tuner's search
spaces are checked in test_tune.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from llmrec.run.pipeline import build_model, run
from tests.conftest import CONF_DIR, compose_config

EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


# A preset's dry run swaps the paper's 13B backbone and GPU for the tiny LLaMA on CPU (the preset's own
# values are checked in test_e4srec_paper_preset_holds_the_papers_setting).
DRY_RUN = {"e4srec_paper": ["llm@model.llm=tiny_llama", "trainer=cpu"]}
NO_REAL_DATA = ["++stage1_checkpoint=null"]  # a preset's stage-1 SASRec run was trained on a real dataset


def dry(experiment: str) -> list[str]:
    return [*NO_REAL_DATA, *DRY_RUN.get(experiment, [])]


def swept(experiment: str, key: str) -> list[str]:
    """Values the preset's sweeper lists for ``key`` (compose() leaves the hydra node out)."""
    raw = OmegaConf.load(CONF_DIR / "experiment" / f"{experiment}.yaml")
    value = OmegaConf.select(raw, f"hydra.sweeper.params.{key}", default=None)
    return [] if value is None else str(value).split(",")


def preset_models(experiment: str, tmp_path: Path) -> list[str]:
    return swept(experiment, "model") or [compose_config([f"experiment={experiment}"], tmp_path).model.name]


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_swept_model_builds_under_the_preset(experiment: str, tmp_path: Path) -> None:
    for model in preset_models(experiment, tmp_path):
        composed = compose_config([f"experiment={experiment}", f"model={model}", *dry(experiment)], tmp_path)
        assert build_model(composed, num_items=11, max_len=int(composed.dataset.max_len)).num_items == 11


def test_presets_name_their_datasets(tmp_path: Path) -> None:
    assert compose_config(["experiment=baselines_beauty"], tmp_path).dataset.name == "beauty"
    assert compose_config(["experiment=ml1m_baselines"], tmp_path).dataset.max_len == 200


def test_e4srec_paper_preset_holds_the_papers_setting(tmp_path: Path) -> None:
    cfg = compose_config(["experiment=e4srec_paper"], tmp_path)
    llm = cfg.model.llm
    assert llm.source.endswith("models/Llama-2-13b-hf") and llm.dtype == "bfloat16"
    assert list(llm.lora.target_modules) == ["gate_proj", "up_proj", "down_proj"]
    assert (llm.lora.r, llm.lora.alpha, llm.lora.dropout) == (16, 16, 0.05)
    assert cfg.trainer.accelerator == "gpu" and cfg.trainer.precision == "bf16-mixed"
    assert (cfg.datamodule.batch_size, cfg.model.lr, cfg.model.id_dim) == (16, 0.0003, 64)
    assert cfg.model.name == "e4srec"
    assert swept("e4srec_paper", "dataset") == ["beauty", "sports", "toys", "yelp"]


@pytest.mark.slow
@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_preset_runs_with_a_fast_debug_setting(experiment: str, tmp_path: Path) -> None:
    model = preset_models(experiment, tmp_path)[-1]
    overrides = [f"experiment={experiment}", f"model={model}", "dataset=tiny", "debug=fast", *dry(experiment)]
    results = run(compose_config(overrides, tmp_path), tmp_path / "run")
    assert results["status"] == "ok" and results["metrics"]["test"]["ndcg_10"] >= 0.0


BUDGETS = sorted(p.stem for p in (CONF_DIR / "budget").glob("*.yaml"))


@pytest.mark.parametrize("budget", BUDGETS)
def test_every_budget_names_a_dataset_and_a_model(budget: str) -> None:
    datasets = {p.stem for p in (CONF_DIR / "dataset").glob("*.yaml")}
    models = {p.stem for p in (CONF_DIR / "model").glob("*.yaml")}
    dataset, _, model = budget.partition("_")
    assert dataset in datasets and model in models, f"conf/budget/{budget}.yaml matches no dataset_model pair"


def test_a_budget_applies_to_its_pair_only_and_the_command_line_wins(tmp_path: Path) -> None:
    default = compose_config(["model=sasrec"], tmp_path).trainer.max_epochs
    budgeted = compose_config(["model=llmseqprompt", "dataset=synthetic"], tmp_path).trainer
    assert budgeted.max_epochs < default and budgeted.check_val_every_n_epoch == 4
    assert compose_config(["model=llmseqprompt", "dataset=tiny"], tmp_path).trainer.max_epochs == default
    given = ["model=llmseqprompt", "dataset=synthetic", "trainer.max_epochs=3"]
    assert compose_config(given, tmp_path).trainer.max_epochs == 3
    e4srec = compose_config(["model=e4srec", "dataset=synthetic"], tmp_path)
    assert e4srec.trainer.max_epochs < default and e4srec.model.stage1.trainer.max_epochs == default
