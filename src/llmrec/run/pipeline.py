"""One run: build data and model from the config, fit, select the best checkpoint on validation, test,
and write ``results.json``. Everything here is callable without Hydra (tests compose a config and call
:func:`run`)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from llmrec.data.cache import load_sequence_data
from llmrec.data.guards import check_item_text
from llmrec.data.split import LeaveOneOut
from llmrec.errors import ConfigError
from llmrec.evaluation.evaluator import RankingEvaluator, check_cutoffs
from llmrec.models.base import SequentialRecommender
from llmrec.run.callbacks import RunStamp
from llmrec.run.instantiate import as_int, build, call_checked, check_seed, check_trainer
from llmrec.run.lr_schedule import attach_optimization
from llmrec.run.results import code_version, write_results
from llmrec.run.resume import find_resume_checkpoint
from llmrec.run.stages import pop_stages, run_model_stages

log = logging.getLogger(__name__)


def build_model(cfg: DictConfig, num_items: int, max_len: int) -> SequentialRecommender:
    """Instantiate ``cfg.model`` (its ``name`` is a label, not an argument) with the data's sizes.
    Interpolations are resolved against the whole config first (``${encoder.dim}`` and the like)."""
    node = OmegaConf.to_container(cfg.model, resolve=True)
    assert isinstance(node, dict)
    node.pop("name", None)
    pop_stages(node)  # the model's earlier stages (run by run_model_stages) are not constructor arguments
    model = build(node, num_items=num_items, max_len=max_len)
    attach_optimization(model, cfg)  # the `optimizer` and `lr_scheduler` configs
    return model


def _callbacks(cfg: DictConfig) -> list[pl.Callback]:
    return [build(node) for node in (cfg.get("callbacks") or {}).values() if node is not None]


def _loggers(cfg: DictConfig) -> list[Any]:
    return [build(node) for node in (cfg.get("logger") or {}).values() if node is not None]


def _load_best(model: SequentialRecommender, trainer: pl.Trainer) -> str | None:
    checkpoint = trainer.checkpoint_callback
    path = getattr(checkpoint, "best_model_path", "") if checkpoint is not None else ""
    if not path:
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    model.load_state_dict(state)
    return path


def _check_monitor(cfg: DictConfig, ks: list[int]) -> None:
    monitor = str(cfg.eval.monitor)
    name = monitor.split("/", 1)[-1]
    cutoff = name.rsplit("_", 1)[-1]
    if not monitor.startswith("val/") or not cutoff.isdigit() or int(cutoff) not in ks:
        raise ConfigError(f"eval.monitor={monitor} is not a validation metric computed with eval.ks={ks}")


def run(cfg: DictConfig, output_dir: Path) -> dict[str, Any]:
    """Fit and evaluate one model on one dataset; returns (and writes) the results."""
    started = time.perf_counter()
    version = code_version()  # the code that trains, even if the tree changes during a long run
    cfg.paths.output_dir = str(output_dir)
    check_seed(cfg.seed)
    check_trainer(cfg.trainer)
    ks = check_cutoffs(list(cfg.eval.ks) if OmegaConf.is_list(cfg.eval.ks) else [cfg.eval.ks])
    _check_monitor(cfg, ks)
    source = build(cfg.dataset.source)
    cache_dir = Path(cfg.paths.cache_dir) / "datasets" if cfg.dataset.get("cache", True) else None
    data, fingerprint = load_sequence_data(source, as_int(cfg.dataset.k_core, "dataset.k_core"), cache_dir)
    split = LeaveOneOut(data)
    max_len = as_int(cfg.dataset.max_len, "dataset.max_len")
    # A partial, so the split object passes as-is (instantiate would turn a dataclass into a config).
    datamodule = call_checked(build(cfg.datamodule, _partial_=True), split=split, max_len=max_len)
    run_model_stages(cfg, output_dir, split, fingerprint, run)  # e.g. E4SRec's SASRec, declared in its config
    model = build_model(cfg, data.num_items, max_len)
    if datamodule.train_set.new_targets is not None and not model.honours_new_targets:
        raise ConfigError(
            f"datamodule.window_stride (overlapping windows) needs a loss that trains on each window's new "
            f"targets only, which {type(model).__name__} does not have; set datamodule.window_stride=null"
        )
    counts = torch.from_numpy(split.train_item_counts()).float()
    model.bind_data(counts, check_item_text(data.item_text(), data.num_items, list(data.item_fields)))
    model.evaluator = RankingEvaluator(ks, counts, data.num_users)

    stamp = {"dataset": fingerprint, "model": str(cfg.model._target_), "num_items": data.num_items}
    resume_from = find_resume_checkpoint(cfg, output_dir, stamp) if model.requires_training else None
    trainer: pl.Trainer = build(
        cfg.trainer,
        callbacks=[*_callbacks(cfg), RunStamp(stamp)] if model.requires_training else [],
        **({"deterministic": True} if cfg.get("deterministic", False) else {}),
        logger=_loggers(cfg) or False,
        default_root_dir=str(output_dir),
        enable_checkpointing=model.requires_training,
    )
    fit_start = time.perf_counter()
    if model.requires_training:
        trainer.fit(model, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
    fit_seconds = time.perf_counter() - fit_start
    best = _load_best(model, trainer) if model.requires_training else None

    val_metrics = trainer.validate(model, datamodule=datamodule, verbose=False)[0]
    val_seconds = model.eval_seconds
    test_metrics = trainer.test(model, datamodule=datamodule, verbose=False)[0]
    test_seconds = model.eval_seconds
    users, ranks, _ = model.evaluator.per_user()

    results = {
        "status": "ok",
        "model": str(cfg.model.get("name", cfg.model._target_.rsplit(".", 1)[-1])),
        "dataset": str(cfg.dataset.name),
        "seed": int(cfg.seed),
        "metrics": {"val": _strip(val_metrics, "val/"), "test": _strip(test_metrics, "test/")},
        "per_user": {"test": {"user": users.tolist(), "rank": ranks.tolist()}},
        "timings": {
            "fit_seconds": fit_seconds,
            "epochs": trainer.current_epoch if model.requires_training else 0,
            "val_seconds": val_seconds,
            "test_seconds": test_seconds,
            "test_users_per_second": len(users) / test_seconds if test_seconds > 0 else None,
            "total_seconds": time.perf_counter() - started,
        },
        "parameters": model.parameter_counts(),
        "data": {
            "fingerprint": fingerprint,
            "users": data.num_users,
            "items": data.num_items,
            "interactions": data.num_interactions,
        },
        "best_checkpoint": best,
        "config": OmegaConf.to_container(cfg, resolve=True),
        "code_version": version,
    }
    write_results(output_dir, results)
    return results


def _strip(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    return {
        key.removeprefix(prefix): float(value) for key, value in metrics.items() if key.startswith(prefix)
    }
