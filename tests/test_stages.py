"""A model's earlier stages: declared in its config, run by the runner in order, each filling its key;
the stage-1 SASRec is composed by Hydra; no model module imports the runner."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import DictConfig, OmegaConf

import llmrec.models
from llmrec.errors import ConfigError
from llmrec.run.pipeline import build_model
from llmrec.run.samples import check_samples
from llmrec.run.stages import (
    StageContext,
    pop_stages,
    run_model_stages,
    sasrec_id_embeddings,
    stage1_dir_name,
    stage_run_config,
)
from tests.conftest import compose_config

CALLS: list[tuple[str, Any, dict[str, Any]]] = []


def first_stage(context: StageContext, given: Any, **settings: Any) -> str:
    CALLS.append(("first", given, settings))
    return "ids.ckpt"


def second_stage(context: StageContext, given: Any, **settings: Any) -> str:
    # It runs after the first and sees what the first filled in.
    CALLS.append(("second", given, {"id_embeddings": context.cfg.model.id_embeddings, **settings}))
    return "adapter"


def no_nested_run(cfg: DictConfig, output_dir: Path) -> dict[str, Any]:
    raise AssertionError("no stage should start a run here")


def run_stages(cfg: DictConfig, tmp_path: Path) -> None:
    run_model_stages(cfg, tmp_path / "run", None, "tiny-abc", no_nested_run)  # type: ignore[arg-type]


def with_test_stages(cfg: DictConfig) -> DictConfig:
    cfg.model.stage1._target_ = f"{__name__}.first_stage"
    cfg.model.stage2._target_ = f"{__name__}.second_stage"
    return cfg


def test_stages_run_in_declared_order_and_fill_the_config(tmp_path: Path) -> None:
    CALLS.clear()
    cfg = with_test_stages(compose_config(["model=e4srec", "debug=tiny", "model.stage2.steps=3"], tmp_path))
    run_stages(cfg, tmp_path)
    assert [name for name, _, _ in CALLS] == ["first", "second"]
    first, second = CALLS[0][2], CALLS[1][2]
    assert CALLS[0][1] is None and first["model"].hidden == cfg.model.id_dim and "fills" not in first
    assert second["id_embeddings"] == "ids.ckpt" and second["steps"] == 3
    assert (cfg.model.id_embeddings, cfg.model.instruct_adapter) == ("ids.ckpt", "adapter")

    CALLS.clear()
    cfg = compose_config(["model=e4srec", "debug=tiny", "model.stages=[stage2,stage1]"], tmp_path)
    run_stages(with_test_stages(cfg), tmp_path)
    assert [name for name, _, _ in CALLS] == ["second", "first"]


def test_a_value_the_user_gave_reaches_its_stage(tmp_path: Path) -> None:
    CALLS.clear()
    cfg = compose_config(["model=e4srec", "debug=tiny", "model.instruct_adapter=mine"], tmp_path)
    run_stages(with_test_stages(cfg), tmp_path)
    assert CALLS[1][1] == "mine"


def test_a_model_config_without_stages_runs_none(tmp_path: Path) -> None:
    cfg = compose_config(["model=sasrec", "debug=tiny"], tmp_path)
    before = OmegaConf.to_container(cfg.model)
    run_stages(cfg, tmp_path)  # no_nested_run would fail if a stage ran
    assert OmegaConf.to_container(cfg.model) == before and not (tmp_path / "run").exists()
    node = OmegaConf.to_container(cfg.model, resolve=True)
    assert isinstance(node, dict)
    pop_stages(node)
    assert node == OmegaConf.to_container(cfg.model, resolve=True)


def test_stage_nodes_are_not_constructor_arguments(tmp_path: Path) -> None:
    cfg = compose_config(["model=e4srec", "debug=tiny"], tmp_path)
    node = OmegaConf.to_container(cfg.model, resolve=True)
    assert isinstance(node, dict)
    pop_stages(node)
    assert not {"stages", "stage1", "stage2"} & set(node)
    assert build_model(cfg, 10, 6).num_items == 10  # E4SRec takes no stage1/stage2/stages arguments


def test_stages_turned_off_run_none_and_build_the_model(tmp_path: Path) -> None:
    # model.stages=[] (an E4SRec on a random ID table, an ablation) used to hand stage1 to the constructor
    cfg = compose_config(["model=e4srec", "debug=tiny", "model.stages=[]"], tmp_path)
    run_stages(cfg, tmp_path)  # no_nested_run would fail if a stage ran
    assert cfg.model.id_embeddings is None and not (tmp_path / "run").exists()
    assert build_model(cfg, 10, 6).num_items == 10


def test_the_stage1_sasrec_is_composed_from_the_config(tmp_path: Path) -> None:
    overrides = ["model=e4srec", "debug=tiny", "model.id_dim=16", "model.stage1.model.dropout=0.2"]
    cfg = compose_config([*overrides, "model.stage1.trainer.max_epochs=7"], tmp_path)
    sub = stage_run_config(cfg, cfg.model.stage1.model, cfg.model.stage1.trainer)
    sasrec = OmegaConf.to_container(compose_config(["model=sasrec"], tmp_path).model, resolve=True)
    expected = OmegaConf.merge(sasrec, {"hidden": 16, "dropout": 0.2})
    assert OmegaConf.to_container(sub.model) == OmegaConf.to_container(expected)
    assert sub.trainer.max_epochs == 7 and sub.logger is None and sub.resume is False
    assert cfg.trainer.max_epochs != 7  # the E4SRec run's own trainer is untouched
    # Another stage-1 model is a Hydra choice, like any config group.
    ligr = compose_config(["model=e4srec", "model@model.stage1.model=sasrec_ligr"], tmp_path)
    sub = stage_run_config(ligr, ligr.model.stage1.model, ligr.model.stage1.trainer)
    assert sub.model.name == "sasrec_ligr" and sub.model.hidden == ligr.model.id_dim


def test_a_finished_stage1_run_is_reused(tmp_path: Path) -> None:
    cfg = compose_config(["model=e4srec", "debug=tiny"], tmp_path)
    run_dir = tmp_path / "run" / stage1_dir_name(cfg)
    run_dir.mkdir(parents=True)
    best = run_dir / "best.ckpt"
    torch.save({"state_dict": {}, "llmrec": {"dataset": "tiny-abc"}}, best)
    (run_dir / "results.json").write_text(json.dumps({"best_checkpoint": str(best)}))
    context = StageContext(cfg, tmp_path / "run", None, "tiny-abc", no_nested_run)  # type: ignore[arg-type]
    assert sasrec_id_embeddings(context, None, cfg.model.stage1.model, {}) == str(best)
    other = StageContext(cfg, tmp_path / "run", None, "beauty-1", no_nested_run)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="trained on dataset tiny-abc"):
        sasrec_id_embeddings(other, None, cfg.model.stage1.model, {})


@pytest.mark.parametrize(
    ("stamp", "protocol", "accepted"),
    [
        ({}, [], True),  # a checkpoint from before protocols were stamped is loo's
        ({}, ["protocol=sampled"], True),  # sampled trains on loo's split
        ({}, ["protocol=user_holdout_random"], False),  # loo trained on the held-out users
        ({"split": "user_holdout(test_fraction=0.1, val_fraction=0.1, order=random, seed=0)"},
         ["protocol=user_holdout_random"], True),
        ({"split": "user_holdout(test_fraction=0.1, val_fraction=0.1, order=random, seed=0)"},
         ["protocol=user_holdout_random", "protocol.seed=1"], False),
    ],
)  # fmt: skip
def test_a_given_stage1_checkpoint_must_come_from_this_split(
    stamp: dict[str, str], protocol: list[str], accepted: bool, tmp_path: Path
) -> None:
    cfg = compose_config(["model=e4srec", "debug=tiny", *protocol], tmp_path)
    given = tmp_path / "given.ckpt"
    torch.save({"state_dict": {}, "llmrec": {"dataset": "tiny-abc", **stamp}}, given)
    context = StageContext(cfg, tmp_path / "run", None, "tiny-abc", no_nested_run)  # type: ignore[arg-type]
    if accepted:
        assert sasrec_id_embeddings(context, str(given), cfg.model.stage1.model, {}) == str(given)
    else:
        with pytest.raises(ConfigError, match="seen users this run holds out"):
            sasrec_id_embeddings(context, str(given), cfg.model.stage1.model, {})


@pytest.mark.bad_input
@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("model.stages=[stage9]", r"model.stages lists 'stage9'"),
        ("model.stages=stage1", "must be a list"),
        ("model.stage1.fills=hidden_size", "fills=hidden_size is not a key of model"),
        (f"model.stage1._target_={__name__}.nothing", "is not an importable function"),
        ("+model.stage2.stepz=2", "unexpected keyword argument 'stepz'"),
    ],
)
def test_a_broken_stage_declaration_is_one_clear_error(tmp_path: Path, override: str, expected: str) -> None:
    cfg = compose_config(["model=e4srec", "debug=tiny", override], tmp_path)
    if "_target_" not in override:
        cfg.model.stage1._target_ = f"{__name__}.first_stage"  # no SASRec to train before stage 2
    with pytest.raises(ConfigError, match=expected):
        run_stages(cfg, tmp_path)


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return names


def test_no_model_module_imports_the_runner() -> None:
    sources = sorted(Path(llmrec.models.__file__).parent.rglob("*.py"))
    assert any(path.parent.name == "e4srec" for path in sources)
    offenders = {
        str(path): sorted(name for name in imported_modules(path) if name.split(".")[:2] == ["llmrec", "run"])
        for path in sources
    }
    assert not {path: names for path, names in offenders.items() if names}
    # from llmrec import run would slip past the prefix check above
    assert all("run" not in imported_modules(path) for path in sources)


def test_a_stage_run_keeps_the_optimizer_but_not_the_runs_schedule(tmp_path: Path) -> None:
    cfg = compose_config(["model=e4srec", "lr_scheduler=e4srec", "optimizer=adam"], tmp_path)
    sub = stage_run_config(cfg, cfg.model.stage1.model, {"max_epochs": 3})
    assert sub.lr_scheduler is None and cfg.lr_scheduler is not None
    assert sub.optimizer._target_ == cfg.optimizer._target_
    assert sub.trainer.max_epochs == 3 and sub.logger is None and sub.resume is False


class FakeStage1:
    """A stage-1 run without training: a checkpoint whose item table is drawn from the run's seed."""

    def __init__(self, fingerprint: str) -> None:
        self.fingerprint = fingerprint
        self.seeds: list[int] = []

    def __call__(self, cfg: DictConfig, output_dir: Path) -> dict[str, Any]:
        self.seeds.append(int(cfg.seed))
        table = torch.randn(5, 4, generator=torch.Generator().manual_seed(int(cfg.seed)))
        (output_dir / "checkpoints").mkdir(parents=True)
        best, last = output_dir / "checkpoints" / "best.ckpt", output_dir / "checkpoints" / "last.ckpt"
        for path in (best, last):
            checkpoint = {"state_dict": {"item_emb.weight": table}, "llmrec": {"dataset": self.fingerprint}}
            torch.save(checkpoint, path)
        (output_dir / "results.json").write_text(json.dumps({"best_checkpoint": str(best)}))
        return {"best_checkpoint": str(best), "metrics": {"val": {}}}


def stage1_for_seed(fake: FakeStage1, tmp_path: Path, seed: int, *overrides: str) -> str:
    cfg = compose_config(["model=e4srec", "debug=tiny", f"seed={seed}", *overrides], tmp_path)
    context = StageContext(cfg, tmp_path / "run", None, fake.fingerprint, fake)  # type: ignore[arg-type]
    node = cfg.model.stage1
    return sasrec_id_embeddings(context, None, node.model, node.trainer, node.select, node.samples)


def test_each_seed_trains_its_own_stage1_and_reuses_it(tmp_path: Path) -> None:
    fake = FakeStage1("tiny-abc")
    first, second = stage1_for_seed(fake, tmp_path, 0), stage1_for_seed(fake, tmp_path, 1)
    assert fake.seeds == [0, 1]  # two runs, each under its own seed
    assert Path(first).parts[-3:] == ("stage1_sasrec_s0", "checkpoints", "best.ckpt")
    assert Path(second).parts[-3] == "stage1_sasrec_s1"
    tables = [torch.load(p, weights_only=True)["state_dict"]["item_emb.weight"] for p in (first, second)]
    assert not torch.equal(*tables)
    assert stage1_for_seed(fake, tmp_path, 0) == first and fake.seeds == [0, 1]  # reused, not retrained
    assert json.loads((tmp_path / "run" / "stage1.json").read_text())["seed"] == 1  # the last one trained


def test_stage1_can_keep_its_last_epoch(tmp_path: Path) -> None:
    fake = FakeStage1("tiny-abc")
    last = stage1_for_seed(fake, tmp_path, 0, "model.stage1.select=last")
    assert Path(last).name == "last.ckpt"
    cfg = compose_config(["model=e4srec", "debug=tiny"], tmp_path)
    sub = stage_run_config(cfg, cfg.model.stage1.model, {"max_epochs": 9}, select="last")
    assert sub.callbacks.early_stopping is None and sub.budget.kind == "epochs" and sub.budget.max_epochs == 9
    kept = stage_run_config(cfg, cfg.model.stage1.model, {})
    assert kept.callbacks.early_stopping is not None and kept.budget.kind == "convergence"
    with pytest.raises(ConfigError, match=r"model\.stage1\.select=first must be one of best, last"):
        stage_run_config(cfg, cfg.model.stage1.model, {}, select="first")


def test_stage1_takes_its_own_samples_and_max_len(tmp_path: Path) -> None:
    overrides = ["model=e4srec", "debug=tiny", "samples=last_targets", "dataset.max_len=40"]
    cfg = compose_config(overrides, tmp_path)
    sub = stage_run_config(cfg, cfg.model.stage1.model, {}, samples="last_n", max_len=7)
    expected = {"name": "last_n", "windows": "recent", "targets": "all", "n": 7}
    assert OmegaConf.to_container(sub.samples) == expected
    assert sub.datamodule.train_windows == "recent" and "last_targets" not in sub.datamodule
    assert sub.model.train_targets == "all" and sub.dataset.max_len == 7
    assert check_samples(sub)["name"] == "last_n"
    assert cfg.dataset.max_len == 40 and cfg.samples.name == "last_targets"  # the run's own are untouched
    same = stage_run_config(cfg, cfg.model.stage1.model, {})
    assert same.samples.name == "last_targets" and same.model.train_targets == "last"
    with pytest.raises(
        ConfigError, match=r"model\.stage1\.samples=last_targets is not a stage-1 sample schema"
    ):
        stage_run_config(cfg, cfg.model.stage1.model, {}, samples="last_targets")
