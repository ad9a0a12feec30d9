"""A model's earlier stages, declared in its config and run here before the model is built.

A model config lists them in ``stages``: names of its own nodes, run in that order. Each named node holds
``_target_`` (the stage: a function of this module, or any callable with the same signature), ``fills``
(the model key it sets) and the stage's settings. The runner calls ``stage(context, given, **settings)``
with the key's current value (``None`` unless the user gave one) and builds the model with the value it
returns; :func:`pop_stages` keeps the stage nodes out of the constructor's arguments. A config without
``stages`` runs none.

E4SRec (``conf/model/e4srec.yaml``, Li et al., arXiv 2312.02443) declares two:

- ``stage1`` fills ``id_embeddings`` with a checkpoint of a normal llmrec run (full ranking) of
  ``model.stage1.model`` (Hydra composes ``conf/model/sasrec.yaml`` there) in
  ``<run dir>/stage1_sasrec_s<seed>``, recorded in ``<run dir>/stage1.json``: its best on validation
  (``select: best``) or its last epoch, trained without early stopping (``select: last``). Each seed
  trains its own: a finished run in its seed's folder is reused (resumed runs), another seed's never. Its
  own sample schema (``samples``: null = the run's) and ``dataset.max_len`` (``max_len``) may differ
  from the run's. A checkpoint the user gives is checked against this run's dataset instead.
- ``stage2`` fills ``instruct_adapter`` when ``model.stage2.steps > 0``: instruction tuning of the backbone
  (:mod:`llmrec.models.e4srec.instruct`) into ``<run dir>/stage2_instruct``, by a Lightning Trainer built
  from the run's ``trainer`` (device, precision, gradient clipping, ...) with ``max_steps = steps``,
  logging ``stage2/loss`` to the run's loggers. A finished adapter is reused; a killed one starts again.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch
from hydra.utils import get_method
from omegaconf import DictConfig, OmegaConf, open_dict

from llmrec.data.split import LeaveOneOut
from llmrec.errors import ConfigError
from llmrec.io import write_json_atomic
from llmrec.models.e4srec.id_table import check_same_dataset, read_checkpoint, resolve_checkpoint
from llmrec.models.e4srec.instruct import MANIFEST, instruction_tune
from llmrec.models.e4srec.prompts import PREFIX, SUFFIX
from llmrec.run.budget import stage_budget
from llmrec.run.instantiate import as_int, build, call_checked
from llmrec.run.protocols import protocol_settings, training_split
from llmrec.run.samples import SCHEMAS

log = logging.getLogger(__name__)

STAGE_KEYS = ("_target_", "fills")
STAGE1_DIR, STAGE1_RECORD, STAGE2_DIR = "stage1_sasrec", "stage1.json", "stage2_instruct"
SELECTIONS = ("best", "last")
STAGE1_SCHEMAS = ("tiled", "prefixes", "last_n")  # schemas whose settings need no number of their own


@dataclass(frozen=True)
class StageContext:
    """What a stage sees of the run: its config, its folder, the data split and the dataset fingerprint,
    and the runner's own ``run(cfg, output_dir)`` for a stage that is a whole run."""

    cfg: DictConfig
    output_dir: Path
    split: LeaveOneOut
    fingerprint: str
    run: Callable[[DictConfig, Path], dict[str, Any]]
    loggers: Sequence[Any] = ()  # the run's loggers, for a stage that trains in this process


def declared_stages(model: Mapping[str, Any]) -> list[str]:
    """The names in ``model.stages``, each a node of ``model`` with a ``_target_`` and the key it fills."""
    names = model.get("stages") or []
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise ConfigError(f"model.stages must be a list of the model's stage nodes, got {names!r}")
    for name in names:
        node = model.get(name) if isinstance(name, str) else None
        fills = node.get("fills") if isinstance(node, Mapping) else None
        if not _is_stage_node(node):
            raise ConfigError(
                f"model.stages lists {name!r}: it must name a node of model with a _target_ (the stage) and "
                "fills (the model key the stage sets)"
            )
        if fills not in model:
            raise ConfigError(f"model.{name}.fills={fills} is not a key of model")
    return [str(name) for name in names]


def _is_stage_node(value: Any) -> bool:
    return isinstance(value, Mapping) and "_target_" in value and isinstance(value.get("fills"), str)


def pop_stages(node: dict[str, Any]) -> None:
    """Remove ``stages`` and every stage node from a model's constructor arguments.

    A stage node the user left out of ``stages`` (``model.stages=[]``) is removed too: it is still a stage,
    not a constructor argument."""
    declared_stages(node)  # a malformed list is reported here, before the model is built
    for name in [key for key, value in node.items() if _is_stage_node(value)]:
        del node[name]
    node.pop("stages", None)


def _stage_function(target: str, name: str) -> Callable[..., Any]:
    try:
        return get_method(target)
    except Exception:  # hydra wraps import and attribute errors alike
        raise ConfigError(f"model.{name}._target_={target} is not an importable function") from None


def run_model_stages(
    cfg: DictConfig,
    output_dir: Path,
    split: LeaveOneOut,
    fingerprint: str,
    run: Callable[[DictConfig, Path], dict[str, Any]],
    loggers: Sequence[Any] = (),
) -> None:
    """Run the stages ``cfg.model`` declares, in order, each setting the model key it fills."""
    context = StageContext(cfg, output_dir, split, fingerprint, run, loggers)
    for name in declared_stages(cfg.model):
        node = cfg.model[name]
        stage = _stage_function(str(node._target_), name)
        settings = {str(key): node[key] for key in node if key not in STAGE_KEYS}
        fills = str(node.fills)
        cfg.model[fills] = call_checked(functools.partial(stage, context, cfg.model[fills]), **settings)


def stage1_dir_name(cfg: DictConfig) -> str:
    """``stage1_sasrec_s<seed>``: the seed is part of the name, so each seed trains its own stage 1."""
    return f"{STAGE1_DIR}_s{cfg.get('seed')}"


def _with_samples(sub: DictConfig, schema: str) -> None:
    """Switch ``sub`` (a stage's config, its model resolved) to the sample schema ``schema``."""
    if schema not in STAGE1_SCHEMAS:
        raise ConfigError(
            f"model.stage1.samples={schema} is not a stage-1 sample schema: choose null (the run's) or one "
            f"of {', '.join(STAGE1_SCHEMAS)}"
        )
    windows, targets = SCHEMAS[schema]
    sub.samples = {"name": schema, "windows": windows, "targets": targets}
    if schema == "last_n":
        sub.samples.n = int(sub.dataset.max_len)
    sub.datamodule.train_windows = windows
    sub.datamodule.pop("last_targets", None)
    if "train_targets" in sub.model:
        sub.model.train_targets = targets


def stage_run_config(
    cfg: DictConfig,
    model: DictConfig,
    trainer: Mapping[str, Any],
    samples: str | None = None,
    max_len: int | None = None,
    select: str = "best",
) -> DictConfig:
    """The run's config with ``model`` (resolved where it sits) as its model, the run's trainer updated by
    the non-null values of ``trainer``, no loggers, no resume, and no learning-rate schedule: the run's
    schedule (``lr_scheduler=e4srec``, say) is sized for the later model, not for the stage; nor is a steps
    or examples budget (:func:`llmrec.run.budget.stage_budget`). ``samples`` and ``max_len`` (non-null)
    replace the run's sample schema and ``dataset.max_len``; ``select=last`` turns early stopping off."""
    if select not in SELECTIONS:
        raise ConfigError(f"model.stage1.select={select} must be one of {', '.join(SELECTIONS)}")
    sub = copy.deepcopy(cfg)
    with open_dict(sub):
        if max_len is not None:
            sub.dataset.max_len = as_int(max_len, "model.stage1.max_len")
        sub.model = OmegaConf.create(OmegaConf.to_container(model, resolve=True))
        if samples is not None:
            _with_samples(sub, str(samples))
        sub.trainer = OmegaConf.merge(cfg.trainer, {k: v for k, v in trainer.items() if v is not None})
        if select == "last" and sub.get("callbacks"):
            sub.callbacks.early_stopping = None  # every epoch of trainer.max_epochs, the last one kept
        sub.budget = stage_budget(sub)
        sub.logger = None
        sub.lr_scheduler = None
        sub.resume = False
    return sub


def _selected_checkpoint(best: str | None, select: str) -> str | None:
    """The run's best checkpoint, or the last one beside it (``select=last``)."""
    if not best:
        return None
    chosen = Path(best) if select == "best" else Path(best).parent / "last.ckpt"
    return str(chosen) if chosen.is_file() else None


def _finished_run(run_dir: Path, fingerprint: str, select: str) -> str | None:
    results = run_dir / "results.json"
    if not results.is_file():
        return None
    chosen = _selected_checkpoint(json.loads(results.read_text()).get("best_checkpoint"), select)
    if chosen is None:
        return None
    check_same_dataset(chosen, fingerprint)
    return chosen


def _check_same_split(source: str, cfg: DictConfig) -> None:
    """A given stage-1 checkpoint must come from this run's training split: one trained under loo has
    seen user_holdout's held-out users. A checkpoint from before protocols were recorded is loo."""
    expected = training_split(protocol_settings(cfg))
    trained_on = read_checkpoint(source).get("llmrec", {}).get("split", "loo")
    if trained_on != expected:
        raise ConfigError(
            f"the SASRec checkpoint {resolve_checkpoint(source)} was trained on the {trained_on} split, this "
            f"run trains on {expected}: its ID embeddings have seen users this run holds out; set "
            "model.id_embeddings=null to train stage 1 under this run's protocol"
        )


def sasrec_id_embeddings(
    context: StageContext,
    given: str | None,
    model: DictConfig,
    trainer: Mapping[str, Any],
    select: str = "best",
    samples: str | None = None,
    max_len: int | None = None,
) -> str:
    """E4SRec's stage 1: the ``select``ed (best on validation, or last) checkpoint of a run of ``model`` (a
    SASRec) in ``<run dir>/stage1_sasrec_s<seed>``, trained with the run's trainer updated by ``trainer``
    (and ``samples``, ``max_len`` as :func:`stage_run_config`); a ``given`` checkpoint must be of this
    dataset."""
    if given is not None:
        check_same_dataset(str(given), context.fingerprint)
        _check_same_split(str(given), context.cfg)
        return given
    sub = stage_run_config(context.cfg, model, trainer, samples, max_len, select)
    run_dir = context.output_dir / stage1_dir_name(context.cfg)
    chosen = _finished_run(run_dir, context.fingerprint, select)
    if chosen is not None:
        log.info("E4SRec stage 1: reusing the SASRec in %s", chosen)
        return chosen
    log.info("E4SRec stage 1: training SASRec ID embeddings in %s", run_dir)
    results = context.run(sub, run_dir)
    chosen = _selected_checkpoint(results.get("best_checkpoint"), select)
    if chosen is None:
        raise ConfigError("the stage-1 SASRec run saved no checkpoint; keep callbacks=default")
    record = {"id_embeddings": chosen, "run_dir": str(run_dir), "select": select, "seed": sub.get("seed")}
    write_json_atomic(context.output_dir / STAGE1_RECORD, record | {"metrics": results["metrics"]})
    log.info("E4SRec stage 1: ID embeddings from %s", chosen)
    return chosen


def stage_trainer(cfg: DictConfig, loggers: Sequence[Any], steps: int, root: Path) -> pl.Trainer:
    """The run's ``trainer`` (device, precision, gradient clipping, logging interval) for a stage of
    ``steps`` optimizer steps: no epoch or time limit of its own, no callbacks or checkpoints, the run's
    ``loggers``."""
    return build(
        cfg.trainer,
        max_steps=steps,
        max_epochs=-1,
        max_time=None,
        callbacks=[],
        logger=list(loggers) or False,
        enable_checkpointing=False,
        default_root_dir=str(root),
        use_distributed_sampler=False,  # the stage draws its own random batches
        **({"deterministic": True} if cfg.get("deterministic", False) else {}),
    )


def instruction_tuned_adapter(
    context: StageContext, given: str | None, steps: int, batch_size: int, lr: float, max_history: int
) -> str | None:
    """E4SRec's stage 2, when ``steps > 0`` and no adapter is given: the run's backbone tuned on
    instructions from its training windows and item titles by :func:`stage_trainer`, as an adapter in
    ``<run dir>/stage2_instruct``."""
    if given is not None or int(steps or 0) <= 0:
        return given
    out_dir = context.output_dir / STAGE2_DIR
    if (out_dir / MANIFEST).is_file():
        log.info("E4SRec stage 2: reusing the adapter in %s", out_dir)
        return str(out_dir)
    cfg = context.cfg
    windows, _ = context.split.train_windows(int(cfg.dataset.max_len))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    words = [str(cfg.model.get("prompt_prefix", PREFIX)), str(cfg.model.get("prompt_suffix", SUFFIX))]
    manifest = instruction_tune(
        build(cfg.model.llm),
        torch.from_numpy(windows),
        context.split.data.item_text(),
        out_dir,
        words,
        steps=int(steps),
        batch_size=int(batch_size),
        lr=float(lr),
        max_history=int(max_history),
        trainer=stage_trainer(cfg, context.loggers, int(steps), context.output_dir),
    )
    log.info("E4SRec stage 2: loss %.3f -> %.3f", manifest["first_loss"], manifest["last_loss"])
    log.info("E4SRec stage 2: instruction-tuned adapter in %s", out_dir)
    return str(out_dir)
