"""E4SRec's stages before its own training (Li et al., arXiv 2312.02443).

Stage 1: the item-ID embeddings come from a SASRec trained on the same dataset. ``model.id_embeddings``
names a SASRec run folder (its ``results.json`` / ``checkpoints/best.ckpt``) or a ``.ckpt``; when it is
null, the E4SRec run first trains one through the framework's normal path (validation-selected, full
ranking) into ``<run dir>/stage1_sasrec`` and records it in ``<run dir>/stage1.json`` and in the run's
config (``model.id_embeddings``). A finished stage-1 run in that folder is reused (resumed runs).

Stage 2 (optional, ``model.stage2.steps > 0``): instruction tuning of the backbone, see
:mod:`llmrec.models.e4srec.instruct`; the adapter goes to ``<run dir>/stage2_instruct``.
"""

from __future__ import annotations

import copy
import json
import logging
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf, open_dict
from torch import Tensor

from llmrec.errors import ConfigError
from llmrec.io import write_json_atomic

log = logging.getLogger(__name__)

SASREC_CONFIG = Path(__file__).resolve().parents[4] / "conf" / "model" / "sasrec.yaml"
ITEM_TABLE_KEY = "encoder.item_emb.weight"
STAGE1_DIR, STAGE2_DIR = "stage1_sasrec", "stage2_instruct"


def resolve_checkpoint(source: str) -> Path:
    """The SASRec checkpoint behind ``source``: a ``.ckpt`` file or a run folder."""
    path = Path(source).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        results = path / "results.json"
        best = json.loads(results.read_text()).get("best_checkpoint") if results.is_file() else None
        for candidate in (best, path / "checkpoints" / "best.ckpt"):
            if candidate and Path(candidate).is_file():
                return Path(candidate)
        raise ConfigError(
            f"model.id_embeddings={source} is a folder without a SASRec checkpoint (no results.json "
            "best_checkpoint, no checkpoints/best.ckpt): give a finished SASRec run folder or its .ckpt"
        )
    raise ConfigError(
        f"model.id_embeddings={source} does not exist: give a SASRec run folder or .ckpt, or null to "
        "train one first"
    )


def read_checkpoint(source: str) -> dict[str, Any]:
    path = resolve_checkpoint(source)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle, zip and weights-only errors all mean: not a usable checkpoint
        raise ConfigError(f"model.id_embeddings: {path} is not a loadable checkpoint ({error})") from None


def load_id_table(source: str, num_items: int) -> Tensor:
    """(N+1, d) item table of a SASRec checkpoint; another item count is one ConfigError."""
    state = read_checkpoint(source).get("state_dict", {})
    table = state.get(ITEM_TABLE_KEY)
    if table is None:
        raise ConfigError(
            f"model.id_embeddings={source} holds no SASRec item table ({ITEM_TABLE_KEY}): point it at a "
            "SASRec run (python -m llmrec model=sasrec ...)"
        )
    if table.shape[0] != num_items + 1:
        raise ConfigError(
            f"the SASRec checkpoint {resolve_checkpoint(source)} has {table.shape[0] - 1} items, this "
            f"dataset has {num_items}: it was trained on other data (or another k-core), so its item ids "
            "do not match; train SASRec on this dataset or set model.id_embeddings=null"
        )
    return table.detach().float().clone()


def check_same_dataset(source: str, fingerprint: str) -> None:
    """The checkpoint's dataset stamp must be this run's (same items, same id mapping)."""
    trained_on = read_checkpoint(source).get("llmrec", {}).get("dataset")
    if trained_on is not None and trained_on != fingerprint:
        raise ConfigError(
            f"the SASRec checkpoint {resolve_checkpoint(source)} was trained on dataset {trained_on}, this "
            f"run uses {fingerprint}: item ids would not match; train SASRec on this dataset or set "
            "model.id_embeddings=null"
        )


def sasrec_run_config(cfg: DictConfig) -> DictConfig:
    """The run's config with the model swapped for SASRec (hidden = ``model.id_dim``), its trainer
    updated by the non-null ``model.stage1.trainer`` values, and no loggers."""
    stage1 = cfg.model.get("stage1") or {}
    model = OmegaConf.merge(OmegaConf.load(SASREC_CONFIG), stage1.get("model") or {})
    model.hidden = int(cfg.model.id_dim)
    trainer = {k: v for k, v in (stage1.get("trainer") or {}).items() if v is not None}
    sub = copy.deepcopy(cfg)
    with open_dict(sub):
        sub.model = model
        sub.trainer = OmegaConf.merge(cfg.trainer, trainer)
        sub.logger = None
        sub.resume = False
    return sub


def _finished(run_dir: Path, fingerprint: str) -> str | None:
    results = run_dir / "results.json"
    if not results.is_file():
        return None
    best = json.loads(results.read_text()).get("best_checkpoint")
    if not best or not Path(best).is_file():
        return None
    check_same_dataset(best, fingerprint)
    return str(best)


def train_id_embeddings(cfg: DictConfig, output_dir: Path, fingerprint: str) -> str:
    """Stage 1: a SASRec run in ``<output_dir>/stage1_sasrec``; returns its best checkpoint."""
    from llmrec.run.pipeline import run

    run_dir = output_dir / STAGE1_DIR
    best = _finished(run_dir, fingerprint)
    if best is not None:
        log.info("E4SRec stage 1: reusing the SASRec in %s", best)
        return best
    log.info("E4SRec stage 1: training SASRec ID embeddings in %s", run_dir)
    results = run(sasrec_run_config(cfg), run_dir)
    if not results.get("best_checkpoint"):
        raise ConfigError("the stage-1 SASRec run saved no checkpoint; keep callbacks=default")
    write_json_atomic(
        output_dir / "stage1.json",
        {"id_embeddings": results["best_checkpoint"], "run_dir": str(run_dir), "metrics": results["metrics"]},
    )
    return str(results["best_checkpoint"])


def prepare_stages(cfg: DictConfig, output_dir: Path, split: Any, fingerprint: str) -> None:
    """Fill ``model.id_embeddings`` (stage 1) and, when asked, ``model.instruct_adapter`` (stage 2)."""
    if cfg.model.get("id_embeddings") is None:
        cfg.model.id_embeddings = train_id_embeddings(cfg, output_dir, fingerprint)
        log.info("E4SRec stage 1: ID embeddings from %s", cfg.model.id_embeddings)
    else:
        check_same_dataset(str(cfg.model.id_embeddings), fingerprint)
    stage2 = cfg.model.get("stage2") or {}
    if cfg.model.get("instruct_adapter") is None and int(stage2.get("steps") or 0) > 0:
        from llmrec.models.e4srec.instruct import instruction_tune_from_config

        cfg.model.instruct_adapter = instruction_tune_from_config(cfg, output_dir / STAGE2_DIR, split)
        log.info("E4SRec stage 2: instruction-tuned adapter in %s", cfg.model.instruct_adapter)
