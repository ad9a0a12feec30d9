"""Every experiment preset composes, and each model it sweeps instantiates under it; the Optuna search
composes when its sweeper plugin is installed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from llmrec.train import build_model
from tests.conftest import CONF_DIR, compose_config

EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_swept_model_builds_under_the_preset(experiment: str, tmp_path: Path) -> None:
    cfg = compose_config([f"experiment={experiment}"], tmp_path)
    models = str(cfg.hydra.sweeper.params.model).split(",") if "hydra" in cfg else None
    for model in models or ["popularity", "sasrec", "bert4rec"]:
        composed = compose_config([f"experiment={experiment}", f"model={model}"], tmp_path)
        assert build_model(composed, num_items=11, max_len=int(composed.dataset.max_len)).num_items == 11


def test_presets_name_their_datasets(tmp_path: Path) -> None:
    assert compose_config(["experiment=baselines_beauty"], tmp_path).dataset.name == "beauty"
    assert compose_config(["experiment=ml1m_baselines"], tmp_path).dataset.max_len == 200


@pytest.mark.skipif(
    importlib.util.find_spec("optuna") is None, reason="optional extra [optuna] not installed"
)
def test_optuna_search_composes(tmp_path: Path) -> None:
    cfg = compose_config(["hparams_search=sasrec_optuna"], tmp_path)
    assert cfg.eval.monitor == "val/ndcg_10" and cfg.model.name == "sasrec"
