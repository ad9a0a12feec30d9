"""Embed a dataset's item texts into the embedding cache (the work behind ``python -m llmrec.embed``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig


def embed_dataset(cfg: DictConfig, template: str = "{text}") -> dict[str, Any]:
    """Load ``cfg.dataset`` (through its cache), embed its item texts with ``cfg.encoder``, cache them."""
    from llmrec.data.cache import load_sequence_data
    from llmrec.embeddings.cache import cached_embeddings

    source = instantiate(cfg.dataset.source)
    cache_root = Path(cfg.paths.cache_dir)
    data, fingerprint = load_sequence_data(source, int(cfg.dataset.k_core), cache_root / "datasets")
    started = time.perf_counter()
    vectors, entry = cached_embeddings(
        instantiate(cfg.encoder), data.item_text(), cache_root / "embeddings", template
    )
    seconds = time.perf_counter() - started
    return {
        "dataset": fingerprint,
        "items": vectors.shape[0],
        "dim": vectors.shape[1],
        "entry": entry,
        "s": seconds,
    }
