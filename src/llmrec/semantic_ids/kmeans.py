"""k-means for item tokenizers: faiss when importable, a torch fallback with the same interface.

Both take float32 points (N, D), a number of clusters and a seed, and return the centroids (k, D); the same
inputs give the same centroids. ``k`` is clipped to the number of distinct points, so a catalog of 20 items
still gets codes from a 256-code level (the clipping is the caller's to report, see :func:`clipped_k`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from llmrec.errors import ConfigError

KMeansFit = Callable[[np.ndarray, int, int, int], np.ndarray]


def distinct_rows(points: np.ndarray) -> int:
    return int(np.unique(points, axis=0).shape[0])


def clipped_k(points: np.ndarray, k: int) -> int:
    """``k`` clusters, or fewer where the points have fewer distinct rows (at least one)."""
    return max(1, min(k, distinct_rows(points)))


def nearest(points: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Index of the closest centroid of each point (squared Euclidean distance), (N,) int64."""
    distances = torch.cdist(torch.from_numpy(points), torch.from_numpy(centroids))  # (N, k)
    return distances.argmin(dim=1).numpy().astype(np.int64)


def faiss_kmeans(points: np.ndarray, k: int, seed: int, iterations: int) -> np.ndarray:
    import faiss

    dim = points.shape[1]
    kmeans = faiss.Kmeans(dim, k, niter=iterations, seed=seed, verbose=False)
    # every point takes part (no subsampling) and no warning for small catalogs: k is already clipped
    kmeans.cp.max_points_per_centroid = max(1, -(-points.shape[0] // k))
    kmeans.cp.min_points_per_centroid = 1
    kmeans.train(np.ascontiguousarray(points, dtype=np.float32))
    return np.asarray(kmeans.centroids, dtype=np.float32).reshape(k, dim)


def torch_kmeans(points: np.ndarray, k: int, seed: int, iterations: int) -> np.ndarray:
    """Lloyd's algorithm from ``k`` distinct points drawn by ``seed``; an empty cluster takes the point
    farthest from its centroid."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32))
    distinct = torch.unique(x, dim=0)  # (U, D)
    centroids = distinct[torch.randperm(distinct.shape[0], generator=generator)[:k]].clone()  # (k, D)
    for _ in range(iterations):
        distances = torch.cdist(x, centroids)  # (N, k)
        labels = distances.argmin(dim=1)
        counts = torch.bincount(labels, minlength=k)
        sums = torch.zeros_like(centroids).index_add_(0, labels, x)
        updated = sums / counts.clamp(min=1).unsqueeze(1).to(x.dtype)
        closest = distances.gather(1, labels.unsqueeze(1)).squeeze(1)  # (N,)
        for empty in torch.nonzero(counts == 0).flatten().tolist():
            farthest = int(closest.argmax())
            updated[empty], closest[farthest] = x[farthest], 0.0
        if torch.equal(updated, centroids):
            break
        centroids = updated
    return centroids.numpy()


def default_kmeans() -> KMeansFit:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return torch_kmeans
    return faiss_kmeans


def fit_centroids(
    points: np.ndarray, k: int, seed: int, iterations: int = 25, fit: KMeansFit | None = None
) -> np.ndarray:
    """Centroids (min(k, distinct points), D) of ``points`` (N, D)."""
    if points.ndim != 2 or points.shape[0] == 0:
        raise ConfigError(f"k-means needs a non-empty (points, dim) array, got shape {points.shape}")
    fit = fit or default_kmeans()
    return fit(np.ascontiguousarray(points, dtype=np.float32), clipped_k(points, k), seed, iterations)
