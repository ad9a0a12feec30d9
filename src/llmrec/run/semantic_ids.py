"""Learn a dataset's semantic IDs into the cache (the work behind ``python -m llmrec.semantic_ids build``)."""

from __future__ import annotations

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig

from llmrec.semantic_ids.tokenizer import Tokenized


def build_semantic_ids(cfg: DictConfig) -> tuple[str, Tokenized]:
    """Load ``cfg.dataset`` (through its cache) and tokenize its items with ``cfg.semantic_ids``; the dataset
    fingerprint and the result (ids, stats, artefact folder)."""
    from llmrec.data.cache import load_sequence_data

    source = instantiate(cfg.dataset.source)
    cache_dir = Path(cfg.paths.cache_dir) / "datasets" if cfg.dataset.get("cache", True) else None
    data, fingerprint = load_sequence_data(source, int(cfg.dataset.k_core), cache_dir)
    tokenizer = instantiate(cfg.semantic_ids)
    return fingerprint, tokenizer.tokenize(data.item_text())
