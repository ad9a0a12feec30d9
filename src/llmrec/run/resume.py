"""Resuming an interrupted run from ``<output dir>/checkpoints/last.ckpt``.

Resume needs a stable output folder: give ``hydra.run.dir=<folder>`` on the first run and again with
``resume=true``. Only that run's own ``last.ckpt`` is ever loaded, always with ``weights_only=True``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from llmrec.errors import ConfigError

log = logging.getLogger(__name__)

LAST = "last.ckpt"


def checkpoint_dir(cfg: Any, output_dir: Path) -> Path:
    node = (cfg.get("callbacks") or {}).get("model_checkpoint")
    return Path(node.dirpath) if node is not None and node.get("dirpath") else output_dir / "checkpoints"


def checkpoint_file(path: Path) -> Path:
    """The file holding a checkpoint's Lightning state: the checkpoint itself, or in a DeepSpeed checkpoint
    folder (``trainer=deepspeed_zero*``) the model-states file that carries it as client state."""
    if not path.is_dir():
        return path
    files = sorted(path.glob("checkpoint/*model_states.pt"))
    if not files:
        raise ConfigError(f"{path} is a folder but not a DeepSpeed checkpoint; delete it to restart the run")
    return files[0]


def furthest_last(folder: Path) -> Path:
    """``last.ckpt``, or, where Lightning also wrote versioned ones (``last-v1.ckpt``: a resume that lost its
    checkpoint callback's state, possible from 2026-12-05 to 12-06), the one furthest into training."""
    found = [path for path in folder.glob("last*.ckpt") if re.fullmatch(r"last(-v\d+)?\.ckpt", path.name)]
    if len(found) <= 1:
        return folder / LAST
    return max(sorted(found), key=lambda path: int(_load(path).get("global_step", -1)))


def read_stamp(path: Path) -> dict[str, Any]:
    return _load(path).get("llmrec") or {}


def check_callbacks_restored(path: str | None, trainer: pl.Trainer) -> None:
    """Refuse a resume that would drop a callback's saved state, which Lightning only warns about: the best
    checkpoint's tracking or early stopping's patience would start afresh and select another epoch."""
    if path is None:
        return
    saved = _load(Path(path)).get("callbacks") or {}
    restorable = {
        key for callback in trainer.callbacks for key in (callback.state_key, callback._legacy_state_key)
    }
    lost = sorted(key for key in set(saved) - restorable if saved[key])  # an empty state loses nothing
    if lost:
        raise ConfigError(
            f"{path} holds the state of callbacks this run does not have: {lost}; resume with the callbacks "
            f"the run was started with, or start over in another hydra.run.dir"
        )


def _load(path: Path) -> dict[str, Any]:
    file = checkpoint_file(path)
    try:
        checkpoint = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated or foreign file: any unpickling error means "unusable"
        raise ConfigError(
            f"{path} cannot be read ({type(error).__name__}); delete it to restart the run from scratch"
        ) from None
    if not isinstance(checkpoint, dict) or not {"state_dict", "module"} & set(
        checkpoint
    ):  # DeepSpeed: module
        raise ConfigError(f"{path} is not a llmrec checkpoint; delete it or use another hydra.run.dir")
    return checkpoint


def find_resume_checkpoint(cfg: Any, output_dir: Path, stamp: dict[str, Any]) -> str | None:
    """The checkpoint to resume from, or None for a fresh start. Refuses to overwrite an earlier run's
    checkpoints without ``resume=true`` and to resume from a checkpoint of another dataset or model."""
    if cfg.get("resume", False) and (output_dir / "results.json").is_file():
        raise ConfigError(
            f"the run in {output_dir} already finished (results.json); nothing to resume. Choose another "
            f"hydra.run.dir for a new run"
        )
    folder = checkpoint_dir(cfg, output_dir)
    path = folder / LAST
    if not path.exists():  # a file, or a folder under DeepSpeed
        if cfg.get("resume", False):
            log.warning("resume=true but %s does not exist: starting from scratch", path)
        return None
    if not cfg.get("resume", False):
        raise ConfigError(
            f"{path} exists from an earlier run in this folder; add resume=true to continue it, or choose "
            f"another hydra.run.dir"
        )
    path = furthest_last(folder)
    found = read_stamp(path)
    diff = {k: (found.get(k), v) for k, v in stamp.items() if found.get(k) != v}
    if diff:
        detail = "; ".join(f"{k}: checkpoint {a!r} vs this run {b!r}" for k, (a, b) in diff.items())
        raise ConfigError(
            f"{path} was written by another run ({detail}); resume with the same dataset and model, or "
            f"choose another hydra.run.dir"
        )
    log.info("resuming from %s", path)
    return str(path)
