"""From item embeddings to unique semantic IDs and their statistics: a residual quantiser (RQ-VAE or
RQ-KMeans), then TIGER's collision level; no files, no encoder (the tokenizer adds those)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from llmrec.checks import positive_ints
from llmrec.errors import ConfigError, DataError
from llmrec.semantic_ids.codes import SemanticIds
from llmrec.semantic_ids.collisions import (
    add_collision_level,
    collision_stats,
    require_capacity,
    require_unique,
)
from llmrec.semantic_ids.rqkmeans import LearnedCodes, rq_kmeans
from llmrec.semantic_ids.rqvae import RqVaeSettings, train_rqvae
from llmrec.semantic_ids.stats import items_per_prefix, level_usage

METHODS = ("rqvae", "rqkmeans")


def check_settings(method: str, levels: int, codebook_size: int, seed: int) -> None:
    if method not in METHODS:
        raise ConfigError(f"semantic_ids.method must be one of {list(METHODS)}, got {method!r}")
    positive_ints("semantic_ids.", levels=levels, codebook_size=codebook_size)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"semantic_ids.seed must be an integer, got {seed!r}")


def quantize(
    points: np.ndarray, method: str, levels: int, codebook_size: int, seed: int, rqvae: RqVaeSettings
) -> LearnedCodes:
    if method == "rqvae":
        return train_rqvae(points, levels, codebook_size, seed, rqvae)
    return rq_kmeans(points, levels, codebook_size, seed, rqvae.kmeans_iterations)


def learn_semantic_ids(
    points: np.ndarray,
    method: str = "rqvae",
    levels: int = 3,
    codebook_size: int = 256,
    seed: int = 0,
    rqvae: RqVaeSettings | None = None,
    dedup: bool = True,
) -> tuple[SemanticIds, dict[str, Any]]:
    """Semantic IDs of the items whose embeddings are the rows of ``points`` (N, D), and their stats."""
    check_settings(method, levels, codebook_size, seed)
    if points.ndim != 2 or points.shape[0] == 0 or not np.isfinite(points).all():
        raise DataError(f"item embeddings must be a finite, non-empty (items, dim) array, got {points.shape}")
    if not dedup:
        require_capacity(points.shape[0], levels, codebook_size)
    settings = rqvae or RqVaeSettings()
    started = time.perf_counter()
    learned = quantize(points, method, levels, codebook_size, seed, settings)
    codes, level_sizes = learned.codes, learned.level_sizes
    collisions = collision_stats(codes)
    if dedup:
        codes, level_sizes = add_collision_level(codes, level_sizes)
    else:
        require_unique(codes, level_sizes)
    stats = {
        "method": method,
        "levels": levels,
        "codebook_size": codebook_size,
        "seed": seed,
        "dedup": dedup,
        "items": int(points.shape[0]),
        "level_sizes": list(level_sizes),
        "clipped_levels": [
            level + 1 for level, size in enumerate(learned.level_sizes) if size < codebook_size
        ],
        "usage": level_usage(codes, level_sizes),
        "items_per_prefix": items_per_prefix(codes),
        "collisions": collisions,
        "reconstruction": learned.reconstruction,
        "training": learned.training,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return SemanticIds(torch.from_numpy(codes.astype(np.int64)), tuple(level_sizes)), stats
