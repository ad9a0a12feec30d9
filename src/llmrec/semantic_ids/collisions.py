"""TIGER's collision rule (Rajput et al., 2023, section 3.1): items that share a full code tuple get one more
level numbering them 0, 1, 2, ... in catalog order, so every item's semantic ID is unique.

The paper appends the extra code to colliding items; here it is always added (all zeros without
collisions), as public TIGER implementations do (e.g. RQ-VAE-Recommender's tokenizer), so a model's code
length does not depend on the catalog. Its size is the largest group.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from llmrec.errors import ConfigError


def rank_within_groups(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's rank among the earlier rows with the same tuple (N,), and each tuple's group size."""
    _, group, sizes = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    group = group.reshape(-1)
    order = np.argsort(group, kind="stable")  # rows by group, catalog order within a group
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    ranks = np.empty(len(group), dtype=np.int64)
    ranks[order] = np.arange(len(group)) - starts[group[order]]
    return ranks, sizes


def collision_stats(codes: np.ndarray) -> dict[str, Any]:
    _, sizes = rank_within_groups(codes)
    shared = sizes[sizes > 1]
    return {
        "items_sharing_codes": int(shared.sum()),
        "groups_with_collisions": len(shared),
        "largest_group": int(sizes.max()),
    }


def add_collision_level(
    codes: np.ndarray, level_sizes: tuple[int, ...]
) -> tuple[np.ndarray, tuple[int, ...]]:
    """``codes`` (N, C) with the collision level appended (N, C+1), and the level sizes with its size."""
    ranks, sizes = rank_within_groups(codes)
    return np.concatenate([codes, ranks[:, None]], axis=1), (*level_sizes, int(sizes.max()))


def require_unique(codes: np.ndarray, level_sizes: tuple[int, ...]) -> None:
    """A ConfigError when codes collide and the collision level is off (``dedup: false``)."""
    stats = collision_stats(codes)
    if stats["largest_group"] > 1:
        raise ConfigError(
            f"{stats['items_sharing_codes']} items share a semantic id (largest group "
            f"{stats['largest_group']}, level sizes {list(level_sizes)}) and semantic_ids.dedup is false: "
            "set semantic_ids.dedup=true (TIGER's extra level) or raise levels / codebook_size"
        )


def require_capacity(num_items: int, levels: int, codebook_size: int) -> None:
    """Fail before training when ``levels`` x ``codebook_size`` cannot give every item its own tuple."""
    if codebook_size**levels < num_items:
        raise ConfigError(
            f"{levels} levels of {codebook_size} codes give at most {codebook_size**levels} distinct ids for "
            f"{num_items} items and semantic_ids.dedup is false: raise semantic_ids.levels or "
            "semantic_ids.codebook_size, or set semantic_ids.dedup=true"
        )
