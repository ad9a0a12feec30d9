"""E4SRec's frozen item-ID table (Li et al., arXiv 2312.02443): the item embeddings of a SASRec trained on
the same dataset (stage 1). ``model.id_embeddings`` names a SASRec run folder (its ``results.json`` /
``checkpoints/best.ckpt``) or a ``.ckpt``; this module reads it and checks that it fits this run's data.
Training that SASRec when none is given is the runner's job (run/stages.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from llmrec.errors import ConfigError

ITEM_TABLE_KEY = "encoder.item_emb.weight"


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


def placeholder_id_table(num_items: int, id_dim: int) -> Tensor:
    """(N+1, d) random rows (fixed seed) for a model built without stage 1 (tests, direct use)."""
    generator = torch.Generator().manual_seed(0)
    table = torch.randn(num_items + 1, id_dim, generator=generator)
    table[0] = 0
    return table
