"""Residual k-means (RQ-KMeans): the training-free alternative to the RQ-VAE for semantic IDs.

Level 1 clusters the item embeddings; each later level clusters what the levels before it left unexplained
(the residual). An item's code at a level is its residual's nearest centroid. Used as the semantic-ID
tokenizer in e.g. OneRec (Deng et al., 2025) and as a baseline to TIGER's RQ-VAE (Rajput et al., 2023).
Departure: each level's k is clipped to the number of distinct residuals, so tiny catalogs work.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmrec.semantic_ids.kmeans import KMeansFit, fit_centroids, nearest


@dataclass
class LearnedCodes:
    """What a residual quantiser learned: codes (N, levels) int64 and each level's codebook size; the
    reconstruction errors and training record go into the artefact's stats."""

    codes: np.ndarray
    level_sizes: tuple[int, ...]
    reconstruction: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)


def unexplained(target: np.ndarray, estimate: np.ndarray) -> float:
    """Squared error of ``estimate`` as a fraction of ``target``'s variance (0 = exact, 1 = the mean)."""
    spread = float(((target - target.mean(axis=0)) ** 2).sum())
    error = float(((target - estimate) ** 2).sum())
    return error / spread if spread > 0 else float(error > 0)


def rq_kmeans(
    points: np.ndarray,
    levels: int,
    codebook_size: int,
    seed: int,
    iterations: int = 25,
    fit: KMeansFit | None = None,
) -> LearnedCodes:
    """Codes (N, levels) of ``points`` (N, D) by k-means on successive residuals, with the unexplained
    variance after each level."""
    residual = np.ascontiguousarray(points, dtype=np.float32)
    codes, sizes, per_level = [], [], []
    for level in range(levels):
        centroids = fit_centroids(residual, codebook_size, seed + level, iterations, fit)  # (k, D)
        labels = nearest(residual, centroids)
        residual = residual - centroids[labels]
        codes.append(labels)
        sizes.append(len(centroids))
        per_level.append(unexplained(points, points - residual))
    return LearnedCodes(
        codes=np.stack(codes, axis=1),
        level_sizes=tuple(sizes),
        reconstruction={"embedding_unexplained_per_level": per_level},
        training={"kmeans_iterations": iterations},
    )
