"""Every model × dataset config composes and instantiates; data sizes come from the data."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.utils import instantiate

from llmrec.data.datamodule import SequenceDataModule
from llmrec.models.base import SequentialRecommender
from llmrec.run.pipeline import build_model
from tests.conftest import CONF_DIR, compose_config

MODELS = sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml"))
DATASETS = sorted(p.stem for p in (CONF_DIR / "dataset").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("dataset", DATASETS)
@pytest.mark.parametrize("model", MODELS)
def test_model_and_dataset_compose_and_instantiate(model: str, dataset: str, tmp_path: Path) -> None:
    cfg = compose_config([f"model={model}", f"dataset={dataset}"], tmp_path)
    assert cfg.model.name
    assert cfg.dataset.max_len > 0
    source = instantiate(cfg.dataset.source)
    assert source.name == cfg.dataset.name
    net = build_model(cfg, num_items=17, max_len=int(cfg.dataset.max_len))
    assert isinstance(net, SequentialRecommender)
    assert net.num_items == 17


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_presets_compose(experiment: str, tmp_path: Path) -> None:
    cfg = compose_config([f"experiment={experiment}"], tmp_path)
    assert cfg.model._target_


@pytest.mark.parametrize("trainer", ["cpu", "gpu", "ddp"])
def test_trainer_configs_compose(trainer: str, tmp_path: Path) -> None:
    cfg = compose_config([f"trainer={trainer}"], tmp_path)
    assert cfg.trainer._target_ == "pytorch_lightning.Trainer"
    if trainer == "gpu":
        assert cfg.trainer.precision == "bf16-mixed"


def test_num_items_and_max_len_are_not_in_the_model_yaml(tmp_path: Path) -> None:
    for model in MODELS:
        cfg = compose_config([f"model={model}"], tmp_path)
        assert "num_items" not in cfg.model and "max_len" not in cfg.model


def test_datamodule_config_takes_the_split(tmp_path: Path) -> None:
    cfg = compose_config(["debug=tiny"], tmp_path)
    partial = instantiate(cfg.datamodule, _partial_=True)
    assert partial.func is SequenceDataModule


@pytest.mark.parametrize("option", sorted(p.stem for p in (CONF_DIR / "semantic_ids").glob("*.yaml")))
def test_semantic_id_configs_compose_and_instantiate(option: str, tmp_path: Path) -> None:
    from llmrec.semantic_ids import SemanticIdTokenizer

    cfg = compose_config([f"semantic_ids={option}", "encoder=hashing", "seed=7"], tmp_path)
    tokenizer = instantiate(cfg.semantic_ids)
    assert isinstance(tokenizer, SemanticIdTokenizer)
    assert tokenizer.method == option and tokenizer.seed == 7
    assert tokenizer.cache_dir == tmp_path / "cache" / "semantic_ids"
