"""One run: build data and model from the config, fit, select the best checkpoint on validation, test,
and write ``results.json``. Everything here is callable without Hydra (tests compose a config and call
:func:`run`); the Python API (``llmrec.train``, ``llmrec.load_run``) and ``python -m llmrec.evaluate`` reuse
the steps: :func:`prepare_data`, :func:`setup_model`, :func:`build_trainer`, :func:`evaluate`."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from omegaconf import DictConfig, OmegaConf

from llmrec.data.cache import load_sequence_data
from llmrec.data.guards import check_item_text
from llmrec.data.interactions import SequenceData
from llmrec.data.split import LeaveOneOut
from llmrec.errors import ConfigError
from llmrec.evaluation.evaluator import RankingEvaluator, check_cutoffs
from llmrec.evaluation.export import check_export_k, write_topk
from llmrec.models.base import SequentialRecommender
from llmrec.models.layers.adapters import save_adapters
from llmrec.run.budget import budget_callbacks, budget_results, read_budget
from llmrec.run.callbacks import FitClock, RunStamp, fit_time
from llmrec.run.eval_pass import Evaluation, eval_timings, evaluate
from llmrec.run.instantiate import as_int, build, call_checked, check_seed, check_trainer
from llmrec.run.loggers import log_config_at_start
from llmrec.run.lr_schedule import attach_optimization
from llmrec.run.memory_plan_log import MemoryPlanLog
from llmrec.run.protocols import Protocol, build_protocol, protocol_settings, training_split
from llmrec.run.results import code_version, write_results
from llmrec.run.resume import check_callbacks_restored, find_resume_checkpoint
from llmrec.run.samples import check_samples, samples_record
from llmrec.run.stages import pop_stages, run_model_stages
from llmrec.run.strategies import check_strategy

log = logging.getLogger(__name__)

ADAPTERS_DIR = "adapters"  # <run dir>/adapters/<part>: the tested checkpoint's LoRA weights, peft's format


@dataclass
class PreparedData:
    """The dataset as a run uses it: processed sequences, their fingerprint, the split, the loaders."""

    data: SequenceData
    fingerprint: str
    split: LeaveOneOut
    max_len: int
    datamodule: Any  # a LightningDataModule built from cfg.datamodule
    protocol: Protocol | None = None  # the evaluation protocol (cfg.protocol) the split follows


def check_eval(cfg: DictConfig) -> tuple[list[int], int | None]:
    """The ``eval`` block's cut-offs and export size, checked before any data is read."""
    ks = check_cutoffs(list(cfg.eval.ks) if OmegaConf.is_list(cfg.eval.ks) else [cfg.eval.ks])
    _check_monitor(cfg, ks)
    return ks, check_export_k(cfg.eval.get("export_topk"))


def prepare_data(cfg: DictConfig) -> PreparedData:
    """Source -> processed (cached) sequences -> the protocol's split (and candidates) -> data module."""
    source = build(cfg.dataset.source)
    cache_dir = Path(cfg.paths.cache_dir) / "datasets" if cfg.dataset.get("cache", True) else None
    data, fingerprint = load_sequence_data(source, as_int(cfg.dataset.k_core, "dataset.k_core"), cache_dir)
    protocol = build_protocol(cfg, data, fingerprint)
    split = protocol.split
    max_len = as_int(cfg.dataset.max_len, "dataset.max_len")
    # A partial, so the split object passes as-is (instantiate would turn a dataclass into a config).
    datamodule = call_checked(
        build(cfg.datamodule, _partial_=True),
        split=split,
        max_len=max_len,
        mask_history=protocol.mask_history,
        candidates=protocol.candidates,
    )
    return PreparedData(data, fingerprint, split, max_len, datamodule, protocol)


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


def setup_model(cfg: DictConfig, prepared: PreparedData, ks: list[int]) -> SequentialRecommender:
    """The model of ``cfg.model`` with its data bound (popularity counts, item text) and an evaluator."""
    data = prepared.data
    model = build_model(cfg, data.num_items, prepared.max_len)
    if prepared.datamodule.train_set.new_targets is not None and not model.honours_new_targets:
        raise ConfigError(
            f"datamodule.window_stride (overlapping windows) needs a loss that trains on each window's new "
            f"targets only, which {type(model).__name__} does not have; set datamodule.window_stride=null"
        )
    counts = torch.from_numpy(prepared.split.train_item_counts()).float()
    model.bind_data(counts, check_item_text(data.item_text(), data.num_items, list(data.item_fields)))
    model.evaluator = RankingEvaluator(ks, counts, prepared.split.num_train_users)
    return model


def _callbacks(cfg: DictConfig) -> list[pl.Callback]:
    return [build(node) for node in (cfg.get("callbacks") or {}).values() if node is not None]


def _loggers(cfg: DictConfig) -> list[Any]:
    loggers = [build(node) for node in (cfg.get("logger") or {}).values() if node is not None]
    if loggers:
        log_config_at_start(loggers, OmegaConf.to_container(cfg, resolve=True))  # type: ignore[arg-type]
    return loggers


def _training_callbacks(cfg: DictConfig, stamp: dict[str, Any] | None) -> list[pl.Callback]:
    """The run's callbacks, its checkpoint stamp, and the memory plan of a batch of ``datamodule.batch_size``
    sequences of ``dataset.max_len`` items (logged where the model has an LLM backbone)."""
    batch = as_int(cfg.datamodule.batch_size, "datamodule.batch_size")
    plan = MemoryPlanLog(batch, as_int(cfg.dataset.max_len, "dataset.max_len"))
    return [*_callbacks(cfg), RunStamp(stamp), FitClock(), plan]


def build_trainer(
    cfg: DictConfig,
    output_dir: Path,
    stamp: dict[str, Any] | None,
    with_loggers: bool = True,
    loggers: list[Any] | None = None,
) -> pl.Trainer:
    """``cfg.trainer`` with the run's loggers (``loggers``, already built, or built here), and its
    callbacks and checkpoints when it trains (a ``stamp`` given), limited by the run's budget;
    ``with_loggers=False`` for a trainer that only re-evaluates a saved run."""
    budget = read_budget(cfg) if stamp is not None else None
    if with_loggers and loggers is None:
        loggers = _loggers(cfg)
    return build(
        cfg.trainer,
        callbacks=budget_callbacks(cfg, budget, _training_callbacks(cfg, stamp)) if budget else [],
        **(budget.trainer_limits() if budget else {}),
        **({"deterministic": True} if cfg.get("deterministic", False) else {}),
        logger=(loggers or False) if with_loggers else False,
        default_root_dir=str(output_dir),
        enable_checkpointing=stamp is not None,
    )


def _load_best(model: SequentialRecommender, trainer: pl.Trainer) -> str | None:
    checkpoint = trainer.checkpoint_callback
    path = getattr(checkpoint, "best_model_path", "") if checkpoint is not None else ""
    if not path:
        return None
    if Path(path).is_dir():  # DeepSpeed: a folder only its engine reads, into the model it trains
        trainer.strategy.load_model_state_dict(trainer.strategy.load_checkpoint(path, weights_only=True))
        return path
    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    model.load_state_dict(state)  # under FSDP every rank reads the full state dict rank zero wrote
    return path


def _check_monitor(cfg: DictConfig, ks: list[int]) -> None:
    monitor = str(cfg.eval.monitor)
    name = monitor.split("/", 1)[-1]
    cutoff = name.rsplit("_", 1)[-1]
    if not monitor.startswith("val/") or not cutoff.isdigit() or int(cutoff) not in ks:
        raise ConfigError(f"eval.monitor={monitor} is not a validation metric computed with eval.ks={ks}")


def assemble_results(
    cfg: DictConfig,
    prepared: PreparedData,
    model: SequentialRecommender,
    scores: Evaluation,
    timings: dict[str, Any],
    best: str | None,
) -> dict[str, Any]:
    """``results.json``: labels, metrics, per-user test ranks, timings, sizes, the checkpoint tested, the
    resolved config and the code version."""
    data = prepared.data
    protocol = prepared.protocol or build_protocol(cfg, data, prepared.fingerprint)
    return {
        "status": "ok",
        "model": str(cfg.model.get("name", cfg.model._target_.rsplit(".", 1)[-1])),
        "dataset": str(cfg.dataset.name),
        "seed": int(cfg.seed),
        "metrics": {"val": scores.val, "test": scores.test},
        "per_user": {"test": {"user": scores.users.tolist(), "rank": scores.ranks.tolist()}},
        "timings": timings,
        "parameters": model.parameter_counts(),
        "data": {
            "fingerprint": prepared.fingerprint,
            "users": data.num_users,
            "items": data.num_items,
            "interactions": data.num_interactions,
            **protocol.users_per_split(),
        },
        "protocol": protocol.params,
        "samples": samples_record(cfg),
        "best_checkpoint": best,
        "config": OmegaConf.to_container(cfg, resolve=True),
    }


def run(cfg: DictConfig, output_dir: Path) -> dict[str, Any]:
    """Fit and evaluate one model on one dataset; returns (and writes) the results."""
    started = time.perf_counter()
    version = code_version()  # the code that trains, even if the tree changes during a long run
    cfg.paths.output_dir = str(output_dir)
    check_seed(cfg.seed)
    check_trainer(cfg.trainer)
    check_strategy(cfg.trainer)  # FSDP/DeepSpeed without CUDA or the package: one line, before any data
    ks, export_k = check_eval(cfg)
    check_samples(cfg)  # refuses a model or data setting that is not the study's sample schema
    read_budget(cfg)  # refuses a bad budget before any data is read
    prepared = prepare_data(cfg)
    loggers = _loggers(cfg)  # one set for the run: a stage that trains (E4SRec's stage 2) logs there too
    # the model's earlier stages, declared in its config (E4SRec's SASRec, instruction tuning)
    run_model_stages(cfg, output_dir, prepared.split, prepared.fingerprint, run, loggers)
    model = setup_model(cfg, prepared, ks)

    data = prepared.data
    stamp = {"dataset": prepared.fingerprint, "model": str(cfg.model._target_), "num_items": data.num_items}
    stamp["split"] = training_split(protocol_settings(cfg))  # no later stage reuses another split's model
    resume_from = find_resume_checkpoint(cfg, output_dir, stamp) if model.requires_training else None
    trainer = build_trainer(cfg, output_dir, stamp if model.requires_training else None, loggers=loggers)
    check_callbacks_restored(resume_from, trainer)
    fit_start = time.perf_counter()
    if model.requires_training:
        trainer.fit(model, datamodule=prepared.datamodule, ckpt_path=resume_from, weights_only=True)
    fit = fit_time(trainer, time.perf_counter() - fit_start, resumed=resume_from is not None)
    best = _load_best(model, trainer) if model.requires_training else None

    scores = evaluate(model, trainer, prepared.datamodule, export_k)
    epochs = trainer.current_epoch if model.requires_training else 0
    timings = {**fit, "epochs": epochs, **eval_timings(scores)}
    timings["total_seconds"] = time.perf_counter() - started
    results = assemble_results(cfg, prepared, model, scores, timings, best) | {"code_version": version}
    results |= budget_results(cfg, trainer, model.requires_training)
    if trainer.is_global_zero:  # under DDP every rank gets here; rank zero writes the run's files
        if scores.top is not None:
            results["topk_export"] = write_topk(output_dir, *scores.top, data)
        adapters = save_adapters(model, output_dir / ADAPTERS_DIR)  # LoRA of the tested checkpoint
        if adapters:
            results["adapters"] = adapters
        write_results(output_dir, results)
    return results
